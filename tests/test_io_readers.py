"""Lazy readers of big image time series: every format gives the same (T, H, W) array."""

from __future__ import annotations

import os
import pickle

import h5py
import numpy as np
import pytest
import tifffile
import zarr

from pcfij.errors import InputError
from pcfij.io.readers import open_series, open_source, parse_frames, parse_roi
from pcfij.io.tiff_folder import FileInfo, _fast_header, frame_slots, natural_key, scan_file

T, H, W = 2048, 96, 80


def _name(i: int) -> str:
    return f"img_{i:09d}_Default_000.tif"


@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(7)
    base = rng.poisson(200, (1, H, W))
    return (base + rng.poisson(20, (T, H, W))).astype(np.uint16)


@pytest.fixture(scope="module")
def sources(series, tmp_path_factory):
    """The same series as a TIFF folder, multi-page TIFF, HDF5 and Zarr."""
    d = tmp_path_factory.mktemp("readers")
    folder = d / "folder"
    folder.mkdir()
    for i, frame in enumerate(series):
        # alternate byte order: big-endian files must read the same
        tifffile.imwrite(folder / _name(i), frame, byteorder=">" if i % 3 == 0 else "<")
    tifffile.imwrite(d / "stack.tif", series)
    with h5py.File(d / "data.h5", "w") as f:
        f.create_dataset("group/spim", data=series, chunks=(512, 16, 16))
        f.create_dataset("small2d", data=series[0])
    z = zarr.create_array(d / "data.zarr", shape=series.shape, chunks=(512, 32, 32),
                          dtype=series.dtype, zarr_format=2)
    z[:] = series
    return {"folder": folder, "tiff": d / "stack.tif", "hdf5": d / "data.h5",
            "zarr": d / "data.zarr", "dir": d}


@pytest.mark.parametrize("kind", ["folder", "tiff", "hdf5", "zarr"])
def test_every_reader_gives_the_same_array(sources, series, kind):
    src = open_source(sources[kind])
    assert src.shape == (T, H, W)
    assert src.dtype == np.uint16
    np.testing.assert_array_equal(src.data.compute(), series)
    # ROI and frame range
    part = open_series(sources[kind], roi="10:50,5:70", frames="100:612")
    np.testing.assert_array_equal(part.compute(), series[100:612, 10:50, 5:70])
    part = open_series(sources[kind], roi=(slice(0, 8), slice(None)), frames=":16")
    np.testing.assert_array_equal(part.compute(), series[:16, :8])


def test_folder_reads_only_needed_rows(sources, series):
    src = open_source(sources["folder"])
    assert src.kind == "tiff-folder" and src.blockable
    reader = src.reader
    calls = []
    orig = reader._read_rows

    def spy(t, y0, y1, buf=None):
        calls.append((y0, y1))
        return orig(t, y0, y1, buf)

    reader._read_rows = spy
    got = src.data[:64, 40:50, 10:20].compute()
    np.testing.assert_array_equal(got, series[:64, 40:50, 10:20])
    assert {c for c in calls} == {(32, 64)}  # one row chunk, not whole frames
    # direct indexing reads exactly the rows
    calls.clear()
    np.testing.assert_array_equal(reader[5:9, 41:43, 3], series[5:9, 41:43, 3])
    assert set(calls) == {(41, 43)}
    del reader._read_rows
    # picklable (dask.distributed workers) and still readable
    clone = pickle.loads(pickle.dumps(src.reader))
    np.testing.assert_array_equal(clone[7], series[7])


def test_block_reads_equal_slicing_and_fall_back_on_bad_files(sources, series, tmp_path):
    """The pipeline's block reader (``read_into`` fast path) gives the same numbers as
    slicing, for little- and big-endian files, and a file that breaks after the header
    scan goes through the checked path (named, or interpolated with skip_bad)."""
    from pcfij.blocks.pipeline import read_block

    src = open_source(sources["folder"])
    got = read_block(src, slice(7, 40), slice(11, 73))
    np.testing.assert_array_equal(got, series[:, 7:40, 11:73])
    part = open_source(sources["folder"], roi="3:60,2:70", frames="5:300")
    np.testing.assert_array_equal(read_block(part, slice(4, 30), slice(0, 9)),
                                  series[5:300, 7:33, 2:11])

    folder = tmp_path / "f"
    data = _small_folder(folder)
    strict = open_source(folder)
    lenient = open_source(folder, skip_bad=True)
    victim = folder / _name(12)
    with open(victim, "r+b") as fh:  # truncated after the scan: found at read time
        fh.truncate(100)
    with pytest.raises(InputError, match=f"{_name(12)}.*truncated"):
        read_block(strict, slice(0, 12), slice(0, 10))
    got = read_block(lenient, slice(2, 9), slice(1, 8))
    expect = np.rint((data[11].astype(float) + data[13]) / 2).astype(np.uint16)
    np.testing.assert_array_equal(got[12], expect[2:9, 1:8])
    np.testing.assert_array_equal(np.delete(got, 12, 0), np.delete(data, 12, 0)[:, 2:9, 1:8])
    assert any(_name(12) in m for m in lenient.reader.runtime_skipped)


def test_memory_mapped_inputs_are_read_lazily(tmp_path):
    """Opening a .npy / raw file must not read it (dask copies NumPy chunks up front): what
    a block read returns is what the file holds at that moment."""
    data = np.arange(64 * 9 * 7, dtype=np.uint16).reshape(64, 9, 7)
    np.save(tmp_path / "a.npy", data)
    data.tofile(tmp_path / "a.raw")
    npy = open_source(tmp_path / "a.npy")
    raw = open_source(tmp_path / "a.raw", raw_shape=(9, 7))
    later = data + 1
    np.save(tmp_path / "a.npy", later)  # same size: the mapping now shows the new values
    with open(tmp_path / "a.raw", "r+b") as fh:
        fh.write(later.tobytes())
    for src in (npy, raw):
        np.testing.assert_array_equal(src.data[:, 2:5, 1:6].compute(), later[:, 2:5, 1:6])


def test_more_tiff_flavours(series, tmp_path):
    data = series[:64, :32, :24]
    files = {
        "imagej.tif": dict(imagej=True),
        "big.tif": dict(bigtiff=True),
        "ome.ome.tif": dict(ome=True),
        "zlib.tif": dict(compression="zlib"),
        "be.tif": dict(byteorder=">"),
    }
    for name, kw in files.items():
        tifffile.imwrite(tmp_path / name, data, **kw)
        src = open_source(tmp_path / name)
        np.testing.assert_array_equal(src.data.compute(), data, err_msg=name)
        assert src.data.dtype == np.dtype("uint16")
        assert src.blockable == (name != "zlib.tif")
    # ImageJ hyperstack with singleton channel/slice axes
    tifffile.imwrite(tmp_path / "hyper.tif", data[:, None, None], imagej=True,
                     metadata={"axes": "TZCYX"})
    np.testing.assert_array_equal(open_series(tmp_path / "hyper.tif").compute(), data)
    # two non-singleton extra axes are refused with the axes named
    tifffile.imwrite(tmp_path / "tc.tif", data.reshape(32, 2, 32, 24), imagej=True,
                     metadata={"axes": "TCYX"})
    with pytest.raises(InputError, match="more than one non-image axis"):
        open_series(tmp_path / "tc.tif")


def test_zarr_v3_ome_zarr_raw_npy(series, tmp_path):
    data = series[:64, :32, :24]
    z = zarr.create_array(tmp_path / "v3.zarr", shape=data.shape, chunks=(64, 16, 16),
                          dtype=data.dtype)
    z[:] = data
    np.testing.assert_array_equal(open_series(tmp_path / "v3.zarr").compute(), data)
    # OME-Zarr: group with multiscales; level "0" is (t, c, z, y, x)
    g = zarr.open_group(tmp_path / "ome.zarr", mode="w", zarr_format=2)
    g.attrs["multiscales"] = [{
        "version": "0.4",
        "axes": [{"name": n} for n in "tczyx"],
        "datasets": [{"path": "0"}, {"path": "1"}],
    }]
    a0 = g.create_array("0", shape=(64, 1, 1, 32, 24), chunks=(64, 1, 1, 16, 24), dtype="u2")
    a0[:] = data[:, None, None]
    g.create_array("1", shape=(64, 1, 1, 16, 12), chunks=(64, 1, 1, 16, 12), dtype="u2")
    np.testing.assert_array_equal(open_series(tmp_path / "ome.zarr").compute(), data)
    # raw binary, big-endian, with the frame size given
    data.astype(">u2").tofile(tmp_path / "raw.bin")
    got = open_series(tmp_path / "raw.bin", raw_shape=(32, 24), raw_dtype=">u2").compute()
    np.testing.assert_array_equal(got, data)
    assert got.dtype == np.dtype("uint16")
    with pytest.raises(InputError, match="frame_size"):
        open_series(tmp_path / "raw.bin")
    with pytest.raises(InputError, match="not a whole number"):
        open_series(tmp_path / "raw.bin", raw_shape=(31, 24))
    np.save(tmp_path / "a.npy", data)
    np.testing.assert_array_equal(open_series(tmp_path / "a.npy").compute(), data)
    # arrays in memory
    np.testing.assert_array_equal(open_series(data).compute(), data)


def test_hdf5_dataset_choice(sources, series, tmp_path):
    np.testing.assert_array_equal(
        open_series(sources["hdf5"], dataset="group/spim", frames="0:8").compute(), series[:8]
    )
    with h5py.File(tmp_path / "two.h5", "w") as f:
        f["a"] = series[:40, :8, :8]
        f["b"] = series[:40, :8, :8]
    with pytest.raises(InputError, match="`dataset`") as err:
        open_series(tmp_path / "two.h5")
    assert "a (40, 8, 8)" in str(err.value) and "b (40, 8, 8)" in str(err.value)
    with pytest.raises(InputError, match="no dataset 'c'"):
        open_series(tmp_path / "two.h5", dataset="c")


def test_roi_and_frames_parsing():
    assert parse_roi("10:20,:30", (100, 50)) == (slice(10, 20), slice(0, 30))
    assert parse_roi(None, (4, 5)) == (slice(0, 4), slice(0, 5))
    assert parse_frames("5:", 100) == slice(5, 100)
    for bad in ("0:600,0:10", "10:5,0:10", "0:10", "a:b,1:2"):
        with pytest.raises(InputError, match="ROI"):
            parse_roi(bad, (512, 1024))
    with pytest.raises(InputError, match="outside 0:512"):
        parse_roi("0:600,0:10", (512, 1024))
    with pytest.raises(InputError, match="frames"):
        parse_frames("0:5000", 4096)


def test_roi_outside_image_names_the_image_size(sources):
    with pytest.raises(InputError, match="96 rows x 80 columns"):
        open_series(sources["hdf5"], roi="0:100,0:10")


def test_natural_sort_and_gap_detection():
    names = ["a10.tif", "a2.tif", "a1.tif"]
    assert sorted(names, key=natural_key) == ["a1.tif", "a2.tif", "a10.tif"]
    slots, expected = frame_slots([_name(i) for i in (0, 1, 2, 4, 5, 8)])
    assert slots[:3] == [_name(0), _name(1), _name(2)]
    assert slots[3] is None and slots[6] is None and slots[7] is None
    assert expected == [_name(3), _name(6), _name(7)]
    # two varying numbers: no gap detection, plain natural order
    assert frame_slots(["t1_c1.tif", "t1_c2.tif", "t2_c5.tif"])[1] == []


def _small_folder(path, n=40, shape=(12, 10)):
    path.mkdir()
    rng = np.random.default_rng(3)
    data = rng.integers(100, 1000, (n, *shape), dtype=np.uint16)
    for i, frame in enumerate(data):
        tifffile.imwrite(path / _name(i), frame)
    return data


def test_missing_file_is_named_and_skip_bad_interpolates(tmp_path):
    folder = tmp_path / "f"
    data = _small_folder(folder)
    os.remove(folder / _name(7))
    with pytest.raises(InputError, match=_name(7)) as err:
        open_series(folder)
    assert "missing" in str(err.value) and "skip_bad=True" in str(err.value)
    src = open_source(folder, skip_bad=True)
    assert len(src.skipped) == 1 and _name(7) in src.skipped[0]
    got = src.data.compute()
    assert got.shape == data.shape
    expect = np.rint((data[6].astype(float) + data[8]) / 2).astype(np.uint16)
    np.testing.assert_array_equal(got[7], expect)
    np.testing.assert_array_equal(np.delete(got, 7, 0), np.delete(data, 7, 0))


def test_truncated_file_is_named(tmp_path):
    folder = tmp_path / "f"
    data = _small_folder(folder)
    victim = folder / _name(39)
    size = victim.stat().st_size
    with open(victim, "r+b") as fh:
        fh.truncate(size - 50)
    with pytest.raises(InputError, match=f"{_name(39)}.*truncated"):
        open_series(folder)
    src = open_source(folder, skip_bad=True)
    got = src.data.compute()
    np.testing.assert_array_equal(got[39], data[38])  # last frame: nearest good frame
    assert "truncated" in src.skipped[0]
    # an empty file and a non-TIFF file
    (folder / _name(39)).write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        open_series(folder)
    (folder / _name(39)).write_bytes(b"hello world, not a tiff")
    with pytest.raises(InputError, match="not a TIFF"):
        open_series(folder)


def test_mixed_image_sizes_are_named(tmp_path):
    folder = tmp_path / "f"
    _small_folder(folder)
    tifffile.imwrite(folder / _name(5), np.zeros((12, 11), np.uint16))
    with pytest.raises(InputError, match=f"{_name(5)}.*11x12.*mixed image sizes"):
        open_series(folder)
    tifffile.imwrite(folder / _name(5), np.zeros((12, 10), np.float32))
    with pytest.raises(InputError, match=f"{_name(5)}.*float32"):
        open_series(folder)


def test_corrupt_compressed_file_fails_at_read_time_naming_it(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    data = np.random.default_rng(1).integers(0, 1000, (8, 12, 10), dtype=np.uint16)
    for i, frame in enumerate(data):
        tifffile.imwrite(folder / _name(i), frame, compression="zlib")
    path = folder / _name(4)
    raw = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tif:
        off = tif.pages.first.dataoffsets[0]
    raw[off : off + 20] = b"\xff" * 20
    path.write_bytes(bytes(raw))
    src = open_source(folder)
    assert not src.blockable
    with pytest.raises(InputError, match=_name(4)):
        src.data.compute()
    got = open_source(folder, skip_bad=True).data.compute()
    np.testing.assert_array_equal(got[3], data[3])


def test_empty_and_unknown_inputs(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        open_series(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no TIFF files"):
        open_series(tmp_path / "empty")
    (tmp_path / "x.xyz").write_text("?")
    with pytest.raises(InputError, match="do not know how to read"):
        open_series(tmp_path / "x.xyz")


@pytest.mark.parametrize("kw", [
    {}, {"byteorder": ">"}, {"bigtiff": True}, {"rowsperstrip": 3}, {"imagej": True},
    {"compression": "zlib"}, {"tile": (16, 16)},
])
def test_fast_header_agrees_with_tifffile(tmp_path, kw):
    data = np.arange(32 * 48, dtype=np.uint16).reshape(32, 48)
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, data, **kw)
    fast = _fast_header(str(path))
    info = scan_file(str(path))
    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        contiguous = page.is_contiguous and page.compression == 1
    if fast is not None:  # plain files: same answer as tifffile
        assert fast == info
        assert fast.offset == page.dataoffsets[0]
    assert (info.offset >= 0) == bool(contiguous)
    assert info.shape == (32, 48) and info.error == ""
    assert isinstance(info, FileInfo)


# ----------------------------------------------------------------- issue #13, items 4 and 5
def _cli(*args) -> tuple[int, list[str]]:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "pcfij", *map(str, args)],
                          capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stderr.strip().splitlines()


def test_raw_file_without_frame_size_is_refused_on_both_paths(tmp_path):
    from pcfij.io.tiff import read_image

    raw = tmp_path / "series.bin"
    np.random.default_rng(2).poisson(100, (200, 32, 32)).astype("<u2").tofile(raw)
    # Python: the engine names its parameter, never a CLI flag
    for call in (lambda: read_image(raw), lambda: open_source(raw)):
        with pytest.raises(InputError, match="frame_size") as err:
            call()
        assert "--" not in str(err.value)
    # CLI, in-memory and blocked paths: one line naming the real flag
    for out in (tmp_path / "mem", tmp_path / "big.zarr"):
        code, lines = _cli("pcf", raw, "-o", out, "--radius", "2")
        assert code == 1 and len(lines) == 1, lines
        assert "--frame-size" in lines[0]
        assert "--raw-shape" not in lines[0] and "--raw-dtype" not in lines[0]
        assert not out.exists()
    # with the frame size it is read as what it is
    got = read_image(raw, raw_shape=(32, 32)).data
    assert got.shape == (200, 32, 32)


def test_engine_messages_name_parameters_not_flags(tmp_path):
    folder = tmp_path / "f"
    _small_folder(folder)
    (folder / _name(3)).write_bytes(b"")
    with pytest.raises(InputError) as err:
        open_series(folder)
    assert "skip_bad=True" in str(err.value) and "--" not in str(err.value)
    with h5py.File(tmp_path / "two.h5", "w") as f:
        f.create_dataset("a", data=np.zeros((4, 5, 6)))
        f.create_dataset("b", data=np.zeros((4, 5, 6)))
    with pytest.raises(InputError) as err:
        open_series(tmp_path / "two.h5")
    assert "`dataset`" in str(err.value) and "--" not in str(err.value)


def test_zero_frame_npy_is_a_clear_one_line_error(tmp_path):
    src = tmp_path / "empty.npy"
    np.save(src, np.zeros((0, 32, 32), np.uint16))
    with pytest.raises(InputError, match="no (image data|frames)"):
        open_source(src)
    for out in (tmp_path / "mem", tmp_path / "big.zarr"):
        code, lines = _cli("pcf", src, "-o", out)
        assert code == 1 and len(lines) == 1, lines
        assert "empty.npy" in lines[0] and ("no image data" in lines[0] or "no frames" in lines[0])
        assert "reshape" not in lines[0]


@pytest.mark.parametrize("odd", [np.uint8, np.float32])
def test_other_sample_type_among_uint16_files_is_called_mixed_dtypes(tmp_path, odd):
    folder = tmp_path / "f"
    _small_folder(folder)
    tifffile.imwrite(folder / _name(4), np.zeros((12, 10), odd))
    with pytest.raises(InputError, match=f"{_name(4)}.*{np.dtype(odd).name}") as err:
        open_series(folder)
    assert "mixed sample types" in str(err.value)
    assert "image sizes" not in str(err.value)


def test_output_read_only_mid_run_says_blocks_are_kept_and_how_to_resume(tmp_path, monkeypatch):
    import errno

    import zarr.storage

    from pcfij.blocks.pipeline import open_result, run_blocked_ipcf

    data = np.random.default_rng(4).poisson(150, (400, 30, 30)).astype(np.uint16)
    out = tmp_path / "r.zarr"
    kw = dict(radius=2, npoints=8, nbins=10, device="cpu", progress=False, block_shape=(9, 9))
    real_set = zarr.storage.LocalStore.set
    calls = {"n": 0}

    async def read_only(self, key, value, *args, **kwargs):
        if not key.endswith((".zarray", ".zattrs", ".zgroup", "zarr.json")):
            calls["n"] += 1
            if calls["n"] > 2:
                raise OSError(errno.EROFS, "Read-only file system")
        return await real_set(self, key, value, *args, **kwargs)

    monkeypatch.setattr(zarr.storage.LocalStore, "set", read_only)
    with pytest.raises(InputError) as err:
        run_blocked_ipcf(data, out, **kw)
    msg = str(err.value)
    assert "Read-only" in msg and "finished blocks are kept" in msg
    assert "run the same command" in msg
    assert len(os.listdir(tmp_path / "r.zarr.partial" / "done")) == 2
    monkeypatch.setattr(zarr.storage.LocalStore, "set", real_set)
    s = run_blocked_ipcf(data, out, **kw)
    assert s["blocks_skipped"] == 2
    assert open_result(out)[0].shape[:2] == (26, 26)
