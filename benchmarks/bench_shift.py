"""Benchmark pcfij.shift against algotom.util.correlation on the same inputs in one run.

Needs algotom (``pip install algotom`` or ``pip install pcfij[bench]``); exits with a message
if it is missing. Inputs are simulated with known answers (speckle images deformed by a
smooth field, see :mod:`pcfij.simulate.shifts`), so both libraries are scored against the
ground truth (RMS of the shift error inside the valid region), and timed with the same
number of CPU cores. Cases (defaults from issue #6):

* ``find_local_shifts`` on a 1024 x 1024 image pair (win_size 7, margin 10). For 2D input
  ``dim`` has no effect in either library, so one algotom run serves dim=1 and dim=2.
* ``find_local_shifts`` on a 5 x 512 x 512 stack, dim=1 and dim=2.
* ``generate_correlation_map`` of a 1024 x 1024 image and its margin-10 crop (global shift),
  and of a 64 x 64 template in a 512 x 512 image.
* ``find_local_shifts_umpa`` on a 5 x 512 x 512 stack (CPU, win_size 7, margin 10).

Run: ``python benchmarks/bench_shift.py`` (``--quick`` for small sizes; algotom takes
about 10 minutes on 2 cores at full size). Exit status 0 when every case is at least
``--target`` times faster than algotom at equal or better accuracy.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

from pcfij import shift as P
from pcfij.simulate import shifts as sim


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def rms_err(xs, ys, fx, fy, e):
    s = np.s_[e:-e, e:-e]
    return float(np.sqrt(np.mean((xs[s] + fx[s]) ** 2 + (ys[s] + fy[s]) ** 2)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024, help="side of the 2D image pair")
    ap.add_argument("--stack", type=int, default=512, help="side of the stack frames")
    ap.add_argument("--depth", type=int, default=5, help="frames in the stack")
    ap.add_argument("--ncore", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="256 / 128 pixel inputs")
    ap.add_argument("--target", type=float, default=5.0, help="required speed-up")
    ap.add_argument("--gpu", action="store_true", help="also time pcfij's GPU path")
    args = ap.parse_args(argv)
    if args.quick:
        args.size, args.stack = 256, 128
    try:
        import algotom.util.correlation as A
    except ImportError:
        print("bench_shift: algotom is not installed; `pip install algotom` (or pcfij[bench]) "
              "to compare against it", file=sys.stderr)
        return 2
    from importlib.metadata import version

    warnings.simplefilter("ignore")
    win, margin, nc = 7, 10, args.ncore
    e = win // 2 + margin
    print(f"pcfij.shift vs algotom {version('algotom')}  |  ncore={nc}  "
          f"cpus={os.cpu_count()}  win_size={win} margin={margin}")

    # warm-up (JIT compilation of both libraries is not timed)
    w_r = sim.speckle((2, 40, 40), seed=0)
    w_m = sim.shift_image(w_r, 0.3, 0.2)
    for lib in (A, P):
        lib.find_local_shifts(w_r[0], w_m[0], win_size=win, margin=5, ncore=nc)
        for dim in (1, 2):
            lib.find_local_shifts(w_r, w_m, dim=dim, win_size=win, margin=5, ncore=nc)
        lib.find_local_shifts_umpa(w_r, w_m, win_size=win, margin=5, ncore=nc, gpu=False)
        lib.generate_correlation_map(w_r[0], w_m[0, 5:-5, 5:-5])

    rows = []

    def report(name, t_p, t_a, acc_p, acc_a, agree, unit="px RMS"):
        ratio = t_a / t_p
        ok = ratio >= args.target and acc_p <= acc_a * 1.02 + 1e-3
        rows.append(ok)
        print(f"{name:<44} pcfij {t_p:8.2f} s  algotom {t_a:8.2f} s  speed-up {ratio:7.1f}x  "
              f"error pcfij {acc_p:.4f} / algotom {acc_a:.4f} {unit}  max|diff| {agree:.1e}"
              f"  {'OK' if ok else 'BELOW TARGET'}")

    # ---- find_local_shifts, 2D pair
    n = args.size
    fx, fy = sim.smooth_field((n, n), amplitude=1.5, period=96, seed=1)
    ref = sim.speckle((n, n), sigma=1.5, seed=2)
    mat = sim.warp(ref, fx, fy)
    (ax, ay), t_a = timed(A.find_local_shifts, ref, mat, dim=2, win_size=win, margin=margin,
                          ncore=nc)
    acc_a = rms_err(ax, ay, fx, fy, e)
    for dim in (1, 2):
        (px, py), t_p = timed(P.find_local_shifts, ref, mat, dim=dim, win_size=win,
                              margin=margin, ncore=nc)
        agree = float(max(np.abs(px - ax).max(), np.abs(py - ay).max()))
        report(f"find_local_shifts {n}x{n} dim={dim} (2D)", t_p, t_a,
               rms_err(px, py, fx, fy, e), acc_a, agree)

    # ---- find_local_shifts and UMPA, stack
    d, m = args.depth, args.stack
    fx, fy = sim.smooth_field((m, m), amplitude=1.5, period=96, seed=3)
    ref = sim.speckle((d, m, m), sigma=1.5, seed=4)
    mat = sim.warp(ref, fx, fy)
    for dim in (1, 2):
        (ax, ay), t_a = timed(A.find_local_shifts, ref, mat, dim=dim, win_size=win,
                              margin=margin, ncore=nc)
        (px, py), t_p = timed(P.find_local_shifts, ref, mat, dim=dim, win_size=win,
                              margin=margin, ncore=nc)
        agree = float(max(np.abs(px - ax).max(), np.abs(py - ay).max()))
        report(f"find_local_shifts {d}x{m}x{m} dim={dim}", t_p, t_a,
               rms_err(px, py, fx, fy, e), rms_err(ax, ay, fx, fy, e), agree)
    (ax, ay), t_a = timed(A.find_local_shifts_umpa, ref, mat, win_size=win, margin=margin,
                          ncore=nc, gpu=False)
    (px, py), t_p = timed(P.find_local_shifts_umpa, ref, mat, win_size=win, margin=margin,
                          ncore=nc, gpu=False)
    agree = float(max(np.abs(px - ax).max(), np.abs(py - ay).max()))
    report(f"find_local_shifts_umpa {d}x{m}x{m}", t_p, t_a, rms_err(px, py, fx, fy, e),
           rms_err(ax, ay, fx, fy, e), agree)

    # ---- generate_correlation_map
    dx, dy = 1.37, -2.61
    ref = sim.speckle((n, n), sigma=1.5, seed=5)
    mat = sim.shift_image(ref, dx, dy)
    cases = [(f"generate_correlation_map {n}x{n} vs crop", ref,
              mat[margin:-margin, margin:-margin], margin)]
    k = max(m // 8, 16)
    c0 = (m - k) // 2
    cases.append((f"generate_correlation_map {k}x{k} in {m}x{m}", ref[:m, :m],
                  mat[c0:c0 + k, c0:c0 + k], c0))
    for name, r, t, centre in cases:
        am, t_a = timed(A.generate_correlation_map, r, t)
        pm, t_p = timed(P.generate_correlation_map, r, t)
        errs = []
        for cm in (pm, am):  # the true peak is at (centre - dx, centre - dy)
            x, y = P.locate_peak(cm)
            errs.append(float(np.hypot(x - centre + dx, y - centre + dy)))
        report(name, t_p, t_a, errs[0], errs[1], float(np.abs(pm - am).max()), unit="px")

    if args.gpu:
        from pcfij.kernels import gpu_available

        if not gpu_available():
            print("--gpu: no usable GPU; skipped")
        else:
            ref = sim.speckle((n, n), sigma=1.5, seed=2)
            mat = sim.warp(ref, *sim.smooth_field((n, n), amplitude=1.5, period=96, seed=1))
            P.find_local_shifts(ref[:64, :64], mat[:64, :64], win_size=win, margin=5, gpu=True)
            _, t_c = timed(P.find_local_shifts, ref, mat, win_size=win, margin=margin, ncore=nc)
            _, t_g = timed(P.find_local_shifts, ref, mat, win_size=win, margin=margin, gpu=True)
            print(f"GPU find_local_shifts {n}x{n}: cpu {t_c:.2f} s  gpu {t_g:.3f} s  "
                  f"speed-up {t_c / t_g:.1f}x")
    good = all(rows)
    print(f"target >= {args.target:g}x faster at equal or better accuracy: "
          f"{'met' if good else 'NOT met'} in {sum(rows)}/{len(rows)} cases")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
