#!/usr/bin/env bash
# README quick start, command 1: set everything up, then run the demo on simulated data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/pcfij demo "$@"
