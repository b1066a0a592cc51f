"""ImageJ bridge throughput: numpy -> ImagePlus -> numpy for a 1 GB float32 stack, and the
ImageJ start-up time. Target: >= 500 MB/s each way.

Run: ``.venv/bin/python benchmarks/bench_bridge.py [--mb 1024] [--repeat 3]`` (headless
ImageJ 1.x from /usr/share/java/ij.jar; Java heap 4 GB). Reports the first (cold: JIT
warm-up and Java heap growth included) and the best of the following repeats, and compares
with a plain NumPy copy of the same array measured in the same run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=int, default=1024, help="stack size in MB (default 1024)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from pcfij.imagej import from_imageplus, start_imagej, to_imageplus

    t0 = time.perf_counter()
    sess = start_imagej(mode="headless", max_memory="4g")
    t_start = time.perf_counter() - t0
    print(f"ImageJ {sess.version} ({sess.mode}) start-up: {sess.startup_seconds:.2f} s "
          f"(start_imagej call incl. command registration: {t_start:.2f} s)")

    h = w = 1024
    n = max(1, args.mb * 1024 * 1024 // (h * w * 4))
    data = np.random.default_rng(0).random((n, h, w), dtype=np.float32)
    mb = data.nbytes / 1e6
    print(f"stack: {n} x {h} x {w} float32 = {mb:.0f} MB")

    t = time.perf_counter()
    copy = data.copy()
    t_np = time.perf_counter() - t
    del copy
    print(f"baseline numpy copy: {mb / t_np:8.0f} MB/s")

    to_rates, from_rates = [], []
    for i in range(args.repeat):
        t = time.perf_counter()
        imp = to_imageplus(data, "TYX", title="bench")
        t_to = time.perf_counter() - t
        t = time.perf_counter()
        back = from_imageplus(imp)
        t_from = time.perf_counter() - t
        assert back.data.shape == data.shape
        if i == 0:
            assert np.array_equal(back.data, data)
        to_rates.append(mb / t_to)
        from_rates.append(mb / t_from)
        print(f"  run {i + 1}: numpy -> ImagePlus {mb / t_to:8.0f} MB/s   "
              f"ImagePlus -> numpy {mb / t_from:8.0f} MB/s")
        del imp, back
    best_to = max(to_rates[1:] or to_rates)
    best_from = max(from_rates[1:] or from_rates)
    print(f"numpy -> ImagePlus: cold {to_rates[0]:.0f} MB/s, best {best_to:.0f} MB/s "
          f"({best_to / (mb / t_np):.2f} x numpy copy)")
    print(f"ImagePlus -> numpy: cold {from_rates[0]:.0f} MB/s, best {best_from:.0f} MB/s "
          f"({best_from / (mb / t_np):.2f} x numpy copy)")
    ok = min(to_rates[0], from_rates[0]) >= 500
    print(f"target >= 500 MB/s each way (cold run): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
