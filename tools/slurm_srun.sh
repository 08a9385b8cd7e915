#!/usr/bin/env bash
# The srun call shared by tools/slurm_train.sh and tools/slurm_test.sh:
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS="..."] [PYTHON=python] \
#   tools/slurm_srun.sh PARTITION JOB_NAME SCRIPT [SCRIPT args...]
# runs `PYTHON -u tools/SCRIPT args...` as GPUS tasks, GPUS_PER_NODE of them
# (and as many GPUs) on each node, CPUS_PER_TASK cores each. SRUN_ARGS is
# split on whitespace and added to srun's options. The script's own
# arguments must include `--launcher=slurm`: mmengine then reads each task's
# rank from SLURM_PROCID/SLURM_LOCALID/SLURM_NTASKS, the master's address
# from `scontrol show hostname $SLURM_NODELIST` (unless MASTER_ADDR is set)
# and its port from MASTER_PORT (default 29500).
set -e

if [ $# -lt 3 ]; then
    echo "usage: $0 PARTITION JOB_NAME SCRIPT [SCRIPT args...]" >&2
    exit 1
fi
PARTITION=$1
JOB_NAME=$2
SCRIPT=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
for name in GPUS GPUS_PER_NODE CPUS_PER_TASK; do
    if ! [[ ${!name} =~ ^[1-9][0-9]*$ ]]; then
        echo "$0: $name must be a positive integer, got '${!name}'" >&2
        exit 1
    fi
done
# fewer GPUs than a node has: one node, and only the GPUs the job uses
if [ "$GPUS" -lt "$GPUS_PER_NODE" ]; then
    GPUS_PER_NODE=$GPUS
fi
read -r -a EXTRA_SRUN_ARGS <<< "${SRUN_ARGS:-}"
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)

PYTHONPATH="$(dirname "$TOOLS_DIR")${PYTHONPATH:+:$PYTHONPATH}" \
srun --partition="$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    "${EXTRA_SRUN_ARGS[@]}" \
    "${PYTHON:-python}" -u "$TOOLS_DIR/$SCRIPT" "${@:4}"
