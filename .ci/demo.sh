#!/usr/bin/env bash
# Install posterm and run the simulated purchase.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install.sh demo
exec .venv/bin/posterm demo
