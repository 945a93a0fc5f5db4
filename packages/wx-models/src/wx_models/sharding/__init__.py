"""Model sharding: one forecaster across the ranks of a model group (grid-dimension parallelism).

The grid and the mesh are cut into contiguous spatial parts, one per rank
(:mod:`~wx_models.sharding.partition`); each rank runs the unchanged layers on the receivers it
owns after receiving its senders' halo from the other ranks (:mod:`~wx_models.sharding.halo`,
:mod:`~wx_models.sharding.model`); gradients are summed within the group and averaged across
groups (:mod:`~wx_models.sharding.groups`); each rank reads only its cells
(:mod:`~wx_models.sharding.data`). Typical use under ``torchrun``::

    groups = ModelGroups.from_world(gpus_per_model)
    plan = plan_model(model, groups.group_size)
    sharded = shard_model(model, plan, groups)
    model.to(device)
"""

from wx_models.sharding.data import read_cells
from wx_models.sharding.groups import GroupSizeError, ModelGroups, reduce_gradients
from wx_models.sharding.halo import HaloExchange
from wx_models.sharding.model import LocalGraph, ShardedModel, plan_model, shard_model
from wx_models.sharding.partition import PartitionError, PartitionPlan, partition

__all__ = [
    "GroupSizeError",
    "HaloExchange",
    "LocalGraph",
    "ModelGroups",
    "PartitionError",
    "PartitionPlan",
    "ShardedModel",
    "partition",
    "plan_model",
    "read_cells",
    "reduce_gradients",
    "shard_model",
]
