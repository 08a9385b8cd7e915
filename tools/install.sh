#!/usr/bin/env bash
# Installs what mmprotune needs into the active python3, reusing what is present.
# Every pip call takes requirements/constraints.txt, so the result is the same
# whatever was installed before. Order matters: torch and torchvision first,
# then the build tools mmcv 2.1.0 needs, then mmcv built from source with its
# compiled ops (no wheel exists for current torch), then mmdet / mmseg /
# mmpretrain and this package.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
CONSTRAINTS=requirements/constraints.txt
PIP=("$PY" -m pip install --disable-pip-version-check -q -c "$CONSTRAINTS")

# missing NAME...: prints the names that are not installed, or not at the
# version requirements/constraints.txt pins.
missing() { "$PY" - "$CONSTRAINTS" "$@" <<'PYEOF'
import importlib.metadata as md, sys
from packaging.requirements import Requirement
pins = {}
for line in open(sys.argv[1], encoding='utf-8'):
    line = line.split('#')[0].strip()
    if line:
        req = Requirement(line)
        pins[req.name.lower()] = req.specifier
for name in sys.argv[2:]:
    try:
        version = md.version(name)
    except md.PackageNotFoundError:
        print(name)
        continue
    if version not in pins.get(name.lower(), version):
        print(name)
PYEOF
}

"$PY" -c 'import packaging' 2>/dev/null || "${PIP[@]}" packaging
if [ -n "$(missing torch torchvision)" ]; then
    echo "[install] torch torchvision"
    "${PIP[@]}" torch torchvision
fi
if [ -n "$(missing setuptools numpy)" ]; then
    echo "[install] setuptools numpy"
    "${PIP[@]}" setuptools numpy
fi
mmcv_ops_load() { "$PY" -c 'import mmcv.ops' 2>/dev/null; }
if [ -n "$(missing mmengine mmcv opencv-python)" ] || ! mmcv_ops_load; then
    echo "[install] mmcv 2.1.0 with ops (builds from source the first time: ~9 min on 2 cores)"
    "${PIP[@]}" mmengine opencv-python wheel ninja
    export MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2}
    "${PIP[@]}" --no-build-isolation mmcv
    if ! mmcv_ops_load; then
        # pip's wheel cache does not know which torch a cached build was made for
        echo "[install] mmcv's ops do not load with this torch: building again, without pip's cache"
        "${PIP[@]}" --no-build-isolation --no-cache-dir --force-reinstall --no-deps mmcv
    fi
fi
if [ -n "$(missing mmdet mmsegmentation mmpretrain ftfy regex pycocotools pytest matplotlib)" ]; then
    echo "[install] mmdet mmsegmentation mmpretrain and test tools"
    "${PIP[@]}" mmdet mmsegmentation mmpretrain ftfy regex pycocotools "pytest>=7" matplotlib
fi
repo=$(pwd)
if ! (cd / && "$PY" -c 'import mmprotune, os, sys; sys.exit(not os.path.samefile(os.path.dirname(os.path.dirname(mmprotune.__file__)), sys.argv[1]))' "$repo") 2>/dev/null; then
    echo "[install] mmprotune (editable)"
    "${PIP[@]}" --no-deps --no-build-isolation -e .
fi
