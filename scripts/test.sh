#!/usr/bin/env bash
# README quick start, command 2: set everything up (Java, ImageJ, Xvfb, Python packages),
# then run the whole test suite (ruff + pytest). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check pcfij tests benchmarks
exec .venv/bin/python -m pytest "$@"
