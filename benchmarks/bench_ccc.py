"""Benchmark of pcfij.ccc against a straightforward implementation, in the same run.

Cases (``--quick`` shrinks them for a smoke test):

* 2D 2048 x 2048 with a mask, confidence and contribution images;
* 3D 256 x 256 x 64 (x, y, z) with a mask, confidence and contribution images.

The straightforward implementation (the "baseline") is what one writes with SciPy:
``scipy.signal.correlate(..., mode="same", method="fft")`` in float64 for the original and
subtracted correlations, ``scipy.signal.fftconvolve`` / ``correlate`` for the contribution
images, and radial profiles by computing every pixel's distance and averaging with
``numpy.unique`` + ``bincount``. Both use the same Gaussian fit.

Each measurement runs in a fresh subprocess that warms up (numba, imports, FFT plans)
on a small image, then loads the inputs from ``.npy`` files. Peak memory is reported as a
multiple of one float32 copy of an input image, two ways, each in its own subprocess: the
tracemalloc peak (NumPy allocations) and the growth of the process's peak RSS during the
call, ``ru_maxrss`` after the call minus the RSS just before it (after imports, warm-up and
input creation; includes FFT library scratch and memory the allocator keeps). The timed run
is the RSS run (no tracing overhead). Times are wall-clock seconds; ratios compare with the
baseline of the same run.

Usage::

    .venv/bin/python benchmarks/bench_ccc.py            # full sizes (~3-5 minutes)
    .venv/bin/python benchmarks/bench_ccc.py --quick    # small sizes
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- baseline
def baseline_ccc(a, b, mask, spacing, contributions=True):
    """Straightforward CCC: scipy.signal correlations in float64, explicit distances."""
    import scipy.signal

    from pcfij.ccc.fit import confidence, fit_gaussian, r_squared

    m = mask != 0
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    a0 = np.where(m, a, 0.0)
    b0 = np.where(m, b, 0.0)
    volume = m.sum() * math.prod(spacing)
    orig = scipy.signal.correlate(a0, b0, mode="same", method="fft") / volume
    sub = scipy.signal.correlate(np.where(m, a - a[m].mean(), 0.0), b0, mode="same",
                                 method="fft") / volume
    # the plugin's profile: centre (n - 1) / 2, squares summed in x, y, z order, exact keys
    idx = np.indices(a.shape, dtype=np.float64)
    d2 = np.zeros(a.shape)
    for i in reversed(range(a.ndim)):
        d2 = d2 + ((idx[i] - (a.shape[i] - 1) / 2) * spacing[i]) ** 2
    del idx
    keys, inv = np.unique(np.sqrt(d2), return_inverse=True)
    counts = np.bincount(inv.ravel())
    po = np.bincount(inv.ravel(), weights=orig.ravel()) / counts
    ps = np.bincount(inv.ravel(), weights=sub.ravel()) / counts
    fit = fit_gaussian(keys, ps, spacing[-1])
    out = {"mean": fit.mean, "sigma": fit.sigma,
           "confidence": confidence(keys, ps, po, fit), "r_squared": r_squared(keys, ps, fit)}
    if contributions and fit.ok:
        g = sub * np.exp(-((np.sqrt(d2) - abs(fit.mean)) ** 2) / (2 * fit.sigma**2))
        # mirror-extended images (the plugin): (b conv G)[y] = sum_s G[s] b[y - s],
        # (a corr G)[x] = sum_s a[x + s] G[s]
        pad = [(n // 2, n // 2) for n in a.shape]
        full = scipy.signal.fftconvolve(np.pad(b0, pad, mode="reflect"), g, mode="full")
        c1 = a0 * full[tuple(slice(2 * (n // 2), 2 * (n // 2) + n) for n in a.shape)]
        full = scipy.signal.correlate(np.pad(a0, pad, mode="reflect"), g, mode="full",
                                      method="fft")
        c2 = b0 * full[tuple(slice(n - 1, 2 * n - 1) for n in a.shape)]
        del full
        out["c"] = float(c1.sum() + c2.sum())
    return out


# ---------------------------------------------------------------------------- child
def child(kind: str, folder: str, case: str, device: str, measure: str) -> None:
    """One measurement in a fresh process: ``measure`` is "rss" (wall time and peak RSS,
    no tracing) or "traced" (tracemalloc peak; slower, so not timed)."""
    import resource
    import time
    import tracemalloc

    import psutil

    from pcfij.ccc import ccc

    meta = json.loads((Path(folder) / f"{case}.json").read_text())
    scale = tuple(meta["scale"])
    spacing = scale[::-1]
    ndim = len(scale)
    # warm up (numba compilation, imports, FFT plans) on a small image of the same ndim,
    # before the inputs exist, so that the warm-up's own peak cannot hide part of the call's
    rng = np.random.default_rng(0)
    wa, wb = (rng.random((16,) * ndim).astype(np.float32) for _ in range(2))
    ones = np.ones(wa.shape, bool)
    if kind == "pcfij":
        ccc(wa, wb, ones, scale=scale, contributions=True, device=device)
    else:
        baseline_ccc(wa, wb, ones, spacing)
    del wa, wb, ones
    a = np.load(Path(folder) / f"{case}_1.npy")
    b = np.load(Path(folder) / f"{case}_2.npy")
    m = np.load(Path(folder) / f"{case}_m.npy")
    one = a.size * 4
    if measure == "traced":
        tracemalloc.start()
    # RSS after imports, warm-up and input creation; the peak is measured from here
    rss0 = psutil.Process().memory_info().rss
    max0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    if kind == "pcfij":
        r = ccc(a, b, m, scale=scale, contributions=True, device=device)
        out = {"mean": r.mean, "sigma": r.sigma, "confidence": r.confidence}
    else:
        out = baseline_ccc(a, b, m, spacing)
    dt = time.perf_counter() - t0
    res = {"mean": out["mean"], "sigma": out["sigma"], "confidence": out["confidence"]}
    if measure == "traced":
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        res["traced"] = peak / one
    else:
        max1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        res["time"] = dt
        res["rss"] = (max1 - rss0) / one
        # ru_maxrss is a running maximum: the call's own peak is max1 exactly when it rose
        # above the earlier peak max0; otherwise it is only known to be <= max1 - rss0
        res["rss_hidden"] = (max0 - rss0) / one if max1 <= max0 else 0.0
    print(json.dumps(res))


def run_child(kind, folder, case, device="cpu") -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    res: dict = {}
    for measure in ("rss", "traced"):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", kind, folder, case, device, measure],
            capture_output=True, text=True, env=env, check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{kind} {case} failed:\n{proc.stderr[-3000:]}")
        res.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    return res


def _hidden(r: dict) -> str:
    h = r.get("rss_hidden", 0.0)
    return " (RSS figure is an upper bound: peak not above an earlier one)" if h > 0 else ""


# ---------------------------------------------------------------------------- main
def make_case(folder, name, shape, scale, distance, n_pairs, psf):
    from pcfij.simulate.pairs import correlated_pairs

    s = correlated_pairs(shape, distance=distance, n_pairs=n_pairs, n_unpaired=(n_pairs // 4,) * 2,
                         scale=scale, psf_sigma=psf, noise=1.0, cells=4,
                         cell_radius=0.45 * shape[-1] * scale[0] / 2, seed=1)
    np.save(Path(folder) / f"{name}_1.npy", s.image1)
    np.save(Path(folder) / f"{name}_2.npy", s.image2)
    np.save(Path(folder) / f"{name}_m.npy", s.mask)
    (Path(folder) / f"{name}.json").write_text(json.dumps({"scale": scale, "distance": distance}))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    from pcfij.kernels import gpu_available

    if args.quick:
        cases = [("2d", (256, 256), (1.0, 1.0), 8.0, 300, 1.5),
                 ("3d", (16, 64, 64), (0.1, 0.1, 0.3), 0.8, 150, 0.15)]
    else:
        cases = [("2d", (2048, 2048), (1.0, 1.0), 8.0, 12000, 1.5),
                 ("3d", (64, 256, 256), (0.1, 0.1, 0.3), 0.8, 3000, 0.15)]
    devices = ["cpu"] + (["gpu"] if gpu_available() else [])
    print(f"pcfij CCC benchmark ({os.cpu_count()} CPU cores; GPU: "
          f"{'yes' if 'gpu' in devices else 'no'})")
    print("memory = peak as a multiple of one float32 copy of an input image "
          "(traced NumPy allocations / growth of peak RSS)")
    with tempfile.TemporaryDirectory(prefix="pcfij-bench-ccc-") as folder:
        for name, shape, scale, dist, npairs, psf in cases:
            make_case(folder, name, shape, scale, dist, npairs, psf)
            label = "x".join(str(n) for n in shape[::-1])
            base = run_child("baseline", folder, name)
            print(f"\n{name.upper()} {label} (x,y[,z]) scale {scale}, mask, confidence, "
                  f"contributions; true distance {dist}")
            print(f"  baseline (scipy.signal, float64): {base['time']:7.2f} s   memory "
                  f"{base['traced']:5.1f}x / {base['rss']:5.1f}x   mean {base['mean']:.4g} "
                  f"sigma {base['sigma']:.4g} confidence {base['confidence']:.3g}{_hidden(base)}")
            for dev in devices:
                ours = run_child("pcfij", folder, name, dev)
                print(f"  pcfij.ccc device={dev:<3}:            {ours['time']:7.2f} s   memory "
                      f"{ours['traced']:5.1f}x / {ours['rss']:5.1f}x   mean {ours['mean']:.4g} "
                      f"sigma {ours['sigma']:.4g} confidence {ours['confidence']:.3g}"
                      f"{_hidden(ours)}")
                print(f"    speed-up vs baseline: {base['time'] / ours['time']:.1f}x   "
                      f"memory vs baseline: {ours['traced'] / base['traced']:.2f} (traced), "
                      f"{ours['rss'] / max(base['rss'], 1e-9):.2f} (RSS)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
