#!/usr/bin/env bash
# Installs what mmprotune needs into the active python3, reusing what is present.
# Order matters: torch first, then the build tools mmcv 2.1.0 needs, then mmcv built
# from source with its compiled ops (no wheel exists for current torch), then
# mmdet / mmseg and this package.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
PIP=("$PY" -m pip install --disable-pip-version-check -q)

have() { "$PY" - "$@" <<'PYEOF' >/dev/null 2>&1
import importlib.metadata as md, sys
from packaging.version import Version
from packaging.specifiers import SpecifierSet
name, spec = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else '')
v = md.version(name)
sys.exit(0 if not spec or Version(v) in SpecifierSet(spec) else 1)
PYEOF
}

"$PY" -c 'import packaging' 2>/dev/null || "${PIP[@]}" packaging
if ! have torch; then
    echo "[install] torch"
    "${PIP[@]}" "torch==2.13.0" || "${PIP[@]}" torch
fi
if ! have setuptools '<81' || ! have numpy '<2'; then
    echo "[install] setuptools<81 numpy<2"
    "${PIP[@]}" "setuptools<81" "numpy<2"
fi
if ! have mmcv '==2.1.0' || ! "$PY" -c 'import mmcv.ops' 2>/dev/null; then
    echo "[install] mmcv 2.1.0 with ops (builds from source the first time: ~6 min on 2 cores)"
    "${PIP[@]}" "mmengine==0.10.7" wheel ninja
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} "${PIP[@]}" --no-build-isolation "mmcv==2.1.0"
fi
if ! have mmdet '==3.3.0' || ! have mmsegmentation '==1.2.2' || ! have ftfy \
        || ! have pycocotools || ! have pytest || ! have matplotlib; then
    echo "[install] mmdet mmsegmentation and test tools"
    "${PIP[@]}" "mmdet==3.3.0" "mmsegmentation==1.2.2" ftfy regex pycocotools \
        "pytest>=7" matplotlib
fi
repo=$(pwd)
if ! (cd / && "$PY" -c 'import mmprotune, os, sys; sys.exit(not os.path.samefile(os.path.dirname(os.path.dirname(mmprotune.__file__)), sys.argv[1]))' "$repo") 2>/dev/null; then
    echo "[install] mmprotune (editable)"
    "${PIP[@]}" --no-deps --no-build-isolation -e .
fi
