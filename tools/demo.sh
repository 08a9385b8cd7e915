#!/usr/bin/env bash
# The Pro-tuning demo: installs what is missing, then pretrains a ResNet-18,
# Pro-tunes a detector with it frozen and evaluates it (about 10 minutes on a
# 2-core CPU). Arguments go to tools/demo.py, e.g. --quick or --work-dir DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/install.sh
exec "${PYTHON:-python3}" tools/demo.py "$@"
