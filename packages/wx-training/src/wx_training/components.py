"""Build what a run needs from its config: dataset view, variables, graph, model, samples, loss.

Everything here is checked before the first training step: variables named in the config exist
in the dataset, the graph's data nodes are the dataset's grid, the periods hold whole windows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wx_datasets import open_dataset
from wx_datasets.forcings import compute_forcings
from wx_graphs import Graph, build_graph, load_graph
from wx_models import WeatherModel, statistics_from_arrays
from wx_models.climatology import ANGLE_FORCINGS, ClimatologyError
from wx_training.data import (
    VariableLayout,
    WindowDataset,
    period_indices,
    resolve_layout,
    window_starts,
)
from wx_training.losses import WeightedMSE, node_weights, variable_weights
from wx_training.rollout import Rollout
from wx_utils.dates import frequency_to_string, frequency_to_timedelta64

LOG = logging.getLogger(__name__)

FORCING_STATISTICS_DATES = 400  # dates sampled to compute the statistics of computed forcings
STENCIL_BATCH = 64  # windows per batch of the cell_stencil fit
CLIMATOLOGY_DATES = 1464  # training dates the harmonic climatology is fitted to (a year, 6-hourly)


class GraphMismatchError(ValueError):
    """A graph whose data nodes are not the dataset's grid."""


@dataclass
class Components:
    view: Any  # wx_datasets view
    layout: VariableLayout
    graph: Graph
    model: WeatherModel
    train_dataset: WindowDataset
    validation_dataset: WindowDataset
    loss: WeightedMSE
    interior_mask: np.ndarray | None  # [cell] bool for regional graphs
    node_weight: np.ndarray  # [cell] loss and score weights (zero on the boundary)
    dataset_name: str


def open_view(data: Any) -> Any:
    path = data.dataset
    if "://" not in path and not Path(path).exists():
        raise FileNotFoundError(
            f"config key data.dataset: {path} does not exist (build it with `wx-datasets create "
            "RECIPE PATH`, or point data.dataset at an existing store)"
        )
    return open_dataset(path, select=data.select, drop=data.drop, frequency=data.frequency)


def make_graph(config: Any) -> Graph:
    if config.graph.path is not None:
        return load_graph(config.graph.path)
    LOG.info("building the graph from graph.recipe")
    return build_graph(_plain(config.graph.recipe), base_dir=Path.cwd())


def check_graph_matches_grid(graph: Graph, view: Any, *, source: str) -> None:
    """GraphMismatchError unless the graph's ``data`` nodes are the dataset's cells, in order."""
    if "data" not in graph.nodes:
        raise GraphMismatchError(
            f"graph {source}: has no 'data' node set (node sets: {sorted(graph.nodes)})"
        )
    nodes = graph.nodes["data"]
    cells = len(view.latitudes)
    if nodes.num_nodes != cells:
        raise GraphMismatchError(
            f"graph {source}: {nodes.num_nodes} data nodes, but the dataset grid has {cells} cells; "
            "build the graph on the dataset's grid (nodes.data: {kind: dataset, path: ...})"
        )
    latitude_error = np.abs(nodes.latitudes - view.latitudes)
    longitude_error = np.abs((nodes.longitudes - view.longitudes + 180.0) % 360.0 - 180.0)
    longitude_error *= np.cos(np.deg2rad(view.latitudes))  # longitudes mean nothing at the poles
    worst = float(max(latitude_error.max(), longitude_error.max()))
    if worst > 1e-4:
        cell = int(np.argmax(np.maximum(latitude_error, longitude_error)))
        raise GraphMismatchError(
            f"graph {source}: data node {cell} is at ({nodes.latitudes[cell]:.4f}, "
            f"{nodes.longitudes[cell]:.4f}) but dataset cell {cell} at ({view.latitudes[cell]:.4f}, "
            f"{view.longitudes[cell]:.4f}): the graph was built for another grid (or order)"
        )


def forcing_statistics(
    names: tuple[str, ...], dates: np.ndarray, view: Any
) -> dict[str, dict[str, float]]:
    """Statistics of computed forcings over (a sample of) the training dates."""
    if not names:
        return {}
    picks = np.unique(
        np.linspace(0, len(dates) - 2, min(FORCING_STATISTICS_DATES, len(dates) - 1)).astype(int)
    )
    step = frequency_to_timedelta64(view.frequency)
    now = compute_forcings(
        names, dates[picks], view.latitudes, view.longitudes
    )  # [time, forcing, cell]
    later = compute_forcings(names, dates[picks] + step, view.latitudes, view.longitudes)
    change = (later - now).astype(np.float64)
    values = now.astype(np.float64)
    statistics = {}
    for index, name in enumerate(names):
        statistics[name] = {
            "mean": float(values[:, index].mean()),
            "stdev": float(values[:, index].std()),
            "minimum": float(values[:, index].min()),
            "maximum": float(values[:, index].max()),
            "tendency_mean": float(change[:, index].mean()),
            "tendency_stdev": float(change[:, index].std()),
        }
    return statistics


def build_model(
    config: Any, view: Any, layout: VariableLayout, graph: Graph, train_dates: np.ndarray
) -> WeatherModel:
    model_config = config.model
    statistics = statistics_from_arrays(view.variables, view.statistics, view.statistics_tendencies)
    statistics = {name: statistics[name] for name in layout.dataset_variables}
    statistics.update(forcing_statistics(layout.computed_forcings, train_dates, view))
    normaliser = dict.fromkeys(layout.dataset_variables, model_config.normaliser.default)
    normaliser.update(dict.fromkeys(layout.computed_forcings, "none"))
    unknown = sorted(set(model_config.normaliser.variables) - set(normaliser))
    if unknown:
        raise ValueError(
            f"config key model.normaliser.variables: {unknown} are not model variables"
        )
    normaliser.update(model_config.normaliser.variables)
    not_prognostic = sorted(set(model_config.full_state) - set(layout.prognostic))
    if not_prognostic:
        raise ValueError(
            f"config key model.full_state: {not_prognostic} are not prognostic variables"
        )
    try:
        model = _weather_model(config, view, layout, graph, statistics, normaliser)
    except ClimatologyError as error:
        raise ClimatologyError(f"config key model.{error}") from None
    if model.climatology is not None:
        fit_climatology(model, view, train_dates, member=config.data.member)
    stencil = model.network.cell_stencil
    if stencil is not None and not model_config.cell_stencil_trainable:
        stencil.requires_grad_(False)  # the ridge fit below stays as it is
    if stencil is not None and model_config.cell_stencil_fit:
        fit_cell_stencil(
            model,
            view,
            layout,
            train_dates,
            member=config.data.member,
            prior=model_config.cell_stencil_prior,
        )
    return model


def _weather_model(config, view, layout, graph, statistics, normaliser) -> WeatherModel:
    model_config = config.model
    return WeatherModel(
        graph=graph.to_hetero_data(),
        variables=layout.roles,
        statistics=statistics,
        input_steps=model_config.input_steps,
        time_step=frequency_to_string(view.frequency),
        normaliser=normaliser,
        residual=[name for name in layout.prognostic if name not in set(model_config.full_state)],
        bounding=_plain(model_config.bounding),
        family=model_config.family,
        latent_size=model_config.latent_size,
        processor_layers=model_config.processor_layers,
        mlp_hidden_size=model_config.mlp_hidden_size or model_config.latent_size,
        heads=model_config.heads,
        edge_chunks=model_config.edge_chunks,
        activation_checkpointing=model_config.activation_checkpointing,
        trainable_features=_plain(model_config.trainable_features),
        cell_readout=model_config.cell_readout,
        cell_stencil=model_config.cell_stencil,
        cell_stencil_basis=model_config.cell_stencil_basis,
        climatology=list(model_config.climatology),
        climatology_harmonics=model_config.climatology_harmonics,
        withheld_forcings=list(model_config.withheld_forcings),
        latitudes=np.asarray(view.latitudes),
        longitudes=np.asarray(view.longitudes),
        grid_shape=list(view.grid_shape) if view.grid_shape else None,
    )


def fit_climatology(model: WeatherModel, view: Any, dates: np.ndarray, *, member: int) -> None:
    """Fit the model's harmonic climatology to (up to a year of) the training dates."""
    climatology = model.climatology
    picks = np.unique(
        np.linspace(0, len(dates) - 1, min(CLIMATOLOGY_DATES, len(dates))).astype(int)
    )
    # the training dates are dataset dates: their indices, one date read at a time
    indices = np.searchsorted(np.asarray(view.dates).astype("datetime64[s]"), dates[picks])
    columns = [view.name_to_index[name] for name in climatology.variables]
    values = np.stack([view[int(i)][columns, member] for i in indices])  # [time, variable, cell]
    angles = compute_forcings(ANGLE_FORCINGS, dates[picks], view.latitudes, view.longitudes)
    residual = climatology.fit(
        values.transpose(0, 2, 1), angles.transpose(0, 2, 1)
    )  # [time, cell, variable], [time, cell, 4]
    LOG.info(
        "harmonic climatology of %s fitted on %d training dates; RMS anomaly %s",
        climatology.variables,
        len(picks),
        {name: round(value, 4) for name, value in residual.items()},
    )


def fit_cell_stencil(
    model: WeatherModel,
    view: Any,
    layout: VariableLayout,
    starts: np.ndarray,
    *,
    member: int,
    prior: str = "mean",
) -> None:
    """Start the model as each cell's ridge regression on the one-step training windows that
    begin at the dates ``starts`` (:meth:`wx_models.WeatherModel.fit_cell_stencil`), shrunk
    towards ``prior``."""
    dates = np.asarray(view.dates).astype("datetime64[s]")
    windows = WindowDataset(
        view=view,
        layout=layout,
        member=member,
        window=model.input_steps + 1,
        starts=np.searchsorted(dates, starts),
    )
    rollout = Rollout.for_model(model, layout.sample_variables, None)

    def samples():
        for first in range(0, len(windows), STENCIL_BATCH):
            picks = range(first, min(first + STENCIL_BATCH, len(windows)))
            fields = torch.stack([windows[i]["fields"] for i in picks])  # [batch, time, cell, var]
            yield rollout.history(fields), rollout.target(fields, 0)

    count = model.fit_cell_stencil(samples(), prior=prior)
    LOG.info(
        "cell_stencil %d: each cell's ridge regression fitted on %d training windows",
        model.network.cell_stencil.size,
        count,
    )


def make_windows(view: Any, period: Any, *, key: str, length: int) -> np.ndarray:
    dates = np.asarray(view.dates).astype("datetime64[s]")
    first, stop = period_indices(dates, period.start, period.end, key=key)
    starts = window_starts(
        dates,
        first,
        stop,
        length=length,
        step=frequency_to_timedelta64(view.frequency),
        missing=getattr(view, "missing", None),
    )
    if starts.size == 0:
        raise ValueError(
            f"config key {key}: the period {period.start} to {period.end} holds no run of {length} "
            f"consecutive dates (input steps + rollout)"
        )
    return starts


def build_components(config: Any, *, graph: Graph | None = None) -> Components:
    """Everything the trainer needs; raises before any step if something does not fit."""
    data = config.data
    view = open_view(data)
    if not 0 <= data.member < view.ensemble_size:
        raise ValueError(
            f"config key data.member: {data.member} but the dataset has {view.ensemble_size} member(s)"
        )
    layout = resolve_layout(view, data, dataset=data.dataset)
    input_steps = config.model.input_steps
    train_starts = make_windows(
        view, data.train, key="data.train", length=input_steps + config.training.rollout.maximum
    )
    validation_starts = make_windows(
        view,
        data.validation,
        key="data.validation",
        length=input_steps + config.training.validation.rollout,
    )
    graph = graph if graph is not None else make_graph(config)
    check_graph_matches_grid(graph, view, source=config.graph.path or "from graph.recipe")
    dates = np.asarray(view.dates).astype("datetime64[s]")
    model = build_model(config, view, layout, graph, dates[train_starts])
    data_nodes = graph.nodes["data"].attributes
    interior = data_nodes.get("interior_mask")
    interior = None if interior is None or np.all(interior) else np.asarray(interior, dtype=bool)
    node_weight = node_weights(
        source=config.training.loss.area_weight,
        latitudes=np.asarray(view.latitudes),
        dataset_area_weight=view.area_weight,
        graph_area_weight=data_nodes.get("area_weight"),
        interior_mask=interior,
    )
    loss_config = config.training.loss
    loss = WeightedMSE(
        node_weight=node_weight,
        variable_weight=variable_weights(
            model.output_variables,
            weights=dict(loss_config.variable_weights),
            scaling=loss_config.pressure_level.scaling,
            minimum=loss_config.pressure_level.minimum,
            metadata=view.variables_metadata,
        ),
        scale=model.output_normaliser.scale.detach().cpu().numpy(),
    )

    def windows(starts: np.ndarray, rollout: int) -> WindowDataset:
        return WindowDataset(
            view=view,
            layout=layout,
            member=data.member,
            window=input_steps + rollout,
            starts=starts,
        )

    LOG.info(
        "%d training and %d validation windows; variables %s; %d cells%s",
        len(train_starts),
        len(validation_starts),
        dict(layout.roles),
        len(view.latitudes),
        f" ({int(interior.sum())} interior)" if interior is not None else "",
    )
    return Components(
        view=view,
        layout=layout,
        graph=graph,
        model=model,
        train_dataset=windows(train_starts, config.training.rollout.maximum),
        validation_dataset=windows(validation_starts, config.training.validation.rollout),
        loss=loss,
        interior_mask=interior,
        node_weight=node_weight,
        dataset_name=data.name or Path(data.dataset.rstrip("/")).stem,
    )


def _plain(value: Any) -> Any:
    from omegaconf import OmegaConf

    if OmegaConf.is_config(value):
        return OmegaConf.to_container(value, resolve=True)
    return value


def model_signature(model: WeatherModel) -> dict[str, Any]:
    """What must agree between a training checkpoint and the model that resumes from it."""
    # Statistics may be recomputed and chunking or checkpointing changed without changing weights.
    ignored = {"statistics", "edge_chunks", "activation_checkpointing"}
    arguments = {key: value for key, value in model.arguments.items() if key not in ignored}
    return {
        "arguments": arguments,
        "input_variables": model.input_variables,
        "output_variables": model.output_variables,
        "cells": model.num_cells,
        "parameters": {name: list(value.shape) for name, value in model.named_parameters()},
    }


def count_parameters(model: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())
