"""Blocked ipCF on a dask.distributed LocalCluster with real worker processes, one killed."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
import tifffile

from pcfij.blocks.pipeline import open_result, run_blocked_ipcf

distributed = pytest.importorskip("distributed")

T, H, W = 2048, 64, 64
KW = dict(radius=3, npoints=8, nbins=12, device="cpu", progress=False, block_shape=(16, 16))


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


@pytest.fixture
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None, memory_limit="2GB")
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_local_cluster_gives_the_same_result(folder, threaded, client, tmp_path):
    s = run_blocked_ipcf(folder, tmp_path / "c.zarr", scheduler=client, **KW)
    assert s["blocks_computed"] == s["blocks"] == 16
    np.testing.assert_array_equal(open_result(tmp_path / "c.zarr")[0][:], threaded)
    # the scheduler address works too (the pipeline connects its own client)
    s = run_blocked_ipcf(folder, tmp_path / "d.h5", scheduler=client.scheduler.address, **KW)
    np.testing.assert_array_equal(open_result(tmp_path / "d.h5")[0][:], threaded)


def test_killing_a_worker_process_during_the_run(folder, threaded, client, tmp_path):
    out = tmp_path / "k.zarr"
    done_dir = tmp_path / "k.zarr.partial" / "done"
    pids = client.run(os.getpid)  # {worker address: pid}
    state = {}

    def killer():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if done_dir.is_dir() and len(os.listdir(done_dir)) >= 2:
                victim = sorted(pids.values())[0]
                state["done_at_kill"] = len(os.listdir(done_dir))
                os.kill(victim, signal.SIGKILL)
                state["killed"] = victim
                return
            time.sleep(0.005)

    thread = threading.Thread(target=killer)
    thread.start()
    s = run_blocked_ipcf(folder, out, scheduler=client, **KW)
    thread.join()
    assert "killed" in state and state["done_at_kill"] < s["blocks"]
    assert s["blocks_computed"] == s["blocks"]
    np.testing.assert_array_equal(open_result(out)[0][:], threaded)
