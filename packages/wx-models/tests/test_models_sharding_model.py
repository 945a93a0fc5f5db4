"""Sharded encoder-processor-decoder over gloo ranks equals the unsharded one.

Forward outputs, every parameter gradient and one SGD step agree within 1e-5 for both model
families and group sizes 2 and 4, and a checkpoint moves between group sizes 1 -> 2 -> 4 -> 1; the sharded WeatherModel equals the
unsharded one in physical units.
"""

from __future__ import annotations

import pytest
import torch

from wx_models import load_checkpoint, save_checkpoint
from wx_models.debug import random_graph, tiny_model_arguments
from wx_models.encode_process_decode import EncoderProcessorDecoder
from wx_models.sharding import (
    ModelGroups,
    PartitionError,
    plan_model,
    reduce_gradients,
    shard_model,
)
from wx_models.sharding.local import run_local
from wx_models.weather_model import WeatherModel

pytestmark = pytest.mark.distributed

GRID, MESH, INPUTS, OUTPUTS, BATCH = 64, 24, 3, 2, 2
TOLERANCE = {"rtol": 0.0, "atol": 1e-5}


VARIABLES = {
    "t": "prognostic",
    "q": "prognostic",
    "insolation": "forcing",
    "z": "constant",
    "tp": "diagnostic",
}


def build_weather_model(family: str = "transformer") -> WeatherModel:
    statistics = {
        name: {
            "mean": 2.0 * i,
            "stdev": 1.0 + i,
            "minimum": -5.0,
            "maximum": 9.0,
            "tendency_mean": 0.1 * i,
            "tendency_stdev": 0.5 + i,
        }
        for i, name in enumerate(VARIABLES)
    }
    torch.manual_seed(0)
    return WeatherModel(
        graph=random_graph(grid_nodes=GRID, mesh_nodes=MESH, seed=5),
        variables=VARIABLES,
        statistics=statistics,
        input_steps=2,
        bounding=[{"type": "relu", "variables": ["tp"]}],
        **tiny_model_arguments(family),
    )


def build_model(family: str, **options) -> EncoderProcessorDecoder:
    graph = random_graph(grid_nodes=GRID, mesh_nodes=MESH, seed=5)
    torch.manual_seed(0)
    model = EncoderProcessorDecoder(
        graph=graph,
        input_size=INPUTS,
        output_size=OUTPUTS,
        **tiny_model_arguments(family),
        **options,
    )
    for parameter in model.trainable.values():  # zero at the start: make each node's differ
        torch.nn.init.normal_(parameter)
    if model.cell_readout is not None:
        torch.nn.init.normal_(model.cell_readout)
    if model.cell_stencil is not None:
        torch.nn.init.normal_(model.cell_stencil.weight)
        torch.nn.init.normal_(model.cell_stencil.bias)
    return model


def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(100 + step)
    inputs = torch.randn(BATCH, GRID, INPUTS, generator=generator)  # [batch, cell, input]
    targets = torch.randn(BATCH, GRID, OUTPUTS, generator=generator)  # [batch, cell, output]
    return inputs, targets


def area_weighted_error(outputs, targets, area_weight, total_weight):
    """Area-weighted squared error over the cells given, divided by the global normaliser."""
    error = (outputs - targets).square() * area_weight[:, None]  # [batch, cell, output]
    return error.sum() / (total_weight * BATCH * OUTPUTS)


def train_step(model, optimizer, step, cells, groups):
    """One step on this rank's cells; returns outputs and the group's loss."""
    inputs, targets = batch(step)
    area_weight = model.graph.grid_features[:, 1]  # cos(latitude) of the model's (local) cells
    total_weight = groups.model_group_sum(area_weight.sum())
    outputs = model(inputs[:, cells])
    loss = area_weighted_error(outputs, targets[:, cells], area_weight, total_weight)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    reduce_gradients(model.parameters(), groups)
    optimizer.step()
    return outputs.detach(), groups.model_group_sum(loss)


def check_equal_to_unsharded(rank, world_size, options):
    for family in ("gnn", "transformer"):
        reference = build_model(family, **options)
        sharded_model = build_model(family, **options)
        groups = ModelGroups.from_world(world_size)
        sharded = shard_model(sharded_model, plan_model(sharded_model, world_size), groups)
        cells = torch.as_tensor(sharded.grid_cells)
        everything = torch.arange(GRID)
        # SGD, not Adam: Adam's first step is lr * sign(gradient) element-wise, so gradients
        # that are zero up to rounding (an attention key bias, to which the softmax is
        # invariant) move by +-lr on rounding noise in either run, sharded or not
        reference_optimizer = torch.optim.SGD(reference.parameters(), lr=0.5, momentum=0.9)
        optimizer = torch.optim.SGD(sharded_model.parameters(), lr=0.5, momentum=0.9)

        reference_outputs, reference_loss = train_step(
            reference, reference_optimizer, 0, everything, ModelGroups.single()
        )
        before = {name: p.grad.clone() for name, p in reference.named_parameters()}
        outputs, loss = train_step(sharded_model, optimizer, 0, cells, groups)
        torch.testing.assert_close(outputs, reference_outputs[:, cells], **TOLERANCE)
        torch.testing.assert_close(loss, reference_loss, **TOLERANCE)
        for name, parameter in sharded_model.named_parameters():
            torch.testing.assert_close(parameter.grad, before[name], **TOLERANCE, msg=name)
        for (name, parameter), expected in zip(
            sharded_model.named_parameters(), reference.parameters(), strict=True
        ):  # one optimizer step
            torch.testing.assert_close(parameter, expected, **TOLERANCE, msg=name)
        sent = sharded.communication()
        # activation checkpointing recomputes each layer, its halo exchange included
        runs = 2 if options.get("activation_checkpointing") else 1
        assert sent["total"] > 0 and len(sent["per_exchange"]) == 3
        assert sharded.exchanges["processor"].calls == runs * len(sharded_model.processor)
        assert sum(x.calls for x in sharded.exchanges.values()) == runs * (
            2 + len(sharded_model.processor)
        )


@pytest.mark.parametrize("world_size", [2, 4])
def test_sharded_forward_gradients_and_step_equal_unsharded(world_size):
    run_local(world_size, check_equal_to_unsharded, {})


def test_sharding_with_edge_chunks_and_activation_checkpointing():
    run_local(2, check_equal_to_unsharded, {"edge_chunks": 2, "activation_checkpointing": True})


def test_sharding_with_trainable_node_features():
    # each rank reads the rows of the nodes it owns; their gradients sum over the group
    run_local(2, check_equal_to_unsharded, {"trainable_features": {"data": 3, "hidden": 2}})


def test_sharding_with_a_cell_readout():
    # each rank reads the readout weights of the cells it owns
    run_local(2, check_equal_to_unsharded, {"cell_readout": True})


def test_sharding_with_a_one_cell_stencil():
    # a stencil of the cell itself reads only the rank's own cells
    run_local(2, check_equal_to_unsharded, {"cell_stencil": 1})


def test_a_wider_stencil_is_not_sharded():
    model = build_model("gnn", cell_stencil=3)
    with pytest.raises(PartitionError, match="cell_stencil 3 reads neighbouring cells"):
        shard_model(model, plan_model(model, 2), ModelGroups.single())


def check_weather_model(rank, world_size):
    reference, model = build_weather_model(), build_weather_model()
    groups = ModelGroups.from_world(world_size)
    plan = plan_model(model, world_size)
    sharded = shard_model(model, plan, groups, keep_full_graph=True)
    cells = torch.as_tensor(sharded.grid_cells)
    generator = torch.Generator().manual_seed(3)
    x = 3 * torch.randn(BATCH, 2, GRID, 4, generator=generator)  # [batch, step, cell, input]
    expected = reference(x)  # [batch, cell, output] physical units
    outputs = model(x[:, :, cells])
    torch.testing.assert_close(outputs, expected[:, cells], **TOLERANCE)
    torch.testing.assert_close(sharded.gather_grid(outputs), expected.detach(), **TOLERANCE)
    expected.square().mean().backward()
    (outputs.square().sum() / (BATCH * GRID * outputs.shape[-1])).backward()
    reduce_gradients(model.parameters(), groups)
    for (name, parameter), other in zip(
        model.named_parameters(), reference.parameters(), strict=True
    ):
        torch.testing.assert_close(parameter.grad, other.grad, **TOLERANCE, msg=name)
    assert model.state_dict().keys() == reference.state_dict().keys()
    assert model.num_cells == cells.numel() and model.latitudes.shape == (GRID,)
    with pytest.raises(
        ValueError,
        match=f"expected \\[batch, input_steps, cell, input_variable\\] = \\[batch, 2, {cells.numel()}, 4\\]",
    ):
        model(x)
    sharded.remove()  # back to the whole grid on one rank
    assert model.num_cells == GRID
    torch.testing.assert_close(model(x), expected, rtol=0, atol=0)
    with pytest.raises(PartitionError, match="sharded without keep_full_graph=True"):
        shard_model(model, plan, groups).remove()


def test_sharded_weather_model_equals_unsharded_in_physical_units():
    run_local(2, check_weather_model)


def weather_step(model, optimizer, step, cells, groups):
    """One area-weighted MSE step of a WeatherModel on this rank's cells, physical units."""
    generator = torch.Generator().manual_seed(200 + step)
    x = 3 * torch.randn(BATCH, 2, GRID, 4, generator=generator)  # [batch, step, cell, input]
    targets = torch.randn(BATCH, GRID, 3, generator=generator)  # [batch, cell, output]
    area_weight = torch.deg2rad(model.latitudes[cells]).cos().float()  # [owned cell]
    total_weight = groups.model_group_sum(area_weight.sum())
    outputs = model(x[:, :, cells])
    error = (outputs - targets[:, cells]).square() * area_weight[:, None]
    optimizer.zero_grad(set_to_none=True)
    (error.sum() / (total_weight * BATCH * 3)).backward()
    reduce_gradients(model.parameters(), groups)
    optimizer.step()


def sharded_steps(rank, world_size, source, target, step):
    """Load the checkpoint ``source``, take one sharded step, and (rank 0) save ``target``."""
    model, _ = load_checkpoint(source)
    groups = ModelGroups.from_world(world_size)
    sharded = shard_model(model, plan_model(model, world_size), groups)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    weather_step(model, optimizer, step, torch.as_tensor(sharded.grid_cells), groups)
    if groups.rank == 0:
        with sharded.whole_grid():
            save_checkpoint(target, model, metadata={"training": {"group_size": world_size}})


def test_checkpoint_round_trips_across_group_sizes(tmp_path):
    model = build_weather_model("gnn")
    save_checkpoint(tmp_path / "size1.safetensors", model, metadata={})
    run_local(2, sharded_steps, tmp_path / "size1.safetensors", tmp_path / "size2.safetensors", 0)
    run_local(4, sharded_steps, tmp_path / "size2.safetensors", tmp_path / "size4.safetensors", 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in (0, 1):  # the same two steps unsharded
        weather_step(model, optimizer, step, torch.arange(GRID), ModelGroups.single())
    resumed, metadata = load_checkpoint(tmp_path / "size4.safetensors")
    assert metadata["grid"]["cells"] == GRID
    assert metadata["training"] == {"group_size": 4}
    assert resumed.state_dict().keys() == model.state_dict().keys()
    for name, value in resumed.state_dict().items():
        torch.testing.assert_close(value, model.state_dict()[name], **TOLERANCE, msg=name)
    x = torch.randn(BATCH, 2, GRID, 4, generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(resumed(x), model(x), **TOLERANCE)


def test_shard_model_rejects_a_plan_of_another_graph_or_size():
    model = build_model("gnn")
    other = EncoderProcessorDecoder(
        graph=random_graph(grid_nodes=GRID, mesh_nodes=MESH, seed=6),
        input_size=INPUTS,
        output_size=OUTPUTS,
        **tiny_model_arguments("gnn"),
    )
    with pytest.raises(PartitionError, match="plan has 2 parts but the model group has 1"):
        shard_model(model, plan_model(model, 2), ModelGroups.single())
    with pytest.raises(PartitionError, match="made from another graph"):
        shard_model(model, plan_model(other, 1), ModelGroups.single())
    sharded = shard_model(model, plan_model(model, 1), ModelGroups.single(), keep_full_graph=True)
    with pytest.raises(PartitionError, match="already sharded"):
        plan_model(model, 2)
    inputs, _ = batch(0)
    expected = model(inputs)
    restored = sharded.remove()
    torch.testing.assert_close(restored(inputs), expected, rtol=0, atol=0)
    assert restored.graph.num_grid == GRID
