#!/usr/bin/env bash
# Installs what is missing, then runs the whole test suite.
# pytest's exit status is passed on, so "no tests collected" (5) fails too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/install.sh
# idle OpenMP threads sleep instead of spinning: several times faster when
# other processes share the cores (CI machines, the Runner's dataloaders)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
exec "${PYTHON:-python3}" -m pytest tests -q -p no:cacheprovider "$@"
