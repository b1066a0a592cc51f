"""Chunked inputs (Zarr, HDF5) in the blocked ipCF: row bands that decode every chunk once.

The band reader asks :class:`pcfij.io.rows.ChunkRows` for whole time chunks and extends each
band's rows to a chunk boundary (the extra rows are kept for the next band), so no chunk is
read twice. Checked here by recording every request the pipeline makes and mapping it onto
the chunk grid, independently of the pipeline's own byte counter; the result must equal the
in-memory ``ipcf`` of the same pixels.
"""

from __future__ import annotations

from collections import Counter

import h5py
import numpy as np
import pytest
import zarr

from pcfij.blocks.pipeline import open_result, run_blocked_ipcf
from pcfij.io.rows import ChunkRows
from pcfij.pcf import ipcf

T, H, W = 1100, 60, 50
R, NP, NB = 2, 8, 10
KW = dict(radius=R, npoints=NP, nbins=NB, device="cpu", progress=False)
ROI, FRAMES = (slice(3, 58), slice(1, 49)), slice(37, 1037)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    base = rng.uniform(50, 300, (1, H, W))
    return rng.poisson(base + rng.uniform(0, 20, (T, 1, 1))).astype(np.uint16)


def _zarr(path, data, chunks):
    z = zarr.create_array(path, shape=data.shape, chunks=chunks, dtype=data.dtype,
                          zarr_format=2)
    z[:] = data
    return path


def _hdf5(path, data, chunks):
    with h5py.File(path, "w") as f:
        f.create_dataset("spim", data=data, chunks=chunks)
    return path


def _chunks_touched(requests, chunks):
    """Count, per chunk index (t, y, x), the requests that overlap it."""
    ct, cy, cx = chunks
    seen = Counter()
    for t0, n, y0, y1, x0, x1 in requests:
        for ti in range(t0 // ct, (t0 + n - 1) // ct + 1):
            for yi in range(y0 // cy, (y1 - 1) // cy + 1):
                for xi in range(x0 // cx, (x1 - 1) // cx + 1):
                    seen[ti, yi, xi] += 1
    return seen


@pytest.mark.parametrize("kind,chunks", [("zarr", (100, 7, 9)), ("hdf5", (64, 10, 16)),
                                          ("zarr", (1100, 4, 50)),
                                          # chunk rows taller than a band (12 + 2r rows)
                                          ("zarr", (100, 40, 9)), ("hdf5", (300, 25, 50))])
def test_every_chunk_is_read_once_and_the_result_equals_in_memory(data, tmp_path, monkeypatch,
                                                                   kind, chunks):
    src = (_zarr if kind == "zarr" else _hdf5)(
        tmp_path / ("in.zarr" if kind == "zarr" else "in.h5"), data, chunks)
    requests = []
    real = ChunkRows.read_into

    def spy(self, out, t0, y0, y1, x0, x1):
        requests.append((t0, out.shape[0], y0, y1, x0, x1))
        return real(self, out, t0, y0, y1, x0, x1)

    monkeypatch.setattr(ChunkRows, "read_into", spy)
    roi = f"{ROI[0].start}:{ROI[0].stop},{ROI[1].start}:{ROI[1].stop}"
    frames = f"{FRAMES.start}:{FRAMES.stop}"
    # blocks of 12 x 16 result pixels: several bands, several blocks per band
    stats = run_blocked_ipcf(src, tmp_path / "r.zarr", roi=roi, frames=frames,
                             block_shape=(12, 16), **KW)
    assert stats["bands"], "chunked input not read in row bands"
    seen = _chunks_touched(requests, chunks)
    twice = {k: v for k, v in seen.items() if v > 1}
    assert not twice, f"chunks read more than once: {sorted(twice)[:5]}"
    # every needed chunk was read, and only rows/frames/columns of the ROI were asked for
    assert min(r[2] for r in requests) == ROI[0].start
    assert max(r[3] for r in requests) == ROI[0].stop
    assert all((r[4], r[5]) == (ROI[1].start, ROI[1].stop) for r in requests)
    assert sum(r[1] * (r[3] - r[2]) for r in requests) == \
        (FRAMES.stop - FRAMES.start) * (ROI[0].stop - ROI[0].start)
    got = open_result(tmp_path / "r.zarr")[0][:]
    expect = ipcf(data[FRAMES, ROI[0], ROI[1]], R, NP, NB, device="cpu").pcf
    scale = float(np.nanmax(np.abs(expect)))
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-6 * scale)


def test_chunk_requests_are_whole_time_chunks(data, tmp_path):
    from pcfij.io.readers import open_source
    from pcfij.io.rows import read_rows, row_reader

    src = open_source(_zarr(tmp_path / "c.zarr", data, (100, 7, 9)), frames="37:1037")
    reader = row_reader(src)
    assert isinstance(reader, ChunkRows) and reader.frame_step == 100
    calls = []

    class Spy:
        frame_step, row_align = reader.frame_step, reader.row_align

        def read_into(self, out, t0, *rest):
            calls.append((t0, out.shape[0]))
            reader.read_into(out, t0, *rest)

    got = read_rows(src, slice(5, 20), slice(0, W), reader=Spy())
    np.testing.assert_array_equal(got, data[37:1037, 5:20])
    assert calls[0] == (37, 63) and calls[-1] == (1000, 37)
    assert all(t0 % 100 == 0 and n == 100 for t0, n in calls[1:-1])
