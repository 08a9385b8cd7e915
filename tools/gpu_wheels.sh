#!/usr/bin/env bash
# Download, here (internet to PyPI), what tools/gpu_check.sh installs on the
# lent GPU machine (Python 3.12, CUDA builds of torch 2.11 and torchvision
# 0.26, nvcc, no internet, no OpenMMLab packages): the Python 3.12 x86_64
# wheels of the OpenMMLab packages and of their needs that its image lacks,
# and the mmcv 2.1.0 source, which gpu_check.sh compiles there.
#
#   bash tools/gpu_wheels.sh [--dry-run] [DEST]     # DEST: default .whl
#
# Not carried: numpy, scipy, matplotlib (and its needs), opencv-python-
# headless, pillow, torch: the image has them (KINDS.md's package list,
# 2026-11-17), and opencv alone (~50 MiB) would not fit the 64 MiB the
# working tree may take to the machine. gpu_check.sh installs only the
# wheels whose distribution is missing there, so the small ones of the
# image carried below as a fallback cost nothing when present.
# The interpreter is $PYTHON if set, else python3.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRY=0
DEST=
for arg in "$@"; do
    case $arg in
        --dry-run) DRY=1 ;;
        -h|--help) sed -n '2,/^[^#]/p' "$0" | grep '^#'; exit 0 ;;
        -*) echo "gpu_wheels.sh: unknown option $arg (allowed: --dry-run)" >&2
            exit 2 ;;
        *) DEST=$arg ;;
    esac
done
DEST=${DEST:-$REPO/.whl}
PY=${PYTHON:-python3}
# the working tree (about 1 MiB) travels too: keep the wheels well below
LIMIT_MIB=${GPU_WHEELS_LIMIT_MIB:-56}

# Missing from the image: the OpenMMLab packages and their own needs.
REQUIRED=(
    mmengine==0.10.7 mmdet==3.3.0 mmsegmentation==1.2.2
    addict==2.4.0 yapf==0.43.0 platformdirs==4.14.9 termcolor==3.3.0
    pycocotools==2.0.11 shapely==2.2.0 terminaltables==3.1.10
    ftfy==6.3.1 wcwidth==0.9.4 prettytable==3.18.0
    mmpretrain==1.2.0 mat4py==0.6.0 modelindex==0.0.2 model-index==0.1.11
    ordered-set==4.1.0 importlib-metadata==10.2.0 lazy-importer==0.1.0
    # pkg_resources (mmengine at import, mmcv's setup.py): gone in 81
    setuptools==80.9.0
)
# In the image today; small, carried in case a later image drops them.
FALLBACK=(
    pyyaml==6.0.2 rich==14.0.0 markdown-it-py==3.0.0 mdurl==0.1.2
    pygments==2.19.2 tqdm==4.67.1 six==1.17.0 packaging==25.0
    regex==2024.11.6 pytest==8.4.1 pluggy==1.6.0 iniconfig==2.1.0
)
PLATFORM=(--only-binary=:all: --python-version 3.12 --implementation cp
          --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
          --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64
          --platform manylinux2014_x86_64 --platform manylinux1_x86_64)

run() {
    echo "+ $*"
    if [ "$DRY" = 0 ]; then "$@"; fi
}

run mkdir -p "$DEST"
run "$PY" -m pip download -q --no-deps "${PLATFORM[@]}" -d "$DEST" \
    "${REQUIRED[@]}" "${FALLBACK[@]}"
run "$PY" -m pip download -q --no-deps --no-binary :all: -d "$DEST" \
    mmcv==2.1.0
[ "$DRY" = 1 ] && exit 0

size=$(du -sm "$DEST" | cut -f1)
ls -l "$DEST"
echo "$DEST: ${size} MiB (limit ${LIMIT_MIB} MiB)"
if [ "$size" -gt "$LIMIT_MIB" ]; then
    echo "gpu_wheels.sh: $DEST is ${size} MiB, over ${LIMIT_MIB} MiB: the" \
        "working tree may take 64 MiB in all to the GPU machine" >&2
    exit 1
fi
