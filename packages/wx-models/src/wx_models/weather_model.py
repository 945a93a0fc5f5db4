"""The forecaster that training and inference share: physical units in, physical units out.

``model(x)`` takes ``[batch, input_steps, cell, input_variable]`` in physical units and returns
the next time step ``[batch, cell, output_variable]``:

1. inputs are normalised per variable and the steps stacked per cell,
   ``[batch, cell, input_steps * input_variable]`` (step-major: all variables of the oldest
   step first); the network adds the cell's sin/cos latitude and longitude;
2. the :class:`~wx_models.encode_process_decode.EncoderProcessorDecoder` maps them to one raw
   value per output variable;
3. a full-state output is ``raw * scale + offset`` with its state statistics; a residual output
   is ``x_last + raw * tendency_stdev + tendency_mean`` (GraphCast's residual prediction);
4. bounds are applied (:mod:`wx_models.bounding`).

All constructor arguments but the graph and the grid coordinates are plain JSON values, kept in
:attr:`WeatherModel.arguments` so that a checkpoint can rebuild the model.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch_geometric.data import HeteroData

from wx_models.bounding import OutputBounding
from wx_models.cell_stencil import (
    STENCIL_PRIORS,
    STENCIL_RIDGE,
    CellStencil,
    CellStencilError,
    NormalEquations,
)
from wx_models.climatology import (
    ANGLE_FORCINGS,
    ANNUAL_HARMONICS,
    ClimatologyError,
    HarmonicClimatology,
)
from wx_models.encode_process_decode import EncoderProcessorDecoder, check_trainable_features
from wx_models.graph import GRID, check_graph
from wx_models.normalisation import Normaliser, check_kind, tendency_affine
from wx_models.rollout import advance_history
from wx_models.variables import VariableError, VariableLayout, variable_pairs
from wx_utils.dates import parse_frequency


class WeatherModel(nn.Module):
    """Normalisation, input assembly, network, residual/full outputs and bounds, in one module."""

    def __init__(
        self,
        *,
        graph: HeteroData,
        variables: Mapping[str, str] | Sequence[Sequence[str]],
        statistics: Mapping[str, Mapping[str, float]],
        input_steps: int = 1,
        time_step: str = "6h",
        normaliser: str | Mapping[str, str] = "mean-std",
        residual: Sequence[str] | None = None,
        bounding: Sequence[Mapping[str, Any]] = (),
        family: Literal["gnn", "transformer"] = "gnn",
        latent_size: int = 128,
        processor_layers: int = 4,
        mlp_hidden_size: int = 128,
        heads: int = 4,
        edge_chunks: int = 1,
        activation_checkpointing: bool = False,
        trainable_features: Mapping[str, int] | None = None,
        cell_readout: bool = False,
        cell_stencil: int = 0,
        cell_stencil_basis: bool = False,
        climatology: Sequence[str] = (),
        climatology_harmonics: int = ANNUAL_HARMONICS,
        withheld_forcings: Sequence[str] = (),
        latitudes: np.ndarray | torch.Tensor | None = None,
        longitudes: np.ndarray | torch.Tensor | None = None,
        grid_shape: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        check_graph(graph)
        if not isinstance(input_steps, int) or input_steps < 1:
            raise ValueError(f"input_steps {input_steps!r}: expected an integer >= 1")
        if not isinstance(time_step, str):
            raise ValueError(f"time_step {time_step!r}: expected a string such as '6h'")
        self.frequency = parse_frequency(time_step)
        self.layout = VariableLayout.from_roles(variables)
        kinds = self._normaliser_kinds(normaliser)
        residual_names = self._residual_names(residual)
        stats = {name: dict(values) for name, values in statistics.items()}
        self.input_steps = input_steps
        self.time_step = str(time_step)
        self.num_cells = int(graph[GRID].x.shape[0])
        self.arguments: dict[str, Any] = copy.deepcopy(
            {
                "variables": variable_pairs(variables),
                "statistics": {name: stats[name] for name in self.layout.roles() if name in stats},
                "input_steps": input_steps,
                "time_step": self.time_step,
                "normaliser": kinds,
                "residual": residual_names,
                "bounding": [dict(rule) for rule in bounding],
                "family": family,
                "latent_size": latent_size,
                "processor_layers": processor_layers,
                "mlp_hidden_size": mlp_hidden_size,
                "heads": heads,
                "edge_chunks": edge_chunks,
                "activation_checkpointing": activation_checkpointing,
                "trainable_features": check_trainable_features(trainable_features),
                "cell_readout": cell_readout,
                "cell_stencil": cell_stencil,
                "cell_stencil_basis": cell_stencil_basis,
                "climatology": list(climatology),
                "climatology_harmonics": climatology_harmonics,
                "withheld_forcings": list(withheld_forcings),
                "grid_shape": None if grid_shape is None else [int(n) for n in grid_shape],
            }
        )
        self._check_grid_shape(grid_shape)
        inputs, outputs = self.input_variables, self.output_variables
        self.input_normaliser = Normaliser.for_states(inputs, kinds, stats)
        self.output_normaliser = Normaliser.for_states(outputs, kinds, stats)
        self._register_output_transform(outputs, kinds, stats, residual_names)
        self.bounding = OutputBounding(rules=bounding, outputs=outputs, residual=residual_names)
        self.climatology = self._climatology(climatology, stats, climatology_harmonics)
        extra = 0 if self.climatology is None else 2 * len(self.climatology.variables)
        columns = self._network_columns(withheld_forcings)
        self.stencil_basis = self._check_stencil_basis(cell_stencil_basis, cell_stencil)
        self.network = EncoderProcessorDecoder(
            graph=graph,
            input_size=input_steps * len(columns) + extra,
            output_size=len(outputs),
            family=family,
            latent_size=latent_size,
            processor_layers=processor_layers,
            mlp_hidden_size=mlp_hidden_size,
            heads=heads,
            edge_chunks=edge_chunks,
            activation_checkpointing=activation_checkpointing,
            trainable_features=trainable_features,
            cell_readout=cell_readout,
            cell_stencil=cell_stencil,
            # the prognostic variables at every input step (step-major columns)
            stencil_channels=[
                step * len(columns) + i
                for step in range(input_steps)
                for i in range(len(self.layout.prognostic))
            ],
            stencil_extra=self.climatology.terms - 1 if self.stencil_basis else 0,
        )
        self._register_grid(graph, latitudes, longitudes)
        self.graph_tensors = graph_tensors(graph)

    # -- construction helpers -------------------------------------------------------------
    def _network_columns(self, withheld: Sequence[str]) -> list[int]:
        """The input columns the network sees: all but the ``withheld`` forcings (which the
        climatology may still read). Prognostic variables come first, so their columns stay."""
        if isinstance(withheld, str):
            raise VariableError("withheld_forcings: expected a list of forcing names")
        unknown = [name for name in withheld if name not in self.layout.forcing]
        if unknown:
            raise VariableError(
                f"withheld_forcings: {unknown} are not forcings of the model (forcings: "
                f"{list(self.layout.forcing)})"
            )
        columns = [i for i, name in enumerate(self.input_variables) if name not in set(withheld)]
        self.register_buffer("network_columns", torch.as_tensor(columns), persistent=False)
        self.withheld_forcings = list(withheld)
        return columns

    def _check_stencil_basis(self, basis: object, cell_stencil: int) -> bool:
        """``cell_stencil_basis`` as a bool; it needs a stencil and a climatology (whose angle
        forcings and harmonic basis it reads)."""
        if not isinstance(basis, bool):
            raise ValueError(f"cell_stencil_basis {basis!r}: expected true or false")
        if basis and (not cell_stencil or self.climatology is None):
            raise ClimatologyError(
                "cell_stencil_basis: expected a cell_stencil and a climatology (the basis is "
                "the climatology's harmonic terms at the valid time)"
            )
        return basis

    def _normaliser_kinds(self, normaliser: str | Mapping[str, str]) -> dict[str, str]:
        names = self.layout.roles()
        if isinstance(normaliser, str):
            return {name: check_kind(name, normaliser) for name in names}
        unknown = sorted(set(normaliser) - set(names))
        if unknown:
            raise VariableError(f"normaliser: {unknown} are not model variables")
        return {name: check_kind(name, normaliser.get(name, "mean-std")) for name in names}

    def _residual_names(self, residual: Sequence[str] | None) -> list[str]:
        if residual is None:
            return list(self.layout.prognostic)
        if isinstance(residual, str):
            raise VariableError("residual: expected a list of prognostic variable names")
        for name in residual:
            if name not in self.layout.prognostic:
                raise VariableError(
                    f"residual: {name!r} is not a prognostic variable (only prognostic "
                    "outputs can be predicted as a tendency)"
                )
        return [name for name in self.layout.prognostic if name in set(residual)]

    def _climatology(
        self, names: Sequence[str], stats: Mapping[str, Mapping[str, float]], harmonics: int
    ) -> HarmonicClimatology | None:
        """The harmonic climatology input of prognostic ``names`` (None without any)."""
        if isinstance(names, str):
            raise ClimatologyError("climatology: expected a list of prognostic variable names")
        if not names:
            return None
        for name in names:
            if name not in self.layout.prognostic:
                raise ClimatologyError(f"climatology: {name!r} is not a prognostic variable")
        missing = [name for name in ANGLE_FORCINGS if name not in self.layout.forcing]
        if missing:
            raise ClimatologyError(
                f"climatology: needs the forcings {missing} among the model's forcings (it "
                "reads the time of year and the local time from them)"
            )
        inputs = self.input_variables
        # normalised like the variables themselves, with their state mean and stdev
        indices = [inputs.index(name) for name in names]
        offset = self.input_normaliser.offset[indices].repeat(2)  # [2 * variable]
        scale = self.input_normaliser.scale[indices].repeat(2)
        self.register_buffer("climatology_offset", offset.clone(), persistent=False)
        self.register_buffer("climatology_scale", scale.clone(), persistent=False)
        return HarmonicClimatology(
            variables=names,
            num_cells=self.num_cells,
            angle_columns=[inputs.index(name) for name in ANGLE_FORCINGS],
            step_seconds=self.frequency.total_seconds(),
            annual_harmonics=harmonics,
        )

    def _check_grid_shape(self, grid_shape: Sequence[int] | None) -> None:
        if grid_shape is not None and int(np.prod(grid_shape)) != self.num_cells:
            raise ValueError(
                f"grid_shape {list(grid_shape)} holds {int(np.prod(grid_shape))} cells, the "
                f"graph's node set {GRID!r} has {self.num_cells}"
            )

    def _register_output_transform(self, outputs, kinds, stats, residual_names) -> None:
        offset, scale = [], []
        residual_index, residual_mask = [], []
        for name in outputs:
            if name in residual_names:
                pair = tendency_affine(name, kinds[name], stats)
            else:
                i = outputs.index(name)
                pair = (
                    float(self.output_normaliser.offset[i]),
                    float(self.output_normaliser.scale[i]),
                )
            offset.append(pair[0])
            scale.append(pair[1])
            is_residual = name in residual_names
            residual_index.append(self.input_variables.index(name) if is_residual else 0)
            residual_mask.append(is_residual)
        self.register_buffer("output_offset", torch.tensor(offset))  # [output_variable]
        self.register_buffer("output_scale", torch.tensor(scale))  # [output_variable]
        self.register_buffer("residual_index", torch.tensor(residual_index), persistent=False)
        self.register_buffer("residual_mask", torch.tensor(residual_mask), persistent=False)

    def _register_grid(self, graph, latitudes, longitudes) -> None:
        positions = graph[GRID].x.double()  # [cell, 2] radians
        from_graph = torch.rad2deg(positions)
        given = {"latitudes": latitudes, "longitudes": longitudes}
        for column, (name, values) in enumerate(given.items()):
            if values is None:
                values = from_graph[:, column]
            values = torch.as_tensor(np.asarray(values), dtype=torch.float64)
            if values.shape != (self.num_cells,):
                raise ValueError(
                    f"{name}: expected [{self.num_cells}] degrees, got {tuple(values.shape)}"
                )
            offset = torch.remainder(values - from_graph[:, column] + 180, 360) - 180
            if column == 1:  # a longitude gap means nothing at the poles
                offset = offset * positions[:, 0].cos()
            if offset.abs().max() > 1e-3:
                raise ValueError(
                    f"{name} differ from the graph's {GRID!r} node positions by up to "
                    f"{float(offset.abs().max()):.4g} degrees: the graph was built for another grid"
                )
            self.register_buffer(f"grid_{name}", values, persistent=False)  # [cell] degrees

    # -- variables --------------------------------------------------------------------------
    @property
    def input_variables(self) -> list[str]:
        """Input order: prognostic + forcing + constant."""
        return self.layout.input_variables

    @property
    def output_variables(self) -> list[str]:
        """Output order: prognostic + diagnostic."""
        return self.layout.output_variables

    @property
    def prognostic_variables(self) -> list[str]:
        return list(self.layout.prognostic)

    @property
    def forcing_variables(self) -> list[str]:
        return list(self.layout.forcing)

    @property
    def constant_variables(self) -> list[str]:
        return list(self.layout.constant)

    @property
    def diagnostic_variables(self) -> list[str]:
        return list(self.layout.diagnostic)

    @property
    def latitudes(self) -> torch.Tensor:
        """Grid latitudes ``[cell]`` in degrees (float64)."""
        return self.grid_latitudes

    @property
    def longitudes(self) -> torch.Tensor:
        """Grid longitudes ``[cell]`` in degrees (float64)."""
        return self.grid_longitudes

    # -- computation ------------------------------------------------------------------------
    def check_inputs(self, x: torch.Tensor) -> None:
        expected = (self.input_steps, self.num_cells, len(self.input_variables))
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                "model input: expected [batch, input_steps, cell, input_variable] = "
                f"[batch, {', '.join(map(str, expected))}], got {list(x.shape)}"
            )

    def normalise_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs ``[..., input_variable]`` in normalised units."""
        return self.input_normaliser.normalise(x)

    def normalise_outputs(self, y: torch.Tensor) -> torch.Tensor:
        """Outputs or targets ``[..., output_variable]`` scaled by their state statistics."""
        return self.output_normaliser.normalise(y)

    def denormalise_outputs(self, y: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`normalise_outputs`."""
        return self.output_normaliser.denormalise(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Next step ``[batch, cell, output_variable]`` from ``[batch, input_steps, cell, input_variable]``."""
        raw = self.network(self.network_inputs(x)).float()  # [batch, cell, output_variable]
        last = x[:, -1].index_select(-1, self.residual_index)  # [batch, cell, output_variable]
        outputs = raw * self.output_scale + self.output_offset
        outputs = torch.where(self.residual_mask, outputs + last, outputs)
        return self.bounding(outputs, raw)

    def raw_targets(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The network output ``[batch, cell, output_variable]`` that gives the next step ``y``
        from ``x`` (before bounds): the inverse of the output transform."""
        last = x[:, -1].index_select(-1, self.residual_index)  # [batch, cell, output_variable]
        return (
            y - torch.where(self.residual_mask, last, 0.0) - self.output_offset
        ) / self.output_scale

    @torch.no_grad()
    def fit_cell_stencil(
        self,
        samples: Iterable[tuple[torch.Tensor, torch.Tensor]],
        *,
        ridge: float = STENCIL_RIDGE,
        prior: str = "mean",
    ) -> int:
        """Start the model as each cell's ridge regression (:mod:`wx_models.cell_stencil`).

        ``samples`` yields inputs ``x`` ``[batch, input_steps, cell, input_variable]`` and next
        states ``y`` ``[batch, cell, output_variable]``. The stencil is fitted and the shared
        output layer (and the cell readout) set to zero, so the model's output is the
        regression's until training moves them. With ``prior``
        ``"mean"`` the ridge shrinks a residual output's forecast towards the cell's mean state
        (the next state is regressed), with ``"persistence"`` towards the last state (the
        tendency is regressed). Returns the number of samples used.
        """
        stencil = self.network.cell_stencil
        if stencil is None:
            raise CellStencilError("fit_cell_stencil: the model has no cell_stencil")
        if prior not in STENCIL_PRIORS:
            raise CellStencilError(
                f"cell_stencil prior {prior!r}: expected one of {', '.join(STENCIL_PRIORS)}"
            )
        state = prior == "mean"
        equations = NormalEquations()
        for x, y in samples:
            self.check_inputs(x)
            features = stencil.features(self.network_inputs(x))  # [batch, cell, feature]
            targets = self.raw_targets(x, y)  # [batch, cell, output_variable]
            if state:  # the next state in the same units
                last = x[:, -1].index_select(-1, self.residual_index)
                targets = targets + torch.where(self.residual_mask, last, 0.0) / self.output_scale
            equations.add(features, targets)
        stencil.fit(equations, ridge=ridge)
        if state:
            self._subtract_last_state(stencil)
        head = self.network.output_head.output
        head.weight.zero_()
        head.bias.zero_()
        if self.network.cell_readout is not None:
            self.network.cell_readout.zero_()
        return equations.count

    def _subtract_last_state(self, stencil: CellStencil) -> None:
        """Take each residual output's last input state (in output units) off the stencil's map:
        it is the cell's own last-step input, ``feature * input_scale + input_offset``."""
        columns = self.network_columns.tolist()
        last_step = (self.input_steps - 1) * len(columns)
        for output, (index, residual) in enumerate(
            zip(self.residual_index.tolist(), self.residual_mask.tolist(), strict=True)
        ):
            if not residual:
                continue
            feature = stencil.own_feature(last_step + columns.index(index))
            scale = float(self.output_scale[output])
            stencil.weight[:, feature, output] -= float(self.input_normaliser.scale[index]) / scale
            stencil.bias[:, output] -= float(self.input_normaliser.offset[index]) / scale

    def network_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """The network's inputs ``[batch, cell, input]`` from ``[batch, input_steps, cell,
        input_variable]``: normalised steps (less the withheld forcings), then the climatology
        if the model has one, then (``cell_stencil_basis``) the climatology's harmonic basis at
        the valid time, which only the cell stencil reads."""
        self.check_inputs(x)
        batch = x.shape[0]
        normalised = self.input_normaliser.normalise(
            x
        )  # [batch, input_steps, cell, input_variable]
        if self.withheld_forcings:
            # [batch, input_steps, cell, input_variable] -> [..., seen_variable]
            normalised = normalised.index_select(-1, self.network_columns)
        stacked = normalised.permute(0, 2, 1, 3).reshape(
            batch, self.num_cells, -1
        )  # [batch, cell, input_steps * input_variable]
        if self.climatology is not None:
            # the shard's own cells (all of them unsharded)
            climate = self.climatology(x[:, -1], self.network.graph.grid_ids)
            climate = (climate - self.climatology_offset) / self.climatology_scale
            stacked = torch.cat([stacked, climate.to(stacked.dtype)], dim=-1)
        if self.stencil_basis:  # read by the cell stencil alone
            basis = self.climatology.later_basis(x[:, -1])  # [batch, cell, term - 1]
            stacked = torch.cat([stacked, basis.to(stacked.dtype)], dim=-1)
        return stacked

    def advance_history(
        self, history: torch.Tensor, prediction: torch.Tensor, forcings: torch.Tensor | None
    ) -> torch.Tensor:
        """:func:`wx_models.advance_history` with this model's number of prognostic variables."""
        return advance_history(
            history, prediction, forcings, num_prognostic=len(self.layout.prognostic)
        )


def graph_tensors(graph: HeteroData) -> dict[str, torch.Tensor]:
    """Every tensor of ``graph`` under ``nodes/<set>/<field>`` and ``edges/<src>__<dst>/<field>``."""
    tensors = {}
    for name in graph.node_types:
        for field, value in graph[name].items():
            if isinstance(value, torch.Tensor):
                tensors[f"nodes/{name}/{field}"] = value.detach().cpu().clone()
    for sender, relation, receiver in graph.edge_types:
        if relation != "to":
            raise ValueError(
                f"graph edge type {(sender, relation, receiver)}: expected relation 'to'"
            )
        for field, value in graph[sender, relation, receiver].items():
            if isinstance(value, torch.Tensor):
                tensors[f"edges/{sender}__{receiver}/{field}"] = value.detach().cpu().clone()
    return tensors


def graph_from_tensors(tensors: Mapping[str, torch.Tensor]) -> HeteroData:
    """The HeteroData that :func:`graph_tensors` flattened."""
    graph = HeteroData()
    for key, value in tensors.items():
        kind, name, field = key.split("/", 2)
        if kind == "nodes":
            graph[name][field] = value
        elif kind == "edges":
            sender, _, receiver = name.partition("__")
            graph[sender, "to", receiver][field] = value
        else:
            raise ValueError(f"graph tensor {key!r}: expected nodes/... or edges/...")
    return graph
