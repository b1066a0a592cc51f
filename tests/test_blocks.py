"""Out-of-core blocked ipCF: equals the in-memory ipcf, resumes after SIGKILL, refuses bad input.

About exactness: :func:`pcfij.pcf.ipcf` computes square tiles on a fixed grid, and a tile's
numbers depend only on its pixels. The planner makes blocks whole multiples of that tile and
runs each block's ``ipcf`` with the same tile, so planned blocked runs are bit-identical to
the in-memory ``ipcf`` (checked below). Blocks forced to sizes that are not multiples of the
tile (``block_shape=``) regroup pixel pairs into other BLAS batches, and OpenBLAS rounds a
row's dot products differently depending on its position in a batch; those agree to float32
rounding. Runs with the same plan (reruns, resumed and cluster runs) are always
bit-identical.
"""

from __future__ import annotations

import errno
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
from pcfij.blocks.plan import block_bytes, make_plan, parse_memory
from pcfij.errors import InputError
from pcfij.pcf import ipcf

T, H, W = 2048, 96, 80
R, NP, NB = 3, 8, 12
KW = dict(radius=R, npoints=NP, nbins=NB, device="cpu", progress=False)


def _rounding_close(a, b):
    scale = float(np.nanmax(np.abs(b)))
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * scale)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    base = rng.uniform(50, 400, (1, H, W))
    decay = np.exp(-np.arange(T) / 3000.0)[:, None, None]
    return rng.poisson(base * decay + rng.uniform(0, 30, (T, 1, 1))).astype(np.uint16)


@pytest.fixture(scope="module")
def reference(data):
    return ipcf(data, R, NP, NB, device="cpu")


@pytest.fixture(scope="module")
def folder(data, tmp_path_factory):
    d = tmp_path_factory.mktemp("blocks") / "tiffs"
    d.mkdir()
    for i, frame in enumerate(data):
        tifffile.imwrite(d / f"img_{i:09d}_Default_000.tif", frame)
    return d


def test_tile_aligned_multi_block_run_is_bit_identical_to_in_memory(data, reference, tmp_path):
    from pcfij.pcf import ipcf_tile_size

    tile = ipcf_tile_size(T, R)
    s = run_blocked_ipcf(data, tmp_path / "multi.zarr", block_shape=(tile, tile), **KW)
    assert s["blocks"] == 4  # 90 x 74 result pixels in blocks of 64 x 64
    got, _ = open_result(tmp_path / "multi.zarr")
    np.testing.assert_array_equal(got[:], reference)


def test_planner_makes_blocks_of_whole_tiles():
    from pcfij.blocks.plan import tile_budget
    from pcfij.pcf import ipcf_tile_size

    kw = dict(radius=6, frames=16384, itemsize=2, npoints=32, nbins=30, bleach=True)
    for limit in (600e6, 1.2e9, 3e9, 8e9):
        plan = make_plan((18432, 512, 1024), budget=int(limit), **kw)
        assert plan.tile in (4, 8, 16, 32, 64)
        assert ipcf_tile_size(16384, 6, tile_budget(plan.tile, 6, 16384)) == plan.tile
        for side, full in ((plan.by, 500), (plan.bx, 1012)):
            assert side == full or side % plan.tile == 0
        assert plan.block_bytes <= limit


def test_row_reading_sources_get_wide_blocks_of_the_same_tiles():
    """A TIFF folder reads whole rows of every file per block: the planner halves the block
    height and widens it (fewer block columns, about half the bytes read) when it fits."""
    kw = dict(radius=6, frames=16384, itemsize=2, npoints=32, nbins=30, bleach=True)
    for limit in ("4GB", "2GB", "1.2GB"):
        budget = parse_memory(limit) - 300 * 10**6
        square = make_plan((18432, 524, 1036), budget=budget, **kw)
        wide = make_plan((18432, 524, 1036), budget=budget, row_reads=True, **kw)
        if square.by < 2 * square.tile:  # one tile high already: nothing to halve
            assert wide == square
            continue
        assert wide.tile == square.tile and wide.block_bytes <= budget
        assert wide.by % wide.tile == 0 and (wide.bx % wide.tile == 0 or wide.bx == 1024)
        assert wide.by < square.by and wide.bx > square.bx
        assert wide.by * wide.bx >= square.by * square.bx * 0.9

        def rows_read(p):  # full rows read per file over the whole run
            return -(-512 // p.by) * -(-1024 // p.bx) * (p.by + 12)

        assert rows_read(wide) < 0.7 * rows_read(square)


def test_one_block_is_bit_identical_to_in_memory(data, reference, tmp_path):
    s = run_blocked_ipcf(data, tmp_path / "one.zarr", block_shape=(H, W), **KW)
    assert s["blocks"] == 1 and s["shape"] == reference.shape
    got, attrs = open_result(tmp_path / "one.zarr")
    np.testing.assert_array_equal(got[:], reference)
    assert attrs["complete"] and attrs["radius"] == R and len(attrs["bins"]) == reference.shape[3]
    assert attrs["origin"] == [R, R]


def test_blocked_from_tiff_folder_equals_in_memory(folder, data, reference, tmp_path):
    s = run_blocked_ipcf(folder, tmp_path / "a.zarr", block_shape=(32, 24), **KW)
    assert s["blocks"] == 3 * 4 and s["blocks_computed"] == 12 and s["blocks_skipped"] == 0
    assert s["pairs"] == (H - 2 * R) * (W - 2 * R) * NP
    got = open_result(tmp_path / "a.zarr")[0][:]
    assert not np.isnan(got).any()
    _rounding_close(got, reference)
    # the same plan again (here: HDF5 output, array input) is bit-identical
    s2 = run_blocked_ipcf(data, tmp_path / "a.h5", block_shape=(32, 24), **KW)
    assert s2["block_shape"] == (32, 24)
    again, attrs = open_result(tmp_path / "a.h5")
    np.testing.assert_array_equal(again[:], got)
    assert attrs["complete"]


def test_bleach_roi_frames_match_in_memory(data, tmp_path):
    roi, frames = "5:70,9:60", "100:1900"
    expect = ipcf(data[100:1900, 5:70, 9:60], R, NP, NB, bleach_filter=256, device="cpu")
    s = run_blocked_ipcf(data, tmp_path / "b.zarr", roi=roi, frames=frames, bleach_filter=256,
                         block_shape=(65 - 2 * R, 51 - 2 * R), **KW)
    got, attrs = open_result(tmp_path / "b.zarr")
    assert s["blocks"] == 1
    np.testing.assert_array_equal(got[:], expect)
    assert attrs["origin"] == [5 + R, 9 + R] and attrs["frames_used"] == 1800 - 512
    s = run_blocked_ipcf(data, tmp_path / "c.zarr", roi=roi, frames=frames, bleach_filter=256,
                         block_shape=(16, 16), **KW)
    assert s["blocks"] == 4 * 3
    _rounding_close(open_result(tmp_path / "c.zarr")[0][:], expect)


def test_memory_limit_sizes_blocks():
    kw = dict(radius=6, frames=16384, itemsize=2, npoints=32, nbins=30, bleach=True)
    big = make_plan((18432, 524, 1036), budget=parse_memory("4GB"), **kw)
    small = make_plan((18432, 524, 1036), budget=parse_memory("1GB"), **kw)
    assert big.block_bytes <= 4e9 and small.block_bytes <= 1e9
    assert big.by * big.bx > 3 * small.by * small.bx
    assert big.by % 8 == 0 and big.bx % 8 == 0
    assert block_bytes(10, 10, radius=1, raw_frames=100, frames=100, itemsize=2, npoints=4,
                       nbins=4, bleach=False) > 0
    assert parse_memory("4GB") == 4 * 10**9 and parse_memory("1GiB") == 2**30
    assert parse_memory("512 MB") == 512 * 10**6 and parse_memory(2e9) == 2 * 10**9
    with pytest.raises(InputError, match="memory limit"):
        parse_memory("lots")


def test_memory_limit_too_small(data, tmp_path):
    with pytest.raises(InputError, match="memory limit .* too small"):
        run_blocked_ipcf(data, tmp_path / "m.zarr", memory_limit="50MB", **KW)
    with pytest.raises(InputError, match="too small: one minimal block"):
        make_plan((20000, 512, 512), radius=6, frames=16384, itemsize=2, npoints=32, nbins=30,
                  bleach=True, budget=10**6, limit_text="1MB")
    assert not (tmp_path / "m.zarr").exists()


def test_output_not_writable(data, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        run_blocked_ipcf(data, tmp_path / "no" / "r.zarr", **KW)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="cannot write output"):
        run_blocked_ipcf(data, tmp_path / "file" / "r.zarr", **KW)
    with pytest.raises(InputError, match=r"\.zarr, \.h5"):
        run_blocked_ipcf(data, tmp_path / "r.tif", **KW)
    (tmp_path / "x.zarr").mkdir()
    (tmp_path / "x.zarr" / "stuff").write_text("not a result")
    with pytest.raises(InputError, match="not a finished pcfij result"):
        run_blocked_ipcf(data, tmp_path / "x.zarr", **KW)


def test_changed_parameters_are_refused(data, tmp_path):
    out = tmp_path / "r.zarr"
    small = data[:256, :30, :30]
    s = run_blocked_ipcf(small, out, block_shape=(12, 12), **KW)
    again = run_blocked_ipcf(small, out, block_shape=(12, 12), **KW)
    assert again["already_complete"] and again["blocks_computed"] == 0
    with pytest.raises(InputError, match=r"radius=3 \(now 2\).*overwrite=True"):
        run_blocked_ipcf(small, out, **dict(KW, radius=2))
    s2 = run_blocked_ipcf(small, out, overwrite=True, **dict(KW, radius=2))
    assert s2["shape"][0] == 30 - 4 and s["shape"][0] == 30 - 6
    assert open_result(out)[1]["radius"] == 2


def test_disk_full_leaves_nothing_complete_then_resumes(data, tmp_path, monkeypatch):
    import zarr.storage

    small = data[:256, :40, :40]
    out = tmp_path / "r.zarr"
    real_set = zarr.storage.LocalStore.set
    calls = {"n": 0}

    async def full_disk(self, key, value, *args, **kwargs):
        if not key.endswith((".zarray", ".zattrs", ".zgroup", "zarr.json")):  # chunk data
            calls["n"] += 1
            if calls["n"] > 3:
                raise OSError(errno.ENOSPC, "No space left on device")
        return await real_set(self, key, value, *args, **kwargs)

    monkeypatch.setattr(zarr.storage.LocalStore, "set", full_disk)
    with pytest.raises(InputError, match="disk full.*run the same command again"):
        run_blocked_ipcf(small, out, block_shape=(10, 10), **KW)
    assert not out.exists()
    partial = tmp_path / "r.zarr.partial"
    attrs = json.loads((partial / "data.zarr" / ".zattrs").read_text())
    assert attrs["pcfij"]["complete"] is False
    assert len(os.listdir(partial / "done")) == 3
    with pytest.raises(InputError, match="not a finished|does not exist.*unfinished run"):
        open_result(out)
    monkeypatch.setattr(zarr.storage.LocalStore, "set", real_set)
    s = run_blocked_ipcf(small, out, block_shape=(10, 10), **KW)
    assert s["blocks_skipped"] == 3 and s["blocks_computed"] == s["blocks"] - 3
    assert not partial.exists()
    np.testing.assert_array_equal(
        open_result(out)[0][:], _uninterrupted(small, tmp_path / "u.zarr", (10, 10)))


def _uninterrupted(arr, out, block_shape):
    run_blocked_ipcf(arr, out, block_shape=block_shape, **KW)
    return open_result(out)[0][:]


def test_bad_tiff_in_folder(data, tmp_path):
    d = tmp_path / "f"
    d.mkdir()
    small = data[:300, :24, :24]
    for i, frame in enumerate(small):
        tifffile.imwrite(d / f"img_{i:09d}_Default_000.tif", frame)
    bad = d / "img_000000123_Default_000.tif"
    bad.write_bytes(bad.read_bytes()[:100])
    with pytest.raises(InputError, match="img_000000123_Default_000.tif.*truncated"):
        run_blocked_ipcf(d, tmp_path / "r.zarr", **KW)
    assert not (tmp_path / "r.zarr").exists() and not (tmp_path / "r.zarr.partial").exists()
    s = run_blocked_ipcf(d, tmp_path / "r.zarr", skip_bad=True, **KW)
    assert len(s["skipped_files"]) == 1 and "img_000000123" in s["skipped_files"][0]
    assert "img_000000123" in open_result(tmp_path / "r.zarr")[1]["skipped_files"][0]


def test_sigkill_then_rerun_is_bit_identical_and_skips_finished_blocks(folder, tmp_path):
    out = tmp_path / "killed.zarr"
    child = textwrap.dedent(f"""
        import time
        import pcfij.blocks.pipeline as pl
        real = pl.mark_done
        def slow_mark(*a, **k):
            real(*a, **k)
            time.sleep(0.3)  # widen the window between blocks for the parent's SIGKILL
        pl.mark_done = slow_mark
        pl.run_blocked_ipcf({str(folder)!r}, {str(out)!r}, radius={R}, npoints={NP},
                            nbins={NB}, device="cpu", progress=False, block_shape=(16, 16))
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stderr=subprocess.PIPE)
    done_dir = tmp_path / "killed.zarr.partial" / "done"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        # finished blocks only (a marker being written is a hidden temporary file)
        if done_dir.is_dir() and sum(n.isdigit() for n in os.listdir(done_dir)) >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read().decode()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {int(n) for n in os.listdir(done_dir) if n.isdigit()}
    nblocks = 6 * 5
    assert 3 <= len(finished) < nblocks
    assert not out.exists()  # nothing looks complete
    s = run_blocked_ipcf(folder, out, block_shape=(16, 16), **KW)
    assert s["blocks"] == nblocks
    assert set(s["computed_blocks"]).isdisjoint(finished)  # finished blocks not recomputed
    assert set(s["computed_blocks"]) | finished == set(range(nblocks))
    assert s["blocks_skipped"] == len(finished)
    resumed = open_result(out)[0][:]
    np.testing.assert_array_equal(resumed, _uninterrupted(folder, tmp_path / "u.zarr", (16, 16)))


def test_blocked_run_returns_an_ipcf_result_like_in_memory(data, reference, tmp_path):
    """#14: the blocked run gives an IPCFResult (lazy array, the same bins, delays, circle,
    frames used and parameters as the in-memory ipcf) with its run statistics beside it;
    load_result reopens a finished output the same way."""
    from pcfij.blocks.pipeline import load_result
    from pcfij.pcf import IPCFResult, ipcf

    mem = ipcf(data, R, NP, NB, device="cpu")
    res = run_blocked_ipcf(data, tmp_path / "r.zarr", block_shape=(H, W), **KW)
    assert isinstance(res, IPCFResult) and not isinstance(res.pcf, np.ndarray)  # lazy
    np.testing.assert_array_equal(np.asarray(res), reference)
    np.testing.assert_array_equal(res[2, 3], reference[2, 3])
    np.testing.assert_array_equal(res.bins, mem.bins)
    np.testing.assert_array_equal(res.delays, mem.delays)
    np.testing.assert_array_equal(res.circle, mem.circle)
    assert res.frames_used == mem.frames_used and res.shape == mem.shape
    for key in ("radius", "npoints", "nbins", "pow2", "bleach_filter", "smooth"):
        assert res.params[key] == mem.params[key], key
    assert res["blocks"] == res.stats["blocks"] == 1 and res.stats["complete"]
    assert "blocks" in res and "nope" not in res
    again = load_result(tmp_path / "r.zarr")
    assert again.stats == {} and again.frames_used == mem.frames_used
    np.testing.assert_array_equal(np.asarray(again), reference)
