"""Analytic count of the matrix-multiply FLOPs of one step, per component, and parameters.

A linear layer ``in -> out`` applied to ``rows`` rows costs ``2 * rows * in * out`` FLOPs
forward (a multiply and an add per weight and row). Backward costs the same again for the
weight gradient and once more for the input gradient, except where the input needs no gradient
(data, static node features and edge attributes): so a training step is about three forward
passes. With ``G`` grid nodes, ``M`` mesh nodes, ``E_enc``, ``E_proc``, ``E_dec`` edges,
``F = inputs + 4`` (plus the trainable grid features, whose count also joins the mesh
embedding's 4), latent ``C``, MLP hidden ``H``, ``A`` = 4 edge attributes, ``O`` outputs,
``L`` processor layers and ``h`` heads, the forward FLOPs per sample are the sum of ``2 rows in
out`` over these layers:

| component | gnn (rows: in -> out) | transformer (rows: in -> out) |
|---|---|---|
| grid embedding | G: F->C, C->C | G: F->C |
| mesh embedding | M: 4->C, C->C | M: 4->C, C->C |
| encoder | G: C->H; M: C->H; E_enc: A->H; M: C+H+1->H, H->C | M: C->C (q); G: F->C (k), F->C (v); E_enc: A->C twice, C->h, h->C; M: C->C (out), C->H, H->C |
| processor edge embedding | E_proc: A->C, C->C | none |
| processor layer (x L) | M: C->2H; E_proc: C->H, H->C; M: 2C->H, H->C | M: C->C three times (q, k, v); E_proc: A->C twice, C->h, h->C; M: C->C (out), C->H, H->C |
| decoder | M: C->H; G: C->H; E_dec: A->H; G: C+H+1->H, H->C | G: C->C (q); M: C->C twice (k, v); E_dec: A->C twice, C->h, h->C; G: C->C (out) |
| output head | G: C->C, C->O | G: C->C, C->O |
| cell readout (``cell_readout``) | G: C->O | G: C->O |
| cell stencil (``cell_stencil`` K, S stencil channels of I inputs, E stencil-only) | G: K S + I - S + E -> O, no input gradient | the same |

Layers on the mesh embedding, the processor edge embedding and edge attributes are computed
once per step, not per sample. The transformer's edge projections (``A->C``, per sample, with
one weight gradient per step) and its head broadcast (``h->C``) are computed again in the
backward pass (:mod:`wx_models.edge_attention`) and counted so. Element-wise work (gathers, sums, softmax, activations, LayerNorm) is left
out: it is memory-bound and small in FLOPs. Recomputation under activation checkpointing or
edge chunking of the gnn family is not counted. ``tests/test_models_flops.py`` checks the
formula against ``torch.utils.flop_counter`` on tiny models.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from wx_models.encode_process_decode import EncoderProcessorDecoder


@dataclass(frozen=True)
class Linear:
    """One linear map in the count: ``rows`` rows of ``size_in -> size_out``."""

    rows: int
    size_in: int
    size_out: int
    per_sample: bool = True  # False: computed once per step whatever the batch
    input_gradient: bool = True  # False: its input needs no gradient (data, static features)
    weight_gradient: bool = True  # False: a constant matrix (the attention head sums)
    recomputed: bool = False  # True: computed again in the backward pass (EdgeAttention)
    batch_summed_weight_gradient: bool = False  # True: weight gradient from the batch sum

    def forward(self, batch: int) -> int:
        return 2 * self.rows * self.size_in * self.size_out * (batch if self.per_sample else 1)

    def backward(self, batch: int) -> int:
        passes = int(self.input_gradient) + int(self.recomputed)
        if self.weight_gradient and self.batch_summed_weight_gradient:
            return self.forward(batch) * passes + self.forward(1)
        return self.forward(batch) * (passes + int(self.weight_gradient))


def _gnn_layers(counts, F, C, H, A, L, *, grid_gradient: bool) -> dict[str, list[Linear]]:
    G, M = counts["grid_nodes"], counts["mesh_nodes"]
    E_enc, E_proc, E_dec = (
        counts["encoder_edges"],
        counts["processor_edges"],
        counts["decoder_edges"],
    )

    def layer(first: bool) -> list[Linear]:
        # the first layer's edge latents are the embedding, shared by the samples of a batch
        return [
            Linear(M, C, 2 * H),
            Linear(E_proc, C, H, per_sample=not first),
            Linear(E_proc, H, C),
            Linear(M, 2 * C, H),
            Linear(M, H, C),
        ]

    return {
        "grid_embedding": [Linear(G, F, C, input_gradient=grid_gradient), Linear(G, C, C)],
        "encoder": [
            Linear(G, C, H),
            Linear(M, C, H),
            Linear(E_enc, A, H, per_sample=False, input_gradient=False),
            Linear(M, C + H + 1, H),
            Linear(M, H, C),
        ],
        "processor_edge_embedding": [
            Linear(E_proc, A, C, per_sample=False, input_gradient=False),
            Linear(E_proc, C, C, per_sample=False),
        ],
        "processor": [item for i in range(L) for item in layer(i == 0)],
        "decoder": [
            Linear(M, C, H),
            Linear(G, C, H),
            Linear(E_dec, A, H, per_sample=False, input_gradient=False),
            Linear(G, C + H + 1, H),
            Linear(G, H, C),
        ],
    }


def _attention(S, R, E, sender_size, C, H, A, heads, *, node_mlp, sender_gradient=True):
    # EdgeAttention adds the edge projections to every sample's gathered keys and values and
    # does it again in the backward pass, where the projection weights get the gradient of the
    # batch sum; it spreads the weights over the channels again instead of storing them
    static = {"input_gradient": False, "recomputed": True, "batch_summed_weight_gradient": True}
    layers = [
        Linear(R, C, C),
        Linear(S, sender_size, C, input_gradient=sender_gradient),
        Linear(S, sender_size, C, input_gradient=sender_gradient),
        Linear(E, A, C, **static),
        Linear(E, A, C, **static),
        Linear(E, C, heads, weight_gradient=False),
        Linear(E, heads, C, weight_gradient=False, recomputed=True),
        Linear(R, C, C),
    ]
    if node_mlp:
        layers += [Linear(R, C, H), Linear(R, H, C)]
    return layers


def _transformer_layers(
    counts, F, C, H, A, L, heads, *, grid_gradient: bool
) -> dict[str, list[Linear]]:
    G, M = counts["grid_nodes"], counts["mesh_nodes"]
    block = {"C": C, "H": H, "A": A, "heads": heads}
    return {
        "grid_embedding": [Linear(G, F, C, input_gradient=grid_gradient)],
        "encoder": _attention(
            G, M, counts["encoder_edges"], F, **block, node_mlp=True, sender_gradient=grid_gradient
        ),
        "processor": _attention(M, M, counts["processor_edges"], C, **block, node_mlp=True) * L,
        "decoder": _attention(M, G, counts["decoder_edges"], C, **block, node_mlp=False),
    }


def estimate_flops(
    *,
    family: str,
    counts: dict[str, int],
    input_size: int,
    output_size: int,
    latent_size: int,
    processor_layers: int,
    mlp_hidden_size: int,
    heads: int,
    edge_attribute_size: int = 4,
    batch: int = 1,
    trainable_features: dict[str, int] | None = None,
    cell_readout: bool = False,
    cell_stencil: int = 0,
    stencil_channels: list[int] | None = None,
    stencil_extra: int = 0,
) -> dict[str, dict[str, int] | int]:
    """Forward and backward matrix-multiply FLOPs of one step, per component and in total."""
    trainable = trainable_features or {}
    grid_static, mesh_static = 4 + trainable.get("data", 0), 4 + trainable.get("hidden", 0)
    F, C, H, A = input_size + grid_static, latent_size, mlp_hidden_size, edge_attribute_size
    # grid inputs are data and need no gradient, unless trainable features join them
    grid_gradient = grid_static > 4
    if family == "gnn":
        layers = _gnn_layers(counts, F, C, H, A, processor_layers, grid_gradient=grid_gradient)
    else:
        layers = _transformer_layers(
            counts, F, C, H, A, processor_layers, heads, grid_gradient=grid_gradient
        )
    G, M = counts["grid_nodes"], counts["mesh_nodes"]
    layers["mesh_embedding"] = [
        Linear(M, mesh_static, C, per_sample=False, input_gradient=mesh_static > 4),
        Linear(M, C, C, per_sample=False),
    ]
    layers["output_head"] = [Linear(G, C, C), Linear(G, C, output_size)]
    if cell_readout:  # one [latent, output] map per cell: the same count as a shared one
        layers["output_head"].append(Linear(G, C, output_size))
    if cell_stencil:  # each cell's own map on its stencil's inputs (data: no input gradient)
        channels = input_size if stencil_channels is None else len(stencil_channels)
        features = cell_stencil * channels + input_size - channels + stencil_extra
        layers["cell_stencil"] = [Linear(G, features, output_size, input_gradient=False)]
    components = {
        name: {
            "forward": sum(item.forward(batch) for item in items),
            "backward": sum(item.backward(batch) for item in items),
        }
        for name, items in layers.items()
    }
    forward = sum(c["forward"] for c in components.values())
    backward = sum(c["backward"] for c in components.values())
    return {
        "components": components,
        "forward": forward,
        "backward": backward,
        "step": forward + backward,
    }


def network_flops(network: EncoderProcessorDecoder, *, batch: int = 1) -> dict:
    """:func:`estimate_flops` for a built network on its own graph."""
    return estimate_flops(
        counts=network.graph.counts(),
        edge_attribute_size=network.graph.edge_attribute_size,
        batch=batch,
        **network.sizes,
    )


def parameter_counts(module: nn.Module) -> dict[str, int]:
    """Trainable parameters per direct child (and per processor layer) of ``module``."""
    counts: dict[str, int] = {}
    for name, child in module.named_children():
        if isinstance(child, nn.ModuleList):
            for index, layer in enumerate(child):
                counts[f"{name}.{index}"] = sum(p.numel() for p in layer.parameters())
        else:
            total = sum(p.numel() for p in child.parameters())
            if total:
                counts[name] = total
    return counts
