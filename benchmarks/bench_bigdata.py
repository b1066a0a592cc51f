"""Benchmark of the out-of-core ipCF pipeline on a folder of TIFF files.

1. Generates (once; cached in ``benchmarks/_cache/``) a synthetic series of 4,608 frames of
   256 x 256 uint16 pixels as single-image TIFF files with µManager-style names:
   Poisson counts of a cell-like intensity pattern with photobleaching.
2. Reads the whole folder once (read throughput, MB/s).
3. Runs the whole pipeline: read, bleaching correction (filter 256 -> 4,096 frames),
   ipCF radius 6 / 32 points / 32 bins, write to Zarr, under a memory limit; reports pair
   correlations per second and peak RSS against the limit.
4. Measures the per-pair cost at the tutorial challenge's trace length (18,432 raw frames,
   bleach filter 1,024 -> 16,384 frames) on one block of the size the planner chooses for the
   challenge at ``--memory-limit 4GB`` (128 x 128 result pixels), and projects the time of the
   challenge (1024 x 512 result pixels, 16,777,216 pair correlations) on this machine as
   read time (challenge bytes / measured read throughput) + compute time (pairs / measured
   pair rate at T = 16,384, which includes bleaching correction, FFTs and halo overhead),
   times the overlap measured in step 3: the pipeline reads the next block while it computes
   one, so its wall time is ``overlap * (read + compute)`` with ``overlap`` measured as
   ``wall / (read + compute)`` of the 256 x 256 run (1.0 = no overlap).

Run: ``.venv/bin/python benchmarks/bench_bigdata.py [--memory-limit 1.5GB]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = HERE / "_cache" / "bigdata_4608x256x256"
T, H, W = 4608, 256, 256
BLEACH = 256
CHALLENGE_PAIRS = 16_777_216
CHALLENGE_PIXELS = (1024, 512)
CHALLENGE_FRAMES, CHALLENGE_BLEACH = 16384, 1024
CHALLENGE_LIMIT = "4GB"  # as in the example command; the tutorial's laptop has 8 GB


def generate(folder: Path) -> None:
    import tifffile

    done = folder / ".complete"
    if done.exists():
        return
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(2024)
    yy, xx = np.mgrid[:H, :W]
    cell = 40 + 400 * np.exp(-(((yy - 120) / 70.0) ** 2 + ((xx - 140) / 90.0) ** 2))
    texture = rng.uniform(0.7, 1.3, (H, W))
    print(f"generating {T} TIFF files of {H}x{W} in {folder} (once) ...", flush=True)
    for t in range(T):
        bleach = 0.4 + 0.6 * np.exp(-t / 3000.0)
        frame = rng.poisson(cell * texture * bleach).astype(np.uint16)
        tifffile.imwrite(folder / f"img_{t:09d}_Default_000.tif", frame)
    done.write_text("ok")


class PeakRSS:
    """Sample this process's RSS every few ms (ru_maxrss also reported)."""

    def __init__(self):
        import psutil

        self.proc = psutil.Process()
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memory-limit", default="1.5GB")
    args = ap.parse_args(argv)

    from pcfij.blocks.pipeline import current_rss, run_blocked_ipcf
    from pcfij.blocks.plan import parse_memory
    from pcfij.io.readers import open_source

    limit = parse_memory(args.memory_limit)
    generate(CACHE)
    ncores = os.cpu_count()
    print(f"machine: {ncores} cores; data: {T} frames of {H}x{W} uint16 as TIFF files")

    # ---- read throughput (page cache warm after generation or a previous run)
    t0 = time.perf_counter()
    src = open_source(CACHE)
    scan = time.perf_counter() - t0
    t0 = time.perf_counter()
    total = 0
    for a in range(0, T, 512):
        total += src.data[a : a + 512].compute(scheduler="threads").nbytes
    read_s = time.perf_counter() - t0
    read_mbs = total / 1e6 / read_s
    print(f"header scan: {T} files in {scan:.2f} s ({scan / T * 1e6:.0f} µs/file)")
    print(f"read: {total / 1e6:.0f} MB in {read_s:.2f} s = {read_mbs:.0f} MB/s (whole frames)")
    del src

    # ---- the whole pipeline under the memory limit
    tmp = Path(tempfile.mkdtemp(prefix="pcfij-bench-"))
    try:
        # warm the numba caches outside the measurement
        run_blocked_ipcf(
            np.random.default_rng(0).poisson(50, (600, 20, 20)).astype(np.uint16),
            tmp / "warm.zarr",
            radius=6,
            bleach_filter=64,
            progress=False,
            device="cpu",
        )
        base = current_rss()
        with PeakRSS() as rss:
            t0 = time.perf_counter()
            s = run_blocked_ipcf(
                CACHE,
                tmp / "result.zarr",
                radius=6,
                npoints=32,
                nbins=32,
                bleach_filter=BLEACH,
                memory_limit=limit,
                progress=False,
                device="cpu",
            )
            wall = time.perf_counter() - t0
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        pairs = s["pairs"]
        print(
            f"pipeline: result {s['shape']} in {s['blocks']} blocks of {s['block_shape']} "
            f"(memory limit {limit / 1e9:.2f} GB, estimated {s['block_bytes'] / 1e9:.2f} GB "
            f"per block, baseline RSS {base / 1e9:.2f} GB)"
        )
        print(
            f"  wall {wall:.1f} s: read {s['read_seconds']:.1f} s "
            f"({s['bytes_read'] / 1e6 / max(s['read_seconds'], 1e-9):.0f} MB/s incl. halo), "
            f"bleach+ipCF {s['compute_seconds']:.1f} s, "
            f"other {wall - s['read_seconds'] - s['compute_seconds']:.1f} s"
        )
        print(
            f"  pair correlations: {pairs:,} at T={T - 2 * BLEACH}: "
            f"{pairs / wall:,.0f} pairs/s overall, "
            f"{pairs / s['compute_seconds']:,.0f} pairs/s compute"
        )
        print(
            f"  peak RSS {rss.peak / 1e9:.2f} GB sampled (ru_maxrss {maxrss / 1e9:.2f} GB) vs "
            f"limit {limit / 1e9:.2f} GB: {100 * rss.peak / limit:.0f}% "
            f"({'OK' if rss.peak <= 1.10 * limit else 'OVER'} the +10% target)"
        )

        # ---- per-pair cost at the challenge's trace length
        tc = CHALLENGE_FRAMES + 2 * CHALLENGE_BLEACH
        # the block the planner chooses for the challenge under CHALLENGE_LIMIT
        from pcfij.blocks.plan import make_plan, parse_memory

        ch, cw = CHALLENGE_PIXELS
        cplan = make_plan((tc, ch + 12, cw + 12), radius=6, frames=CHALLENGE_FRAMES, itemsize=2,
                          npoints=32, nbins=30, bleach=True,
                          budget=parse_memory(CHALLENGE_LIMIT) - current_rss())
        rng = np.random.default_rng(1)
        blk = rng.poisson(200, (tc, cplan.by + 12, cplan.bx + 12)).astype(np.uint16)
        t0 = time.perf_counter()
        sc = run_blocked_ipcf(
            blk,
            tmp / "challenge.zarr",
            radius=6,
            npoints=32,
            nbins=32,
            bleach_filter=CHALLENGE_BLEACH,
            memory_limit=CHALLENGE_LIMIT,
            progress=False,
            device="cpu",
        )
        cwall = time.perf_counter() - t0
        rate16k = sc["pairs"] / sc["compute_seconds"]
        print(
            f"challenge trace length: one {cplan.by}x{cplan.bx} block (the planner's block for "
            f"the challenge at --memory-limit {CHALLENGE_LIMIT}) x {tc} frames (bleach "
            f"{CHALLENGE_BLEACH} -> {CHALLENGE_FRAMES}): {sc['pairs']:,} pairs in "
            f"{sc['compute_seconds']:.1f} s = {rate16k:,.0f} pairs/s (wall {cwall:.1f} s)"
        )
        del blk
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    ch, cw = CHALLENGE_PIXELS
    in_bytes = tc * (ch + 12) * (cw + 12) * 2
    halo = (cplan.by + 12) * (cplan.bx + 12) / (cplan.by * cplan.bx)  # re-read halo
    read_mbs = max(read_mbs, s["bytes_read"] / 1e6 / max(s["read_seconds"], 1e-9))
    read_proj = in_bytes * halo / 1e6 / read_mbs
    compute_proj = CHALLENGE_PAIRS / rate16k
    overlap = min(1.0, wall / max(s["read_seconds"] + s["compute_seconds"], 1e-9))
    proj_parts = overlap * (read_proj + compute_proj)
    # never project below the compute time alone (reading can at best hide behind it)
    proj = max(proj_parts, compute_proj)
    print(
        f"projected challenge ({ch}x{cw} pixels, {CHALLENGE_FRAMES} frames after "
        f"correction, {CHALLENGE_PAIRS:,} pairs) on this machine: {proj / 60:.1f} min "
        f"= read {read_proj:.0f} s ({in_bytes / 1e9:.1f} GB x {halo:.2f} halo at "
        f"{read_mbs:.0f} MB/s) + compute {compute_proj:.0f} s, x {overlap:.2f} measured "
        f"overlap of reading and computing [target <= 5 min: "
        f"{'met' if proj <= 300 else 'NOT met'}]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
