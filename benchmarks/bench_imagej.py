"""ImageJ command host: per-call overhead, first call, pixel transfer, a 200-pair CCC batch.

Run: ``.venv/bin/python benchmarks/bench_imagej.py [--calls 20] [--mb 1024] [--pairs 200]``
(Debian's ImageJ 1.53t, ``xvfb-run``; the host is installed into a temporary folder with
``pcfij install-plugins``). Prints, in one run:

1. the per-call time of ``run("Just Cross Correlation", ...)`` on two 256x256 images after
   the first call, in a ``-batch`` macro, minus the engine's own time for the same call
   measured here in Python = the host's overhead (target <= 0.2 s), and the same for the
   generated ``.ijm`` drop-ins of earlier versions (``pcfij.imagej.plugingen``: a new Python
   process per call) as the baseline;
2. the first call's time (the worker starts and imports the engine);
3. the pixel transfer through the host on a ``--mb`` float32 stack of 1024x1024 planes:
   ImagePlus -> NumPy (``Host.writeImage`` into a memory-mapped file, then the worker's
   memory-mapped read copied into an array) and NumPy -> ImagePlus (the worker's write,
   then ``Host.readImage``), each after one warm-up of the same size, with a plain NumPy copy
   of the same array as reference (target >= 1 GB/s each way). The writes are timed twice:
   into a new file (the first call) and over the kept file (every later call);
4. the total time of ``macros/batch_ccc_folder.ijm`` over ``--pairs`` 128x128 pairs in one
   ``-batch`` ImageJ, and the engine's time for those pairs measured here.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
IJ_JAR = os.environ.get("PCFIJ_IJ_JAR", "/usr/share/java/ij.jar")
sys.path.insert(0, str(REPO))

BENCH_JAVA = r"""
package pcfij;

import ij.ImagePlus;
import ij.ImageStack;
import java.io.File;
import java.util.Map;

/** Times Host.writeImage / Host.readImage (package pcfij: they are package-private). */
public class HostBench {
	public static void main(String[] a) throws Exception {
		File dir = new File(a[1]);
		if (a[0].equals("write")) {
			int n = Integer.parseInt(a[2]), w = 1024, h = 1024;
			ImageStack st = new ImageStack(w, h);
			for (int k = 0; k < n; k++) {
				float[] p = new float[w * h];
				for (int j = 0; j < p.length; j++) p[j] = k + (j % 1000) * 1e-3f;
				st.addSlice(null, p);
			}
			ImagePlus imp = new ImagePlus("big", st);
			Host.writeImage(imp, new File(dir, "warm.raw"));  // JIT warm-up
			new File(dir, "warm.raw").delete();
			long t0 = System.nanoTime();
			Host.writeImage(imp, new File(dir, "in.raw"));  // a new file: fresh memory
			System.out.println("WRITE " + (System.nanoTime() - t0) * 1e-9);
			t0 = System.nanoTime();
			Host.writeImage(imp, new File(dir, "in.raw"));  // the next call: written over
			System.out.println("REWRITE " + (System.nanoTime() - t0) * 1e-9);
		} else {
			java.util.List<Object> shape = new java.util.ArrayList<Object>();
			for (int k = 2; k < 7; k++) shape.add(Double.valueOf(a[k]));
			Map<String, Object> d = new java.util.LinkedHashMap<String, Object>();
			d.put("path", new File(dir, "warm.raw").getPath());
			d.put("dtype", "float32");
			d.put("shape", shape);
			d.put("title", "warm");
			Host.readImage(d);  // JIT and heap warm-up
			d.put("path", new File(dir, "out.raw").getPath());
			d.put("title", "back");
			long t0 = System.nanoTime();
			ImagePlus imp = Host.readImage(d);
			double s = (System.nanoTime() - t0) * 1e-9;
			float[] last = (float[]) imp.getStack().getPixels(imp.getStackSize());
			System.out.println("READ " + s + " " + last[999]);
		}
	}
}
"""


def ij_batch(macro: str, plugins: Path, arg: str = "", timeout: int = 3600):
    with tempfile.NamedTemporaryFile("w", suffix=".ijm", delete=False) as fh:
        fh.write(macro)
    t0 = time.perf_counter()
    proc = subprocess.run(["xvfb-run", "-a", "java", f"-Dplugins.dir={plugins}", "-jar",
                           IJ_JAR, "-batch", fh.name, arg], capture_output=True, text=True,
                          timeout=timeout)
    wall = time.perf_counter() - t0
    os.unlink(fh.name)
    if proc.returncode != 0:
        raise SystemExit(f"ImageJ failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout, wall


def value(text: str, key: str) -> float:
    return float(re.search(rf"{key} (\S+)", text).group(1))


CALLS_MACRO = """
dir = getArgument();
open(dir + "a.tif"); open(dir + "b.tif");
opts = "dataset1=a.tif dataset2=b.tif maskabsent device=cpu";
t0 = getTime();
run("Just Cross Correlation", opts);
print("FIRST " + (getTime() - t0) / 1000);
close("Correlation of images");
t0 = getTime();
for (i = 0; i < NCALLS; i++) {
	run("Just Cross Correlation", opts);
	close("Correlation of images");
}
print("PERCALL " + (getTime() - t0) / 1000 / NCALLS);
"""


def bench_calls(work: Path, host: Path, old: Path, ncalls: int, nold: int) -> None:
    from pcfij.ccc import cross_correlation_profile
    from pcfij.io.tiff import write_imagej_tiff

    rng = np.random.default_rng(0)
    a = rng.random((256, 256), dtype=np.float32)
    b = np.roll(a, 3, axis=1) + 0.1 * rng.random((256, 256), dtype=np.float32)
    write_imagej_tiff(work / "a.tif", a, "YX")
    write_imagej_tiff(work / "b.tif", b, "YX")
    from pcfij.imagej.runners import run_xcorr
    from pcfij.io.tiff import Calibration, Image
    from pcfij.outputs import Context

    cross_correlation_profile(a, b, None, device="cpu")
    t0 = time.perf_counter()
    for _ in range(5):
        cross_correlation_profile(a, b, None, device="cpu")
    engine = (time.perf_counter() - t0) / 5
    # the whole Python side of the command: engine + what the user sees (11,000-row table)
    values = {"no_mask": True, "significant_digits": None, "device": "cpu", "output": None}
    inputs = {"image1": Image(a, "YX", Calibration(), "a.tif"),
              "image2": Image(b, "YX", Calibration(), "b.tif"), "mask": None}
    run_xcorr(values, inputs, Context())
    t0 = time.perf_counter()
    for _ in range(5):
        run_xcorr(values, inputs, Context())
    runner = (time.perf_counter() - t0) / 5
    out, _ = ij_batch(CALLS_MACRO.replace("NCALLS", str(ncalls)), host, str(work) + "/")
    first, per = value(out, "FIRST"), value(out, "PERCALL")
    out_old, _ = ij_batch(CALLS_MACRO.replace("NCALLS", str(nold)), old, str(work) + "/")
    first_old, per_old = value(out_old, "FIRST"), value(out_old, "PERCALL")
    print("1. run(\"Just Cross Correlation\") on two 256x256 images, after the first call:")
    print(f"   engine alone (Python, same arrays): {engine * 1e3:7.1f} ms per call; engine + "
          f"presentation (runner -> Outputs): {runner * 1e3:7.1f} ms")
    print(f"   command host : {per * 1e3:7.1f} ms per call -> overhead {(per - engine) * 1e3:7.1f}"
          f" ms over the engine, {(per - runner) * 1e3:7.1f} ms over engine + presentation "
          f"(target <= 200 ms; mean of {ncalls} calls)")
    print(f"   old .ijm path: {per_old * 1e3:7.1f} ms per call -> overhead "
          f"{(per_old - engine) * 1e3:7.1f} ms (mean of {nold} calls)")
    print(f"   the host is {per_old / per:.1f}x faster per call")
    print(f"2. first call (worker start + engine imports): {first:.2f} s "
          f"(old .ijm path: {first_old:.2f} s)")


def bench_transfer(work: Path, host_jar: Path, mb: int) -> None:
    from pcfij.imagej.hostproto import read_input, write_array

    classes = work / "benchclasses"
    src = work / "src" / "pcfij"
    src.mkdir(parents=True)
    (src / "HostBench.java").write_text(BENCH_JAVA)
    cp = f"{IJ_JAR}:{host_jar}"
    subprocess.run(["javac", "-nowarn", "-cp", cp, "-d", str(classes),
                    str(src / "HostBench.java")], check=True)
    shm = Path(tempfile.mkdtemp(prefix="pcfij-bench-", dir="/dev/shm"
                                if os.path.isdir("/dev/shm") else None))
    n = max(1, mb * 1024 * 1024 // (1024 * 1024 * 4))
    nbytes = n * 1024 * 1024 * 4
    java = ["java", "-Xmx" + str(max(2, 3 * nbytes // 2**30 + 2)) + "g", "-cp",
            f"{cp}:{classes}", "pcfij.HostBench"]
    try:
        out = subprocess.run(java + ["write", str(shm), str(n)], capture_output=True, text=True,
                             check=True).stdout
        t_jwrite, t_jrewrite = value(out, "WRITE"), value(out, "REWRITE")
        desc = {"path": str(shm / "in.raw"), "dtype": "float32", "shape": [n, 1, 1, 1024, 1024],
                "title": "big", "cal": {}}
        dst = np.empty((n, 1024, 1024), np.float32)
        dst.fill(0)  # pages in place: the copies below measure bandwidth, not page faults
        t0 = time.perf_counter()
        img = read_input(desc)  # the worker's memory-mapped input
        np.copyto(dst, img.data)
        t_pread = time.perf_counter() - t0
        assert abs(float(dst[-1, 0, 999]) - (n - 1 + 0.999)) < 1e-5
        del img
        os.unlink(shm / "in.raw")
        ref = np.empty_like(dst)
        ref.fill(0)
        t0 = time.perf_counter()
        np.copyto(ref, dst)
        t_np = time.perf_counter() - t0
        del ref
        t0 = time.perf_counter()
        fresh = dst.copy()
        t_fresh = time.perf_counter() - t0
        del fresh
        write_array(dst, str(shm / "warm.raw"))
        t0 = time.perf_counter()
        write_array(dst, str(shm / "out.raw"))  # the worker's output image, a new file
        t_pwrite = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_array(dst, str(shm / "out.raw"))  # the next call writes over the kept file
        t_prewrite = time.perf_counter() - t0
        del dst
        out = subprocess.run(java + ["read", str(shm), str(n), "1", "1", "1024", "1024"],
                             capture_output=True, text=True, check=True).stdout
        t_jread = value(out, "READ")
    finally:
        shutil.rmtree(shm, ignore_errors=True)
    gb = nbytes / 1e9
    print(f"3. pixel transfer through the host, {n} x 1024 x 1024 float32 = {gb * 1e3:.0f} MB:")
    print("   (after the first call the host writes over the files of the previous call; "
          "the first call writes new files: fresh memory)")
    print(f"   ImagePlus -> NumPy: Java writeImage {gb / t_jrewrite:5.2f} GB/s + worker read "
          f"{gb / t_pread:5.2f} GB/s = {gb / (t_jrewrite + t_pread):5.2f} GB/s (target >= 1); "
          f"first call: writeImage {gb / t_jwrite:5.2f} GB/s -> "
          f"{gb / (t_jwrite + t_pread):5.2f} GB/s")
    print(f"   NumPy -> ImagePlus: worker write {gb / t_prewrite:5.2f} GB/s + Java readImage "
          f"{gb / t_jread:5.2f} GB/s = {gb / (t_prewrite + t_jread):5.2f} GB/s (target >= 1); "
          f"first call: worker write {gb / t_pwrite:5.2f} GB/s -> "
          f"{gb / (t_pwrite + t_jread):5.2f} GB/s")
    print(f"   reference: NumPy copy of the same array into touched memory {gb / t_np:5.2f} GB/s,"
          f" into fresh memory {gb / t_fresh:5.2f} GB/s (new files and new Java arrays are "
          "fresh memory)")


def bench_batch(work: Path, host: Path, npairs: int) -> None:
    from pcfij.ccc import ccc
    from pcfij.io.tiff import write_imagej_tiff

    pairs = work / "pairs"
    pairs.mkdir()
    rng = np.random.default_rng(1)
    arrays = []
    for k in range(npairs):
        a = rng.random((128, 128), dtype=np.float32)
        b = np.roll(a, 2, axis=0) + 0.2 * rng.random((128, 128), dtype=np.float32)
        write_imagej_tiff(pairs / f"p{k:04d}_ch1.tif", a, "YX")
        write_imagej_tiff(pairs / f"p{k:04d}_ch2.tif", b, "YX")
        arrays.append((a, b))
    ccc(*arrays[0], None, device="cpu")
    t0 = time.perf_counter()
    for a, b in arrays:
        ccc(a, b, None, device="cpu")
    engine = time.perf_counter() - t0
    macro = (REPO / "macros" / "batch_ccc_folder.ijm").read_text()
    out, wall = ij_batch(macro, host, f"{pairs}|{work / 'ccc.csv'}")
    rows = (work / "ccc.csv").read_text().strip().splitlines()
    assert len(rows) == npairs + 1, out
    print(f"4. macros/batch_ccc_folder.ijm over {npairs} pairs of 128x128 images (one -batch "
          f"ImageJ, start-up included): {wall:.1f} s = {wall / npairs * 1e3:.0f} ms per pair; "
          f"the engine alone: {engine:.1f} s = {engine / npairs * 1e3:.0f} ms per pair")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=20, help="timed calls with the host")
    ap.add_argument("--old-calls", type=int, default=3, help="timed calls with the old path")
    ap.add_argument("--mb", type=int, default=1024, help="stack size for the transfer")
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--only", default="calls,transfer,batch",
                    help="comma-separated parts to run: calls, transfer, batch")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    from pcfij.cli.imagej import install_plugins
    from pcfij.imagej.javabuild import JAR_NAME
    from pcfij.imagej.plugingen import write_plugins

    work = Path(tempfile.mkdtemp(prefix="bench-imagej-"))
    try:
        host = work / "host"
        (host / "plugins").mkdir(parents=True)
        target = install_plugins(host)
        old = work / "old"
        write_plugins(old / "plugins" / "pcfij")
        (old / "plugins" / "pcfij" / "pcfij-python.txt").write_text(sys.executable + "\n")
        if "calls" in parts:
            bench_calls(work, host, old, args.calls, args.old_calls)
        if "transfer" in parts:
            bench_transfer(work, target / JAR_NAME, args.mb)
        if "batch" in parts:
            bench_batch(work, host, args.pairs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
