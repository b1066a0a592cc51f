"""Benchmark: pcfij's ipCF against a straightforward NumPy version of the tutorial's
optimised algorithm, measured in the same run.

Baseline (single thread, NumPy): forward rfft of every trace once (float64), one irfft per
pixel pair, the symmetry trick (the reversed curve of pair (p, q) fills q's mirrored
point), bin averages with ``numpy.add.reduceat`` and the smoothing as one small matrix
product (the smoothing is linear). Because the baseline takes about a minute on the full
image, by default it runs on the whole image (``--rows N`` times its pair loop on N result
rows only and extrapolates: baseline time = FFTs + time per pair x all pairs; the top rows
have fewer cheap reversed curves, so that overestimates the baseline a little).

Usage::

    .venv/bin/python benchmarks/bench_ipcf.py            # 16384 x 64 x 64, radius 6, 32/32
    .venv/bin/python benchmarks/bench_ipcf.py --frames 4096 --rows 4   # baseline on 4 rows

Prints both times, their ratio (target >= 15x with both cores) and microseconds per pair
correlation per core. The GPU path is compared with the CPU path by
``benchmarks/bench_gpu.py`` (``scripts/gpu_check.sh``).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits

from pcfij.pcf import circle, ipcf, logbins, smooth
from pcfij.simulate import simulate_channel


def smoothing_matrix(nbins: int) -> np.ndarray:
    """The tutorial's smoothing as a matrix (it is linear): smooth(c) == S @ c."""
    return np.stack([smooth(e) for e in np.eye(nbins)], axis=1)


def baseline_spectra(data: np.ndarray) -> np.ndarray:
    """The baseline's forward step: rfft of every pixel's trace, once (float64)."""
    return np.fft.rfft(np.moveaxis(data, 0, -1).astype(np.float64), axis=-1)


def baseline_ipcf(data: np.ndarray, spec: np.ndarray, radius: int, npoints: int, nbins: int,
                  rows: int):
    """Tutorial-style optimised ipCF in NumPy on the first ``rows`` result rows.

    Returns the result rows and the number of pair correlations computed (a reversed curve
    from the symmetry reuse counts as a pair correlation too)."""
    ntimes, height, width = data.shape
    cc = circle(radius, npoints)
    bins = logbins(ntimes // 2, nbins)
    edges = np.concatenate([[0], bins[:-1]])
    counts = np.diff(np.concatenate([[0], bins]))
    smat = smoothing_matrix(len(bins))
    oh, ow = height - 2 * radius, width - 2 * radius
    result = np.zeros((oh, ow, npoints, len(bins)), np.float32)
    done = np.zeros((oh, ow, npoints), bool)
    pairs = 0

    def finish(c, scale):
        avg = np.add.reduceat(c, edges) / counts
        return smat @ (avg * scale) - 1.0

    for y in range(radius, radius + rows):
        for x in range(radius, width - radius):
            fa = spec[y, x].conj()
            for i, (u, v) in enumerate(cc):
                if done[y - radius, x - radius, i]:
                    continue
                fb = spec[y + v, x + u]
                c = np.fft.irfft(fa * fb, ntimes)
                scale = ntimes / (fa[0].real * fb[0].real)
                result[y - radius, x - radius, i] = finish(c[: ntimes // 2], scale)
                done[y - radius, x - radius, i] = True
                pairs += 1
                yy, xx = y + v - radius, x + u - radius
                if 0 <= yy < oh and 0 <= xx < ow:
                    j = (i + npoints // 2) % npoints
                    if (cc[j] == -cc[i]).all() and not done[yy, xx, j]:
                        rev = np.concatenate([[c[0]], c[:0:-1]])[: ntimes // 2]
                        result[yy, xx, j] = finish(rev, scale)
                        done[yy, xx, j] = True
                        pairs += 1
    return result[:rows], pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=16384)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--rows", type=int, default=0,
                        help="baseline result rows to time (default: all, no extrapolation)")
    args = parser.parse_args()
    radius, npoints, nbins = 6, 32, 32
    ncores = len(os.sched_getaffinity(0))
    data = simulate_channel(args.frames, args.size, seed=7)
    ipcf(data[:64, :16, :16], radius, npoints, nbins, device="cpu")  # compile kernels
    oh = args.size - 2 * radius
    total_pairs = oh * oh * npoints
    args.rows = min(args.rows or oh, oh)

    times = []
    for _ in range(4):  # the first call also pays one-time costs (FFT plans, fresh memory)
        t0 = time.perf_counter()
        fast = ipcf(data, radius, npoints, nbins, device="cpu")
        times.append(time.perf_counter() - t0)
    t_cold, t_fast = times[0], min(times[1:])

    with threadpool_limits(limits=1):
        t0 = time.perf_counter()
        spec = baseline_spectra(data)  # whole image, once
        t_base_fft = time.perf_counter() - t0
        t0 = time.perf_counter()
        base, base_pairs = baseline_ipcf(data, spec, radius, npoints, nbins, args.rows)
        t_base_part = time.perf_counter() - t0
    # rows near the top may still lack some reversed curves; compare those computed
    err = float(np.nanmax(np.abs(fast[: args.rows] - base)[base != 0]))
    per_pair_base = t_base_part / base_pairs
    t_base = t_base_fft + per_pair_base * total_pairs
    print(f"data: {args.frames} frames x {args.size} x {args.size}, radius {radius}, "
          f"{npoints} points, {fast.shape[-1]} bins, {total_pairs} pair correlations")
    print(f"baseline (NumPy, 1 thread): forward FFTs {t_base_fft:.2f} s + "
          f"{per_pair_base * 1e6:.1f} us per pair (timed on {base_pairs} pairs) "
          f"-> {t_base:7.2f} s for the image")
    print(f"pcfij ipcf(device='cpu', {ncores} cores): first call {t_cold:.2f} s, "
          f"best of the next 3 {t_fast:.2f} s "
          f"= {t_fast / total_pairs * 1e6:6.2f} us per pair wall, "
          f"{t_fast * ncores / total_pairs * 1e6:6.2f} us per pair per core")
    print(f"max |pcfij - baseline| on the timed rows: {err:.2e}")
    print(f"speed-up vs baseline: {t_base / t_fast:6.1f}x warm, {t_base / t_cold:.1f}x first call"
          "  (target >= 15x)")

    print("GPU against CPU (16384 x 256 x 256): benchmarks/bench_gpu.py, run by "
          "scripts/gpu_check.sh on a machine with a GPU")


if __name__ == "__main__":
    main()
