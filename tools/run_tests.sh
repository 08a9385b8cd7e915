#!/usr/bin/env bash
# Installs what is missing, then runs the whole test suite.
# pytest's exit status is passed on, so "no tests collected" (5) fails too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/install.sh
exec "${PYTHON:-python3}" -m pytest tests -q -p no:cacheprovider "$@"
