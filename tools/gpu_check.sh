#!/usr/bin/env bash
# The GPU check in one go, for a machine with Python 3.12, a CUDA build of
# torch, nvcc and no internet, without mmcv/mmengine/mmdet/mmseg (the lent
# H200; see docs/cost_report.md, "On a GPU"):
#
#   1. install  the carried wheels (tools/gpu_wheels.sh) of what is missing,
#               into WORK/site (pip --target; nothing else is touched);
#   2. build    mmcv 2.1.0 with its ops for this GPU's architecture only
#               (TORCH_CUDA_ARCH_LIST from torch.cuda.get_device_capability(),
#               MAX_JOBS from nproc), within --build-timeout; if that fails
#               or takes longer: mmcv without ops, and the mmdet part is
#               skipped (mmseg and the backbones need no compiled ops);
#   3. test     the CUDA tests: tests/test_cuda and every test of tests/
#               whose name (or file's) contains "cuda";
#   4. report   tools/report.py (full, head-only, protune@autograd, protune) at
#               --img-size for Mask R-CNN R50 and Swin-T and UperNet R50
#               (without mmdet: UperNet R50 and Swin-T).
#
#   bash tools/gpu_check.sh [options] [OUT_DIR]
#
# OUT_DIR (default $OUT if set, else work_dirs/gpu_check) gets NAME.json per
# report, report-png.tar (the bar charts), pytest.log and gpu_check.log.
# Options:
#   --dry-run            print the steps, run nothing (works without a GPU)
#   --phases LIST        comma-separated subset of install,build,test,report
#                        (default: all); WORK persists on a warm machine, so
#                        a second call can run the rest
#   --wheels DIR         carried wheels and mmcv sdist (default: .whl)
#   --work DIR           site packages, built mmcv wheel, raw reports
#                        (default: /tmp/mmprotune-gpu)
#   --build-timeout S    seconds for the mmcv ops build (default: 360)
#   --test-timeout S     seconds for each pytest run (default: 240)
#   --report-timeout S   seconds for each report (default: 240)
#   --models LIST        comma-separated reports to run (default: those
#                        above): mask-rcnn_r50, mask-rcnn_swin-t,
#                        upernet_r50, upernet_swin-t
#   --img-size N --steps N --warmup N   passed to tools/report.py
#                        (default: 512, 3, 1)
# The interpreter is $PYTHON if set, else python3.
# Exit status: the number of failed steps (0: all passed).
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRY=0
PHASES=install,build,test,report
WHEELS=$REPO/.whl
WORK=/tmp/mmprotune-gpu
BUILD_TIMEOUT=360
TEST_TIMEOUT=240
REPORT_TIMEOUT=240
IMG_SIZE=512
STEPS=3
WARMUP=1
OUT_DIR=
MODELS=
METHODS=full,head-only,protune@autograd,protune

usage() { sed -n '2,/^[^#]/p' "$0" | grep '^#'; }
need_value() {
    if [ $# -lt 2 ]; then
        echo "gpu_check.sh: $1 needs a value" >&2
        exit 2
    fi
}
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) DRY=1 ;;
        --phases) need_value "$@"; PHASES=$2; shift ;;
        --wheels) need_value "$@"; WHEELS=$2; shift ;;
        --work) need_value "$@"; WORK=$2; shift ;;
        --build-timeout) need_value "$@"; BUILD_TIMEOUT=$2; shift ;;
        --test-timeout) need_value "$@"; TEST_TIMEOUT=$2; shift ;;
        --report-timeout) need_value "$@"; REPORT_TIMEOUT=$2; shift ;;
        --img-size) need_value "$@"; IMG_SIZE=$2; shift ;;
        --steps) need_value "$@"; STEPS=$2; shift ;;
        --warmup) need_value "$@"; WARMUP=$2; shift ;;
        --models) need_value "$@"; MODELS=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "gpu_check.sh: unknown option $1; allowed: --dry-run," \
                "--phases, --wheels, --work, --build-timeout," \
                "--test-timeout, --report-timeout, --models, --img-size," \
                "--steps, --warmup" >&2
            exit 2 ;;
        *) OUT_DIR=$1 ;;
    esac
    shift
done
for phase in ${PHASES//,/ }; do
    case $phase in
        install|build|test|report) ;;
        *) echo "gpu_check.sh: unknown phase '$phase' in --phases; allowed:" \
               "install, build, test, report" >&2
           exit 2 ;;
    esac
done
OUT_DIR=${OUT_DIR:-${OUT:-$REPO/work_dirs/gpu_check}}
SITE=$WORK/site
PY=${PYTHON:-python3}
# mmengine and mmcv import pkg_resources, which warns at every import
export PYTHONWARNINGS='ignore:pkg_resources is deprecated:UserWarning'
export PYTHONPATH=$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1
cd "$REPO" || exit 2

# name, config, scope: the reports of step 4
REPORTS=(
    "mask-rcnn_r50 configs/mask-rcnn/mask-rcnn_protune-r50_fpn_1x_coco.py mmdet"
    "mask-rcnn_swin-t configs/mask-rcnn/mask-rcnn_protune-swin-t-p4-w7_fpn_1x_coco.py mmdet"
    "upernet_r50 configs/upernet/upernet_protune-r50_4xb4-160k_ade20k-512x512.py mmseg"
    # measured only when the mmdet part is skipped, for a Swin-T figure
    "upernet_swin-t configs/upernet/upernet_protune-swin-t-p4-w7_8xb2-160k_ade20k-512x512.py fallback"
)
NAMES=()
for entry in "${REPORTS[@]}"; do
    read -r name config _ <<<"$entry"
    NAMES+=("$name")
    if [ ! -f "$config" ]; then
        echo "gpu_check.sh: config $config not found" >&2
        exit 2
    fi
done
for name in ${MODELS//,/ }; do
    if [[ " ${NAMES[*]} " != *" $name "* ]]; then
        echo "gpu_check.sh: unknown report '$name' in --models; allowed:" \
            "${NAMES[*]}" >&2
        exit 2
    fi
done

FAILED=0
SUMMARY=()
if [ "$DRY" = 0 ]; then
    mkdir -p "$OUT_DIR" "$WORK"
    exec > >(tee -a "$OUT_DIR/gpu_check.log") 2>&1
    TEE_PID=$!
fi

run() {  # print a step, run it unless --dry-run
    echo "+ $*"
    [ "$DRY" = 1 ] || "$@"
}
record() {  # record a step's outcome: record WHAT EXIT_STATUS [OK_STATUS]
    if [ "$DRY" = 1 ]; then
        SUMMARY+=("planned $1")
    elif [ "$2" = 0 ] || [ "$2" = "${3:-0}" ]; then
        SUMMARY+=("ok      $1")
    elif [ "$2" = 124 ] || [ "$2" = 137 ]; then
        SUMMARY+=("FAILED  $1 (timed out: exit $2)")
        FAILED=$((FAILED + 1))
    else
        SUMMARY+=("FAILED  $1 (exit $2)")
        FAILED=$((FAILED + 1))
    fi
}
step() {  # run a step, record its outcome: step WHAT COMMAND...
    local what=$1
    shift
    run "$@"
    local rc=$?
    record "$what" "$rc"
    return "$rc"
}
has_phase() { [[ ",$PHASES," == *",$1,"* ]]; }
# mmcv's compiled ops with CUDA kernels are importable (the mmdet part)
has_cuda_ops() {
    $PY -c "import torch, mmcv.ops as o; assert torch.cuda.is_available() \
and o.get_compiling_cuda_version() != 'not available'" >/dev/null 2>&1
}
echo "gpu_check.sh: phases $PHASES; wheels $WHEELS; work $WORK; out $OUT_DIR"
[ "$DRY" = 1 ] && echo "(dry run: the steps are printed, not run)"
if [ "$DRY" = 0 ]; then
    $PY -c "import sys, torch; print('python', sys.version.split()[0], \
'torch', torch.__version__, 'CUDA', torch.version.cuda, 'GPU', \
torch.cuda.get_device_name() if torch.cuda.is_available() else None)"
    command -v nvcc >/dev/null && nvcc --version | tail -1
fi

if has_phase install; then
    echo "== 1. install the carried wheels of what is missing"
    if [ ! -d "$WHEELS" ]; then
        echo "gpu_check.sh: no folder $WHEELS: run tools/gpu_wheels.sh" \
            "where PyPI is reachable and carry it" >&2
        [ "$DRY" = 1 ] || exit 2
    fi
    # a wheel is installed when its distribution is not (setuptools: when
    # pkg_resources, which mmengine and mmcv's setup.py import, is not)
    mapfile -t MISSING < <($PY - "$WHEELS" <<'EOF'
import glob
import os
import sys
from importlib import metadata

for path in sorted(glob.glob(os.path.join(sys.argv[1], '*.whl'))):
    name = os.path.basename(path).split('-')[0]
    if name.lower() == 'setuptools':
        try:
            import pkg_resources  # noqa: F401
            continue
        except ImportError:
            print(path)
            continue
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        print(path)
EOF
    )
    if [ "${#MISSING[@]}" -gt 0 ]; then
        step "install ${#MISSING[@]} carried wheels" $PY -m pip install -q \
            --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target "$SITE" "${MISSING[@]}"
    else
        echo "nothing to install"
    fi
fi

if has_phase build; then
    echo "== 2. mmcv 2.1.0 with its ops, for this GPU only"
    if [ "$DRY" = 0 ] && has_cuda_ops; then
        echo "mmcv with CUDA ops already importable"
    else
        SDIST=$WHEELS/mmcv-2.1.0.tar.gz
        if [ "$DRY" = 1 ]; then
            ARCH='<major.minor of torch.cuda.get_device_capability()>'
        else
            ARCH=$($PY -c "import torch; \
print('%d.%d' % torch.cuda.get_device_capability())")
        fi
        JOBS=$(nproc)
        WHEEL_DIR=$WORK/mmcv-ops
        built=$(ls "$WHEEL_DIR"/mmcv-2.1.0-*.whl 2>/dev/null | head -1)
        if [ -z "$built" ]; then
            step "build mmcv ops (sm $ARCH, $JOBS jobs, ${BUILD_TIMEOUT}s)" \
                env MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$ARCH" \
                MAX_JOBS="$JOBS" timeout "$BUILD_TIMEOUT" $PY -m pip wheel \
                --no-index --no-deps --no-build-isolation --no-cache-dir \
                -w "$WHEEL_DIR" "$SDIST"
            built=$(ls "$WHEEL_DIR"/mmcv-2.1.0-*.whl 2>/dev/null | head -1)
        fi
        if [ -n "$built" ] || [ "$DRY" = 1 ]; then
            step "install mmcv with ops" $PY -m pip install -q --no-index \
                --no-deps --no-compile --upgrade --target "$SITE" \
                "${built:-$WHEEL_DIR/mmcv-2.1.0-<tag>.whl}"
        fi
        if [ "$DRY" = 1 ] || ! has_cuda_ops; then
            echo "fallback, if the ops build failed or took over" \
                "${BUILD_TIMEOUT}s: mmcv without ops, the mmdet part skipped"
            step "build mmcv without ops" env MMCV_WITH_OPS=0 \
                timeout 300 $PY -m pip wheel --no-index --no-deps \
                --no-build-isolation --no-cache-dir -w "$WORK/mmcv-lite" \
                "$SDIST"
            lite=$(ls "$WORK"/mmcv-lite/mmcv-2.1.0-*.whl 2>/dev/null | head -1)
            step "install mmcv without ops" $PY -m pip install -q \
                --no-index --no-deps --no-compile --upgrade --target "$SITE" \
                "${lite:-$WORK/mmcv-lite/mmcv-2.1.0-<tag>.whl}"
        fi
    fi
fi

# the mmdet part needs mmcv's CUDA ops (RoIAlign, NMS)
MMDET=1
if [ "$DRY" = 0 ] && { has_phase test || has_phase report; } &&
    ! has_cuda_ops; then
    MMDET=0
    echo "no mmcv CUDA ops: the mmdet part is skipped"
fi

if has_phase test; then
    echo "== 3. the CUDA tests"
    PYTEST=($PY -m pytest -q -p no:cacheprovider -rs)
    [ "$MMDET" = 0 ] && echo "(tests that build mmdet models need mmcv ops" \
        "and may fail)"
    PYTEST_LOG=$OUT_DIR/pytest.log
    [ "$DRY" = 1 ] && PYTEST_LOG=/dev/null
    if [ -d tests/test_cuda ]; then
        run timeout "$TEST_TIMEOUT" "${PYTEST[@]}" tests/test_cuda 2>&1 |
            tee -a "$PYTEST_LOG"
        record "pytest tests/test_cuda" "${PIPESTATUS[0]}"
    fi
    # exit status 5: no test outside tests/test_cuda is named for CUDA
    run timeout "$TEST_TIMEOUT" "${PYTEST[@]}" tests --ignore=tests/test_cuda \
        -k cuda 2>&1 | tee -a "$PYTEST_LOG"
    record "pytest tests -k cuda" "${PIPESTATUS[0]}" 5
fi

if has_phase report; then
    echo "== 4. tools/report.py at ${IMG_SIZE}x${IMG_SIZE}: $METHODS"
    pngs=()
    for entry in "${REPORTS[@]}"; do
        read -r name config scope <<<"$entry"
        if [ -n "$MODELS" ]; then  # as asked
            [[ ",$MODELS," == *",$name,"* ]] || continue
        elif [ "$scope" = fallback ] && [ "$MMDET" = 1 ]; then
            continue
        fi
        if [ "$scope" = mmdet ] && [ "$MMDET" = 0 ]; then
            SUMMARY+=("skipped $name (no mmcv ops)")
            continue
        fi
        step "report $name" timeout "$REPORT_TIMEOUT" $PY tools/report.py \
            "$config" --methods "$METHODS" --img-size "$IMG_SIZE" \
            --steps "$STEPS" --warmup "$WARMUP" \
            --out-dir "$WORK/report/$name"
        if [ "$DRY" = 0 ] && [ -f "$WORK/report/$name/report.json" ]; then
            cp "$WORK/report/$name/report.json" "$OUT_DIR/$name.json"
            pngs+=("$name/report.png")
        fi
    done
    if [ "${#pngs[@]}" -gt 0 ]; then
        run tar -C "$WORK/report" -cf "$OUT_DIR/report-png.tar" "${pngs[@]}"
    fi
fi

echo "== summary"
printf '%s\n' "${SUMMARY[@]}"
echo "$FAILED failed; files in $OUT_DIR"
if [ "$DRY" = 0 ]; then  # let tee write the whole log before returning
    exec >&- 2>&-
    wait "$TEE_PID" 2>/dev/null
fi
exit "$FAILED"
