"""Blocked ipCF on a real dask.distributed cluster, the way a user starts one.

A ``dask scheduler`` and two ``dask worker`` processes are started as subprocesses; the
pipeline runs in a fresh Python process given only the scheduler's address (there is no
dask Client in the test process, so nothing can lean on a default client). One worker is
SIGKILLed mid-run; the result must still be bit-identical to the threaded run here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tifffile

from pcfij.blocks.pipeline import open_result, run_blocked_ipcf
from pcfij.io.readers import open_series
from pcfij.pcf import ipcf

pytest.importorskip("distributed")

T, H, W = 2048, 64, 64
KW = dict(radius=3, npoints=8, nbins=12, device="cpu", progress=False, block_shape=(16, 16))


def _finished(done_dir) -> int:
    """Blocks recorded as done (a marker being written is a hidden temporary file)."""
    return sum(n.isdigit() for n in os.listdir(done_dir))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    rng = np.random.default_rng(5)
    data = rng.poisson(rng.uniform(50, 300, (1, H, W)), (T, H, W)).astype(np.uint16)
    d = tmp_path_factory.mktemp("cluster") / "tiffs"
    d.mkdir()
    for i, frame in enumerate(data):
        tifffile.imwrite(d / f"frame_{i:05d}.tif", frame)
    return d


@pytest.fixture(scope="module")
def threaded(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("threaded") / "r.zarr"
    run_blocked_ipcf(folder, out, **KW)
    return open_result(out)[0][:]


def _wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two single-threaded workers (no nanny: a killed worker stays dead)."""
    sfile = tmp_path / "scheduler.json"
    env = dict(os.environ, DASK_DISTRIBUTED__WORKER__DAEMON="False")
    procs = [subprocess.Popen(
        [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
         "--no-dashboard", "--scheduler-file", str(sfile)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)]
    try:
        _wait_for(lambda: sfile.exists() and sfile.stat().st_size > 0, 60, "the scheduler")
        address = _wait_for(lambda: json.loads(sfile.read_text()).get("address"), 30,
                            "the scheduler address")
        for _ in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "dask", "worker", address, "--nthreads", "1",
                 "--no-nanny", "--memory-limit", "2GB", "--no-dashboard"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
        yield address, procs[1:]
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.kill()
            p.wait()


def _run_child(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_cluster_by_address_with_a_worker_killed_mid_run(folder, threaded, cluster, tmp_path):
    address, workers = cluster
    out = tmp_path / "c.zarr"
    done_dir = tmp_path / "c.zarr.partial" / "done"
    child = _run_child(f"""
        import time
        import pcfij.blocks.pipeline as pl
        from distributed import Client
        # wait until both workers are connected (a plain client, closed before the run)
        with Client({address!r}, set_as_default=False) as c:
            c.wait_for_workers(2, timeout=60)
        real = pl.mark_done
        def slow_mark(*a, **k):  # widen the window in which a worker is killed
            real(*a, **k)
            time.sleep(0.2)
        pl.mark_done = slow_mark
        s = pl.run_blocked_ipcf({str(folder)!r}, {str(out)!r}, scheduler={address!r},
                                radius=3, npoints=8, nbins=12, device="cpu", progress=False,
                                block_shape=(16, 16))
        print(s["blocks_computed"], s["blocks"], s["scheduler"])
    """)
    try:
        _wait_for(lambda: done_dir.is_dir() and _finished(done_dir) >= 2
                  or child.poll() is not None, 240, "two finished blocks")
        assert child.poll() is None, child.communicate()[1]
        finished_at_kill = _finished(done_dir)
        os.kill(workers[0].pid, signal.SIGKILL)
        stdout, stderr = child.communicate(timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, stderr
    computed, total, scheduler = stdout.split()
    assert int(computed) == int(total) == 16 and finished_at_kill < 16
    assert scheduler == address
    np.testing.assert_array_equal(open_result(out)[0][:], threaded)


def test_cluster_from_the_command_line(folder, cluster, tmp_path):
    address, _ = cluster
    out = tmp_path / "cli.zarr"
    proc = subprocess.run(
        [sys.executable, "-m", "pcfij", "pcf", str(folder), "-o", str(out), "--radius", "3",
         "--points", "8", "--bins", "12", "--device", "cpu", "--roi", "0:40,0:40",
         "--scheduler", address], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = open_result(out)[0][:]
    data = open_series(folder, roi="0:40,0:40").compute()
    ref = ipcf(data, 3, 8, 12, device="cpu")
    scale = float(np.abs(ref).max())
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6 * scale)


@pytest.mark.parametrize("address", ["not an url", "tcp://127.0.0.1:9"])
def test_bad_scheduler_address_is_one_line_without_hang(folder, tmp_path, address):
    out = tmp_path / "bad.zarr"
    proc = subprocess.run(
        [sys.executable, "-m", "pcfij", "pcf", str(folder), "-o", str(out), "--radius", "3",
         "--scheduler", address], capture_output=True, text=True, timeout=60)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1
    assert len(lines) == 1 and "scheduler" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() and not (tmp_path / "bad.zarr.partial").exists()
    assert not (tmp_path / ".bad.zarr.lock").exists()
