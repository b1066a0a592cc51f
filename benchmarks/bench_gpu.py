"""GPU against CPU for the four workloads of issue #14, measured in one run; prints a table.

Cases (GPU and CPU on the same inputs, after a warm-up of both: numba compilation, CuPy
kernels and FFT plans are not timed):

* **ipCF** 16384 x 256 x 256 (radius 6, 32 points, 32 bins) -- the whole image on the GPU;
  on the CPU only a band of ``--cpu-rows`` result rows (default 32 of 244), its time scaled
  by ``244 / rows`` (the cost is the same per result row); the table says so. The
  difference is taken on that band.
* **CCC** 2048 x 2048 with a mask, confidence and contribution images (simulated pairs).
* **Shift** ``find_local_shifts`` 1024 x 1024 (win_size 7, margin 10; smooth deformation
  of a speckle image); CPU on all cores.
* **Blocked** the out-of-core pipeline on one block of the challenge's geometry (64 x 256
  result pixels plus halo, 18432 raw frames, bleaching filter 1024 -> 16384 frames, memory
  limit 4 GB), written to Zarr, from an array in memory.

Inputs are random (their statistics do not change the cost); the differences printed are
between the GPU and the CPU results.

``--dry-run`` checks the whole script on a machine without a GPU, at small sizes: the ipCF
and blocked cases run pcfij's GPU code path with NumPy standing in for CuPy
(``GpuBackend(xp=numpy)``); CCC and shift, whose GPU paths need CuPy itself, run on the CPU
in the GPU column. The table marks every stand-in.

Run: ``python benchmarks/bench_gpu.py [--dry-run] [--json PATH] [--budget SECONDS]``
(``scripts/gpu_check.sh`` runs it on a lent GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

RADIUS, NPOINTS, NBINS = 6, 32, 32


class Table:
    """Rows of the result table (also written as JSON)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, case: str, gpu_s, cpu_s, diff, note: str = "") -> None:
        speed = cpu_s / gpu_s if gpu_s and cpu_s else None
        self.rows.append(dict(case=case, gpu_s=gpu_s, cpu_s=cpu_s, speedup=speed, diff=diff,
                              note=note))
        print(f"  {case}: GPU {_fmt(gpu_s)} s, CPU {_fmt(cpu_s)} s, speed-up "
              f"{_fmt(speed, 'x')}, max |gpu - cpu| {_fmt(diff, 'e')}  {note}", flush=True)

    def print(self) -> None:
        head = f"{'case':<42} {'GPU s':>8} {'CPU s':>8} {'speed-up':>9} {'|gpu-cpu|':>9}  note"
        print("\n" + head)
        print("-" * len(head))
        for r in self.rows:
            print(f"{r['case']:<42} {_fmt(r['gpu_s']):>8} {_fmt(r['cpu_s']):>8} "
                  f"{_fmt(r['speedup'], 'x'):>9} {_fmt(r['diff'], 'e'):>9}  {r['note']}")


def _fmt(x, kind: str = "s") -> str:
    if x is None:
        return "-"
    if kind == "x":
        return f"{x:.1f}x"
    if kind == "e":
        return f"{x:.1e}"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def timed(fn: Callable, *args, sync=None, **kw):
    """``(fn(*args, **kw), seconds)``; ``sync()`` (GPU stream) is waited for before stopping."""
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    if sync is not None:
        sync()
    return out, time.perf_counter() - t0


def host(a) -> np.ndarray:
    """A NumPy array of ``a`` (CuPy arrays are copied from the device)."""
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


# ----------------------------------------------------------------------------- stand-in
def use_numpy_for_gpu() -> None:
    """Dry run: ipcf's ``device="gpu"`` runs the GPU code path with NumPy standing in."""
    import importlib

    from pcfij.kernels.backend import CpuBackend, GpuBackend, parse_device

    # the module, not the function ``pcfij.pcf.ipcf`` that shadows it as an attribute
    ipcf_module = importlib.import_module("pcfij.pcf.ipcf")

    def get_backend(device="auto", *, fallback=False):
        return GpuBackend(xp=np) if parse_device(device) == "gpu" else CpuBackend()

    ipcf_module.get_backend = get_backend


# ----------------------------------------------------------------------------- cases
def case_ipcf(table: Table, frames: int, size: int, cpu_rows: int, sync, note: str) -> None:
    from pcfij.pcf import ipcf

    rng = np.random.default_rng(8)
    data = rng.integers(20, 80, (frames, size, size), dtype=np.uint16)
    warm = data[:64, :20, :20]
    for dev in ("gpu", "cpu"):
        ipcf(warm, RADIUS, NPOINTS, NBINS, device=dev)
    g, t_gpu = timed(ipcf, data, RADIUS, NPOINTS, NBINS, device="gpu", sync=sync)
    oh = size - 2 * RADIUS
    band = min(cpu_rows, oh)
    c, t_band = timed(ipcf, data[:, : band + 2 * RADIUS], RADIUS, NPOINTS, NBINS, device="cpu")
    t_cpu = t_band * oh / band
    diff = float(np.nanmax(np.abs(host(g)[:band] - host(c))))
    scaled = "" if band == oh else f"CPU timed on {band} of {oh} result rows, x{oh / band:.2f}; "
    table.add(f"ipCF {frames}x{size}x{size} r{RADIUS} {NPOINTS}p {NBINS}b", t_gpu, t_cpu,
              diff, scaled + f"{g.params['device']} ran; " + note)


def case_ccc(table: Table, size: int, gpu_device: str, sync, note: str) -> None:
    from pcfij.ccc import ccc
    from pcfij.simulate.pairs import correlated_pairs

    kw = dict(contributions=True, confidence=True)
    small = correlated_pairs((128, 128), distance=4, n_pairs=60, cells=2, seed=3)
    for dev in (gpu_device, "cpu"):
        ccc(small.image1, small.image2, small.mask, device=dev, **kw)
    s = correlated_pairs((size, size), distance=8.0, n_pairs=max(60, size * size // 350),
                         cells=12, seed=4)
    g, t_gpu = timed(ccc, s.image1, s.image2, s.mask, device=gpu_device, sync=sync, **kw)
    c, t_cpu = timed(ccc, s.image1, s.image2, s.mask, device="cpu", **kw)
    diff = abs(float(g.mean) - float(c.mean)) / max(abs(float(c.mean)), 1e-12)
    table.add(f"CCC {size}x{size} mask+confidence+contrib.", t_gpu, t_cpu, diff,
              f"diff = relative |mean| difference (mean {float(c.mean):.4g}); " + note)


def case_shift(table: Table, size: int, gpu_flag, sync, note: str) -> None:
    from pcfij import shift as S
    from pcfij.simulate import shifts as sim

    win, margin = 7, 10
    w = sim.speckle((64, 64), seed=0)
    for flag in (gpu_flag, False):
        S.find_local_shifts(w, sim.shift_image(w, 0.3, 0.2), win_size=win, margin=5, gpu=flag)
    ref = sim.speckle((size, size), sigma=1.5, seed=2)
    mat = sim.warp(ref, *sim.smooth_field((size, size), amplitude=1.5, period=96, seed=1))
    (gx, gy), t_gpu = timed(S.find_local_shifts, ref, mat, win_size=win, margin=margin,
                            gpu=gpu_flag, sync=sync)
    (cx, cy), t_cpu = timed(S.find_local_shifts, ref, mat, win_size=win, margin=margin,
                            gpu=False, ncore=os.cpu_count())
    diff = float(max(np.abs(host(gx) - host(cx)).max(), np.abs(host(gy) - host(cy)).max()))
    table.add(f"shift find_local_shifts {size}x{size} w{win} m{margin}", t_gpu, t_cpu, diff,
              "diff in pixels; " + note)


def case_blocked(table: Table, shape: tuple[int, int, int], bleach: int, sync, note: str,
                 tmp: Path) -> None:
    from pcfij.blocks.pipeline import open_result, run_blocked_ipcf

    rng = np.random.default_rng(1)
    block = rng.integers(100, 300, shape, dtype=np.uint16)
    warm = rng.integers(20, 80, (600, 20, 20), dtype=np.uint16)
    kw = dict(radius=RADIUS, npoints=NPOINTS, nbins=NBINS, bleach_filter=bleach,
              memory_limit="4GB", progress=False)
    for dev in ("gpu", "cpu"):
        run_blocked_ipcf(warm, tmp / f"warm_{dev}.zarr", **dict(kw, bleach_filter=64),
                         device=dev)
    res = {}
    for dev in ("gpu", "cpu"):
        s, t = timed(run_blocked_ipcf, block, tmp / f"{dev}.zarr", device=dev, **kw,
                     sync=sync if dev == "gpu" else None)
        res[dev] = (s, t)
    a = np.asarray(open_result(tmp / "gpu.zarr")[0][:])
    b = np.asarray(open_result(tmp / "cpu.zarr")[0][:])
    diff = float(np.nanmax(np.abs(a - b)))
    s = res["cpu"][0]
    t, h, w = shape
    table.add(f"blocked {h - 2 * RADIUS}x{w - 2 * RADIUS} px x {t} fr (bleach {bleach})",
              res["gpu"][1], res["cpu"][1], diff,
              f"{s['pairs']:,} pairs in {s['blocks']} block(s); wall incl. bleaching + "
              "Zarr write; " + note)


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true",
                    help="no GPU: small sizes, NumPy standing in for CuPy where it can")
    ap.add_argument("--json", help="also write the table as JSON to this file")
    ap.add_argument("--cases", default="ipcf,ccc,shift,blocked")
    ap.add_argument("--cpu-rows", type=int, default=32,
                    help="result rows of the ipCF case timed on the CPU (then scaled)")
    ap.add_argument("--budget", type=float, default=420.0,
                    help="seconds; cases not started by then are skipped")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    t_start = time.perf_counter()
    from pcfij.kernels import get_backend, gpu_available

    if args.dry_run:
        use_numpy_for_gpu()
        sync = None
        stand_in = "DRY RUN: NumPy stands in for CuPy"
        cpu_in_gpu_column = "DRY RUN: CPU in the GPU column"
        sizes = dict(frames=1024, size=48, ccc=256, shift=128, block=(2200, 28, 44), bleach=64)
        gpu_device, gpu_flag = "cpu", False
        print("bench_gpu --dry-run: no GPU used; small sizes; checks the script end to end")
    else:
        if not gpu_available():
            print("bench_gpu: no usable GPU (CuPy with a CUDA device); use --dry-run to check "
                  "the script without one", file=sys.stderr)
            return 1
        be = get_backend("gpu")
        sync = be.synchronize
        stand_in = cpu_in_gpu_column = ""
        sizes = dict(frames=16384, size=256, ccc=2048, shift=1024, block=(18432, 76, 268),
                     bleach=1024)
        gpu_device, gpu_flag = "gpu", True
        props = be.xp.cuda.runtime.getDeviceProperties(0)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        mem = be.memory()
        print(f"GPU: {name}, {mem.total / 2**30:.0f} GiB ({mem.free / 2**30:.0f} GiB free); "
              f"CuPy {be.xp.__version__}; CPU: {os.cpu_count()} cores")
    table = Table()
    tmp = Path(tempfile.mkdtemp(prefix="pcfij-bench-gpu-"))
    failed = 0
    runs = {
        "ipcf": lambda: case_ipcf(table, sizes["frames"], sizes["size"], args.cpu_rows, sync,
                                  stand_in),
        "ccc": lambda: case_ccc(table, sizes["ccc"], gpu_device, sync, cpu_in_gpu_column),
        "shift": lambda: case_shift(table, sizes["shift"], gpu_flag, sync, cpu_in_gpu_column),
        "blocked": lambda: case_blocked(table, sizes["block"], sizes["bleach"], sync, stand_in,
                                        tmp),
    }
    try:
        for name in [c.strip() for c in args.cases.split(",") if c.strip()]:
            if name not in runs:
                print(f"bench_gpu: unknown case {name!r}; cases: {', '.join(runs)}",
                      file=sys.stderr)
                return 2
            elapsed = time.perf_counter() - t_start
            if elapsed > args.budget:
                table.add(name, None, None, None, f"SKIPPED: {elapsed:.0f} s > budget")
                continue
            print(f"[{elapsed:5.0f} s] {name} ...", flush=True)
            try:
                runs[name]()
            except Exception as exc:  # noqa: BLE001 - one broken case must not hide the others
                failed += 1
                traceback.print_exc()
                table.add(name, None, None, None, f"FAILED: {type(exc).__name__}: {exc}"[:160])
            if not args.dry_run:
                get_backend("gpu").release()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table.print()
    print(f"total {time.perf_counter() - t_start:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"dry_run": args.dry_run, "rows": table.rows}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
