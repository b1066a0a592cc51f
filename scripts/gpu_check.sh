#!/usr/bin/env bash
# The GPU check of pcfij (issue #14): GPU-marked tests + GPU benchmarks, one short table.
#
#   bash scripts/gpu_check.sh             on a machine with an NVIDIA GPU (at most ~9 minutes:
#                                         tests stop at 180 s, benchmarks at 330 s)
#   bash scripts/gpu_check.sh --dry-run   anywhere: the same steps, NumPy standing in for CuPy
#   bash scripts/gpu_check.sh --wheels    here, once, with PyPI reachable: download the wheels
#                                         a bare GPU machine lacks (dask, zarr, ...) into
#                                         benchmarks/_cache/gpu_wheels (git-ignored)
#
# Python: $PCFIJ_PYTHON, else ./.venv/bin/python when it works, else python3 (on a lent GPU
# machine the venv does not travel; its python3 has NumPy, SciPy, numba and CuPy). pcfij runs
# from this checkout (PYTHONPATH). When dask or zarr is missing, the wheels in
# benchmarks/_cache/gpu_wheels are installed into a scratch folder first (no index needed). The gpu extra (cupy-cuda12x) is installed with pip
# only when no CuPy imports at all.
#
# Without a usable CUDA GPU (and without --dry-run) it prints one line on stderr and exits 1.
# Output: the pytest log, the benchmark log and table (JSON) go to $OUT when set (the device
# tool's folder that comes back), else benchmarks/_cache/gpu_check/.
#
# Through the device tool (limits: 10 minutes a command, 64 MiB of files):
#   run(command="bash scripts/gpu_check.sh", carry=["benchmarks/_cache/gpu_wheels"],
#       timeout_s=540)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WHEELS=benchmarks/_cache/gpu_wheels
MODE=gpu
case "${1:-}" in
  --dry-run) MODE=dry ;;
  --wheels) MODE=wheels ;;
  "") ;;
  *) echo "gpu_check: unknown option ${1}; use --dry-run or --wheels" >&2; exit 2 ;;
esac

if [ -n "${PCFIJ_PYTHON:-}" ]; then PY=$PCFIJ_PYTHON
elif [ -x .venv/bin/python ] && .venv/bin/python -c "import numba, scipy" >/dev/null 2>&1; then
  PY=.venv/bin/python
else PY=python3; fi

if [ "$MODE" = wheels ]; then
  # the versions this checkout's venv uses where it has them; the GPU machine runs Python 3.12
  pins=$("$PY" - <<'EOF'
from importlib.metadata import PackageNotFoundError, version
names = ["dask", "zarr", "numcodecs", "donfig", "partd", "locket", "google-crc32c"]
out = []
for n in names:
    try:
        out.append(f"{n}=={version(n)}")
    except PackageNotFoundError:
        out.append(n)
print(" ".join(out))
EOF
)
  mkdir -p "$WHEELS"
  # shellcheck disable=SC2086
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 -d "$WHEELS" $pins || {
      echo "gpu_check: could not download the wheels ($pins)" >&2; exit 1; }
  echo "gpu_check: wheels in $WHEELS ($(du -sh "$WHEELS" | cut -f1)): $(ls "$WHEELS" | tr '\n' ' ')"
  exit 0
fi

LOGS=${OUT:-$ROOT/benchmarks/_cache/gpu_check}
mkdir -p "$LOGS"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
if compgen -G "$WHEELS/*.whl" >/dev/null && ! "$PY" -c "import dask, zarr" >/dev/null 2>&1; then
  SITE=$(mktemp -d /tmp/pcfij-gpu-site.XXXXXX)
  if "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "$WHEELS"/*.whl \
      >"$LOGS/wheels.log" 2>&1; then
    export PYTHONPATH="$PYTHONPATH:$SITE"  # after the checkout; never shadows pcfij
  else
    echo "gpu_check: installing $WHEELS failed (see $LOGS/wheels.log); going on without" >&2
  fi
fi

if [ "$MODE" = gpu ]; then
  if ! "$PY" -c "import cupy" >/dev/null 2>&1; then  # the gpu extra, when pip can reach it
    "$PY" -m pip install -q "cupy-cuda12x>=13" >"$LOGS/cupy_install.log" 2>&1 || true
  fi
  why=$("$PY" - 2>&1 <<'EOF'
import sys
try:
    import cupy
    n = cupy.cuda.runtime.getDeviceCount()
except Exception as exc:  # noqa: BLE001
    msg = str(exc).strip().splitlines()
    print(f"{type(exc).__name__}: {msg[-1] if msg else ''}")
    sys.exit(1)
from pcfij.kernels import gpu_available
if n < 1 or not gpu_available():
    print(f"CuPy {cupy.__version__} sees {n} CUDA device(s)")
    sys.exit(1)
EOF
) || {
    echo "gpu_check: no usable CUDA GPU ($(echo "$why" | tail -n 1)); nothing checked -- run it on a lent GPU or use --dry-run" >&2
    exit 1
  }
fi

echo "gpu_check: python $("$PY" -c 'import sys; print(sys.version.split()[0])') ($PY), mode $MODE"
"$PY" - <<'EOF'
import importlib
for n in ("numpy", "scipy", "numba", "cupy", "dask", "zarr"):
    try:
        print(f"  {n} {importlib.import_module(n).__version__}")
    except Exception as exc:  # noqa: BLE001
        print(f"  {n}: not importable ({type(exc).__name__})")
EOF
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total \
  --format=csv,noheader | sed 's/^/  GPU: /'

# ---- GPU-marked tests (only the files that have some: others may need packages not here)
mapfile -t files < <(grep -l "mark.gpu" tests/test_*.py)
echo "gpu_check: pytest -m gpu ${files[*]}"
timeout 180 "$PY" -m pytest -m gpu -q -p no:cacheprovider "${files[@]}" 2>&1 | tee "$LOGS/pytest_gpu.log"
test_rc=${PIPESTATUS[0]}

# ---- benchmarks
bench_args=(--json "$LOGS/bench_gpu.json" --budget 240)
[ "$MODE" = dry ] && bench_args+=(--dry-run)
timeout 330 "$PY" benchmarks/bench_gpu.py "${bench_args[@]}" 2>&1 | tee "$LOGS/bench_gpu.log"
bench_rc=${PIPESTATUS[0]}

summary=$(grep -E "passed|failed|error|skipped|no tests ran" "$LOGS/pytest_gpu.log" | tail -n 1)
echo
echo "gpu_check summary ($MODE): tests rc=$test_rc [$summary]; benchmarks rc=$bench_rc; logs in $LOGS"
[ "$test_rc" = 0 ] && [ "$bench_rc" = 0 ]
