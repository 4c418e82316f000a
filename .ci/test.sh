#!/usr/bin/env bash
# Everything the tests need, then the tests: apt packages, venv, pcscd, lint, types, suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install.sh test
bash .ci/start-pcscd.sh
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/lint-imports
.venv/bin/python -m pytest -p no:cacheprovider "$@"
