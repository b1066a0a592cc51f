"""CLI of the big-data commands: convert, pcf on big inputs (resumable), export."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import tifffile
import zarr

from pcfij.blocks.pipeline import open_result
from pcfij.cli import main
from pcfij.io.convert import convert_series
from pcfij.io.readers import open_series
from pcfij.pcf import ipcf


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    rng = np.random.default_rng(2)
    data = rng.poisson(rng.uniform(60, 300, (1, 40, 36)), (512, 40, 36)).astype(np.uint16)
    d = tmp_path_factory.mktemp("cli") / "tiffs"
    d.mkdir()
    for i, frame in enumerate(data):
        tifffile.imwrite(d / f"img_{i:09d}_Default_000.tif", frame, byteorder=">")
    return d, data


def test_convert_to_zarr_and_hdf5(folder, tmp_path, capsys):
    d, data = folder
    assert main(["convert", str(d), "-o", str(tmp_path / "d.zarr"), "--roi", "2:30,4:36",
                 "--frames", "10:500", "--chunks", "128,16,16"]) == 0
    assert "490 frames of 28x32" in capsys.readouterr().out
    z = zarr.open_group(str(tmp_path / "d.zarr"), mode="r")["data"]
    assert z.chunks == (128, 16, 16) and z.dtype == np.uint16
    np.testing.assert_array_equal(z[:], data[10:500, 2:30, 4:36])
    s = convert_series(d, tmp_path / "d.h5", progress=False)
    with h5py.File(tmp_path / "d.h5", "r") as f:
        assert f["data"].chunks == (512, 16, 16)
        np.testing.assert_array_equal(f["data"][:], data)
    assert s["shape"] == data.shape
    np.testing.assert_array_equal(open_series(tmp_path / "d.h5").compute(), data)
    assert main(["convert", str(d), "-o", str(tmp_path / "d.h5")]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["convert", str(d), "-o", str(tmp_path / "x.zarr"), "--roi", "0:99,0:5"]) == 1
    err = capsys.readouterr().err
    assert "ROI rows 0:99 lies outside 0:40" in err and "Traceback" not in err


def test_pcf_cli_big_output_and_export(folder, tmp_path, capsys):
    d, data = folder
    out = tmp_path / "r.zarr"
    args = ["pcf", str(d), "-o", str(out), "--radius", "2", "--points", "8", "--bins", "8",
            "--device", "cpu", "--roi", "0:30,0:30", "--memory-limit", "2GB"]
    assert main(args) == 0
    arr, attrs = open_result(out)
    expect = ipcf(data[:, :30, :30], 2, 8, 8, device="cpu")
    np.testing.assert_array_equal(arr[:], expect)
    assert main(args) == 0  # already complete: nothing recomputed
    assert "blocks_computed=0" in capsys.readouterr().out
    tif = tmp_path / "r.tif"
    assert main(["export", str(out), "-o", str(tif), "--points", "0:4", "--bins", "1:3"]) == 0
    with tifffile.TiffFile(tif) as t:
        assert t.is_imagej and t.series[0].axes == "TZYX"
        stack = t.series[0].asarray()
    np.testing.assert_array_equal(stack, np.moveaxis(expect[:, :, 0:4, 1:3], (3, 2), (0, 1)))
    assert main(["export", str(tmp_path / "none.zarr"), "-o", str(tmp_path / "n.tif")]) == 1
    assert "does not exist" in capsys.readouterr().err
