"""The analytic FLOP count equals torch's own count of matrix-multiply FLOPs."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from wx_models import EncoderProcessorDecoder
from wx_models.debug import random_graph, tiny_model_arguments
from wx_models.flops import estimate_flops, network_flops, parameter_counts


def inplace_addmm_flops(self_shape, a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    """``addmm_`` (edge projections accumulated into gathered keys), which torch's table lacks."""
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]


COUNT_INPLACE = {torch.ops.aten.addmm_: inplace_addmm_flops}


@pytest.mark.parametrize("family", ["gnn", "transformer"])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize(
    ("trainable", "cell_readout", "cell_stencil", "stencil_extra"),
    [({}, False, 0, 0), ({"data": 3, "hidden": 5}, True, 4, 0), ({}, False, 4, 2)],
)
def test_formula_matches_the_flop_counter(
    family, batch, trainable, cell_readout, cell_stencil, stencil_extra
):
    torch.manual_seed(0)
    network = EncoderProcessorDecoder(
        graph=random_graph(),
        input_size=6,
        output_size=3,
        trainable_features=trainable,
        cell_readout=cell_readout,
        cell_stencil=cell_stencil,
        stencil_channels=[0, 2] if cell_stencil else None,
        stencil_extra=stencil_extra,
        **tiny_model_arguments(family),
    )
    x = torch.randn(batch, 48, 6 + stencil_extra)  # the stencil-only columns last
    with FlopCounterMode(display=False, custom_mapping=COUNT_INPLACE) as forward:
        network(x)
    with FlopCounterMode(display=False, custom_mapping=COUNT_INPLACE) as step:
        network(x).square().mean().backward()
    estimate = network_flops(network, batch=batch)
    assert estimate["forward"] == forward.get_total_flops()
    assert estimate["step"] == step.get_total_flops()


def test_processor_layer_formula_by_hand():
    counts = {
        "grid_nodes": 100,
        "mesh_nodes": 10,
        "encoder_edges": 300,
        "processor_edges": 80,
        "decoder_edges": 300,
    }
    one = estimate_flops(
        family="gnn",
        counts=counts,
        input_size=5,
        output_size=2,
        latent_size=8,
        processor_layers=1,
        mlp_hidden_size=16,
        heads=1,
    )
    two = estimate_flops(
        family="gnn",
        counts=counts,
        input_size=5,
        output_size=2,
        latent_size=8,
        processor_layers=2,
        mlp_hidden_size=16,
        heads=1,
    )
    # M: C->2H, E: C->H, H->C, M: 2C->H, H->C with C=8, H=16, M=10, E=80
    layer = 2 * (10 * 8 * 32 + 80 * 8 * 16 + 80 * 16 * 8 + 10 * 16 * 16 + 10 * 16 * 8)
    assert two["forward"] - one["forward"] == layer


def test_parameter_counts_cover_every_parameter():
    network = EncoderProcessorDecoder(
        graph=random_graph(), input_size=6, output_size=3, **tiny_model_arguments("gnn")
    )
    counts = parameter_counts(network)
    assert sum(counts.values()) == sum(p.numel() for p in network.parameters())
    assert {"encoder", "processor.0", "processor.1", "decoder", "output_head"} <= set(counts)
