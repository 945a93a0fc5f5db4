"""Differentiable halo exchange: each rank receives the sender rows it needs from their owners.

Forward: every rank gathers the owned rows other ranks need (``send_index``, grouped by
destination) and one ``all_to_all_single`` with per-rank counts delivers them; the output is
``[owned rows, halo rows]``. Backward is the adjoint: the gradients of the halo rows travel back
to their owners in the opposite all-to-all and are summed (``index_add``) into the gradients of
the owned rows they were copied from, so a node used as a sender on several ranks receives the
sum of all its uses, exactly as the unsharded gather would.

The collective runs in the model group's process group (NCCL on GPUs, gloo on CPU); every rank
of the group must call the exchanges in the same order, which the shared model code guarantees.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from wx_models.sharding.partition import HaloPattern


def _all_to_all(
    rows: torch.Tensor, send_counts: list[int], receive_counts: list[int], group
) -> torch.Tensor:
    """Rows ``[sent, ...]`` grouped by destination -> rows ``[received, ...]`` by source."""
    received = rows.new_empty((sum(receive_counts), *rows.shape[1:]))
    dist.all_to_all_single(
        received,
        rows.contiguous(),
        output_split_sizes=receive_counts,
        input_split_sizes=send_counts,
        group=group,
    )
    return received


class _HaloExchange(torch.autograd.Function):
    @staticmethod
    def forward(ctx, owned, send_index, send_counts, receive_counts, group):
        ctx.save_for_backward(send_index)
        ctx.counts = (send_counts, receive_counts)
        ctx.group = group
        ctx.num_owned = owned.shape[1]
        sent = owned.index_select(1, send_index).transpose(0, 1)  # [sent, batch, channel]
        received = _all_to_all(sent, send_counts, receive_counts, group)  # [halo, batch, channel]
        return torch.cat([owned, received.transpose(0, 1)], dim=1)  # [batch, owned + halo, channel]

    @staticmethod
    def backward(ctx, grad):
        (send_index,) = ctx.saved_tensors
        send_counts, receive_counts = ctx.counts
        halo_grad = grad[:, ctx.num_owned :].transpose(0, 1)  # [halo, batch, channel]
        returned = _all_to_all(halo_grad, receive_counts, send_counts, ctx.group)  # [sent, ...]
        owned_grad = grad[:, : ctx.num_owned].index_add(1, send_index, returned.transpose(0, 1))
        return owned_grad, None, None, None, None


@dataclass
class HaloExchange:
    """The halo exchange of one edge set on one rank, counting the bytes it sends.

    Calling it on owned sender rows ``[batch, owned, channel]`` returns
    ``[batch, owned + halo, channel]``; in a group of one rank it returns its input.
    ``bytes_sent`` counts forward payloads only; the backward pass sends the same amount again.
    """

    name: str
    pattern: HaloPattern
    group: object = None  # torch.distributed ProcessGroup of the model group
    bytes_sent: int = 0
    calls: int = 0
    _send_index: dict = field(default_factory=dict, repr=False)

    @property
    def active(self) -> bool:
        return len(self.pattern.send_counts) > 1

    def __call__(self, owned: torch.Tensor) -> torch.Tensor:
        if owned.ndim != 3:
            raise ValueError(
                f"halo exchange {self.name!r}: expected [batch, node, channel], got {tuple(owned.shape)}"
            )
        if not self.active:
            return owned
        self.calls += 1
        self.bytes_sent += (
            self.pattern.sent_rows * owned.shape[0] * owned.shape[2] * owned.element_size()
        )
        return _HaloExchange.apply(
            owned,
            self._index(owned.device),
            list(self.pattern.send_counts),
            list(self.pattern.receive_counts),
            self.group,
        )

    def _index(self, device: torch.device) -> torch.Tensor:
        if device not in self._send_index:
            self._send_index[device] = torch.as_tensor(self.pattern.send_index, device=device)
        return self._send_index[device]

    def bytes_per_call(self, *, batch: int, channels: int, element_size: int = 4) -> int:
        """Forward bytes this rank sends per exchange of ``[batch, node, channels]`` rows."""
        return self.pattern.sent_rows * batch * channels * element_size
