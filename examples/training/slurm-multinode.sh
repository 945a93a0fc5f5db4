#!/bin/bash
# Multi-node data-parallel training with SLURM: one torchrun per node, one process per GPU.
# See docs/scaling-out.md. Submit with: sbatch examples/training/slurm-multinode.sh
#SBATCH --job-name=wx-train
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=1          # one torchrun per node; it starts one process per GPU
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=32           # data-loader workers: data.num_workers per GPU process
#SBATCH --time=24:00:00
#SBATCH --signal=B:USR1@300          # warn 5 minutes before the time limit
#SBATCH --requeue

set -euo pipefail
head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
run_dir=${RUN_DIR:-runs/shallow-water-$SLURM_JOB_ID}

# Continue the run if an earlier attempt (a requeue after preemption) left a checkpoint.
resume=null
if ls "$run_dir"/checkpoints/training-step*.safetensors >/dev/null 2>&1; then
    resume=$run_dir
fi

srun torchrun \
    --nnodes "$SLURM_NNODES" --nproc-per-node 4 \
    --rdzv-backend c10d --rdzv-endpoint "$head_node:29500" --rdzv-id "$SLURM_JOB_ID" \
    -m wx_training.cli train --config-name shallow_water_gpu \
    run_dir="$run_dir" resume="$resume" \
    data.dataset=/scratch/datasets/shallow-water.zarr \
    tracking.uri="${MLFLOW_TRACKING_URI:-null}"
