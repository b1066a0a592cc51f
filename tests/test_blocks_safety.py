"""Blocked ipCF: resume identity, no leftovers, one writer per output, memory limit.

Each test here stands for an item of issue #11 that failed before: a resume on changed
input was accepted (mixing old and new data), refused runs and killed clean-ups left work
folders, two runs on one output collided, and the memory limit asked for more than needed.
Runs that must look like a user's are fresh subprocesses.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tifffile

import pcfij.blocks.pipeline as pl
from pcfij.blocks.pipeline import open_result, run_blocked_ipcf
from pcfij.errors import InputError
from pcfij.pcf import ipcf

T, H, W = 600, 40, 36
KW = dict(radius=2, npoints=8, nbins=10, device="cpu", progress=False)


def _data(seed: int = 3, t: int = T) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.poisson(rng.uniform(40, 300, (1, H, W)), (t, H, W)).astype(np.uint16)


def _folder(path, data):
    path.mkdir()
    for i, frame in enumerate(data):
        tifffile.imwrite(path / f"img_{i:09d}_Default_000.tif", frame)
    return path


def _interrupt_after(monkeypatch, nblocks: int):
    """Make the run stop like Ctrl-C once ``nblocks`` blocks are recorded."""
    real = pl.mark_done
    count = {"n": 0}

    def mark(*a, **k):
        real(*a, **k)
        count["n"] += 1
        if count["n"] >= nblocks:
            raise KeyboardInterrupt

    monkeypatch.setattr(pl, "mark_done", mark)


def test_resume_on_changed_input_is_refused_naming_the_file(tmp_path, monkeypatch):
    data = _data()
    folder = _folder(tmp_path / "f", data)
    out = tmp_path / "r.zarr"
    _interrupt_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        run_blocked_ipcf(folder, out, block_shape=(12, 12), **KW)
    monkeypatch.undo()
    assert (tmp_path / "r.zarr.partial" / "done").is_dir() and not out.exists()
    # one frame replaced by other data of the same size
    new = data.copy()
    new[37] = np.random.default_rng(99).poisson(100, (H, W)).astype(np.uint16)
    victim = folder / "img_000000037_Default_000.tif"
    size = victim.stat().st_size
    time.sleep(0.01)
    tifffile.imwrite(victim, new[37])
    assert victim.stat().st_size == size
    with pytest.raises(InputError, match=r"img_000000037_Default_000\.tif.*overwrite=True"):
        run_blocked_ipcf(folder, out, block_shape=(12, 12), **KW)
    assert not out.exists()
    # starting over gives the result of the new data alone
    s = run_blocked_ipcf(folder, out, block_shape=(12, 12), overwrite=True, **KW)
    assert s["blocks_computed"] == s["blocks"]
    np.testing.assert_allclose(open_result(out)[0][:], ipcf(new, 2, 8, 10, device="cpu"),
                               rtol=1e-5, atol=1e-6)


def test_resume_on_same_input_is_accepted(tmp_path, monkeypatch):
    folder = _folder(tmp_path / "f", _data())
    out = tmp_path / "r.zarr"
    _interrupt_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        run_blocked_ipcf(folder, out, block_shape=(12, 12), **KW)
    monkeypatch.undo()
    s = run_blocked_ipcf(folder, out, block_shape=(12, 12), **KW)
    assert s["blocks_skipped"] >= 2 and s["blocks_computed"] == s["blocks"] - s["blocks_skipped"]


def test_refused_nan_input_leaves_nothing(tmp_path):
    data = _data().astype(np.float32)
    data[100, 30, 30] = np.nan
    out = tmp_path / "r.zarr"
    with pytest.raises(InputError, match="NaN"):
        run_blocked_ipcf(data, out, block_shape=(12, 12), **KW)
    assert sorted(os.listdir(tmp_path)) == []


def test_stale_work_folder_beside_a_finished_result_is_removed(tmp_path):
    data = _data()[:, :20, :20]
    out = tmp_path / "r.zarr"
    run_blocked_ipcf(data, out, **KW)
    # a kill while the work folder was being removed after the final rename leaves this:
    stale = tmp_path / "r.zarr.partial"
    (stale / "done").mkdir(parents=True)
    (stale / "done" / "000000").write_text("{}")
    (stale / "log.jsonl").write_text("{}\n")
    s = run_blocked_ipcf(data, out, **KW)
    assert s["already_complete"]
    assert sorted(os.listdir(tmp_path)) == ["r.zarr"]


def test_second_writer_on_the_same_output_is_refused(tmp_path):
    folder = _folder(tmp_path / "f", _data())
    out = tmp_path / "r.zarr"
    child = textwrap.dedent(f"""
        import time
        import pcfij.blocks.pipeline as pl
        real = pl.mark_done
        def slow(*a, **k):
            real(*a, **k)
            time.sleep(3)  # the second command starts (a few seconds) while this one runs
        pl.mark_done = slow
        pl.run_blocked_ipcf({str(folder)!r}, {str(out)!r}, radius=2, npoints=8, nbins=10,
                            device="cpu", progress=False, block_shape=(12, 12))
    """)
    first = subprocess.Popen([sys.executable, "-c", child], stderr=subprocess.PIPE, text=True)
    done_dir = tmp_path / "r.zarr.partial" / "done"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and first.poll() is None:
            if done_dir.is_dir() and os.listdir(done_dir):
                break
            time.sleep(0.02)
        assert first.poll() is None, first.communicate()[1]
        second = subprocess.run(
            [sys.executable, "-m", "pcfij", "pcf", str(folder), "-o", str(out), "--radius",
             "2", "--points", "8", "--bins", "10", "--device", "cpu"],
            capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "another pcfij run" in lines[0], second.stderr
        assert f"pid {first.pid}" in lines[0]
        _, err = first.communicate(timeout=300)
        assert first.returncode == 0, err
    finally:
        if first.poll() is None:
            first.kill()
    assert sorted(os.listdir(tmp_path)) == ["f", "r.zarr"]  # no lock file, no work folder
    np.testing.assert_allclose(open_result(out)[0][:],
                               ipcf(_data(), 2, 8, 10, device="cpu"), rtol=1e-5, atol=1e-6)


_MEMORY_CHILD = """
import json, sys, threading, time
import numpy as np
from pcfij.blocks.pipeline import run_blocked_ipcf

peak = {"anon": 0, "mapped": 0}
src = sys.argv[1]
stop = threading.Event()

def input_pages():
    total = 0
    with open("/proc/self/smaps") as fh:
        inside = False
        for line in fh:
            if "-" in line.split()[0] and len(line.split()) >= 5:
                inside = line.rstrip().endswith(src)
            elif inside and line.startswith("Rss:"):
                total += int(line.split()[1]) * 1024
    return total

def sample():
    while not stop.is_set():
        with open("/proc/self/status") as fh:
            anon = [int(l.split()[1]) * 1024 for l in fh if l.startswith("RssAnon:")][0]
        peak["anon"] = max(peak["anon"], anon)
        peak["mapped"] = max(peak["mapped"], anon + input_pages())
        time.sleep(0.003)

th = threading.Thread(target=sample, daemon=True)
th.start()
try:
    s = run_blocked_ipcf(src, sys.argv[2], memory_limit=sys.argv[3], radius=6, npoints=16,
                         nbins=16, bleach_filter=256, device="cpu", progress=False)
    result = {"ok": True, "blocks": s["blocks"]}
except Exception as exc:
    result = {"ok": False, "error": str(exc)}
stop.set()
th.join()
result.update(peak)
print(json.dumps(result))
"""


def _memory_run(src, out, limit) -> dict:
    proc = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(src), str(out), limit],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["npy", "folder"])
def test_minimum_memory_limit_asked_for_is_what_works(tmp_path, kind):
    rng = np.random.default_rng(8)
    data = rng.poisson(200, (3072, 48, 48)).astype(np.uint16)
    if kind == "npy":
        src = tmp_path / "in.npy"
        np.save(src, data)
    else:
        src = _folder(tmp_path / "f", data)
    # all runs below in the same conditions: a process that compiles the kernels (a new
    # checkout's cold numba cache) keeps ~80 MB more and rightly asks for more than a later one
    (tmp_path / "warm").mkdir()
    assert _memory_run(src, tmp_path / "warm" / "w.zarr", "4GB")["ok"]
    refused = _memory_run(src, tmp_path / "a.zarr", "50MB")
    assert not refused["ok"] and "too small" in refused["error"]
    m = re.search(r"(?:`memory_limit`|--memory-limit) of at least ([0-9.]+) (MB|GB)",
                  refused["error"])
    assert m, refused["error"]
    need = float(m.group(1)) * (1e6 if m.group(2) == "MB" else 1e9)
    ok = _memory_run(src, tmp_path / "b.zarr", f"{need / 1e6:.1f}MB")
    assert ok["ok"], ok.get("error")
    # what it asks for is the minimum: a tenth less is refused
    assert not _memory_run(src, tmp_path / "c.zarr", f"{0.9 * need / 1e6:.1f}MB")["ok"]
    # and the limit bounds anonymous memory plus the input pages the process keeps mapped
    assert ok["mapped"] <= need, (ok, need)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(("zarr", "partial"))) \
        == ["b.zarr"]
