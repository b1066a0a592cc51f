"""The `pcfij` command line for ipCF: outputs, and bad input ending in one clear line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tifffile

from pcfij.cli import main
from pcfij.pcf import ipcf
from pcfij.simulate import simulate_channel


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    data = simulate_channel(600, 20, seed=4)
    path = folder / "series.tif"
    tifffile.imwrite(path, data, imagej=True, resolution=(1 / 0.076, 1 / 0.076),
                     metadata={"axes": "TYX", "unit": "micron", "finterval": 0.012})
    return path, data


def test_pcf_writes_complete_outputs(series, tmp_path):
    path, data = series
    out = tmp_path / "result"
    assert main(["pcf", str(path), "-o", str(out), "--radius", "3", "--points", "8",
                 "--bins", "12", "--pow2", "--device", "cpu"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"pcf.npy", "pcf.tif", "bins.csv", "points.csv", "summary.json",
            "pixel_lines.png", "pixel_carpet.png", "pixel_polar.png", "max_delay.png"} <= names
    expected = ipcf(data, 3, 8, 12, pow2=True, device="cpu")
    np.testing.assert_array_equal(np.load(out / "pcf.npy"), expected)
    with tifffile.TiffFile(out / "pcf.tif") as tif:
        stack = tif.asarray()
        ij = tif.imagej_metadata
        xres = tif.pages[0].tags["XResolution"].value
    # frames = delay bins, slices = circle points
    assert stack.shape == (expected.shape[3], 8, 14, 14)
    np.testing.assert_array_equal(stack[2, 5], expected[:, :, 5, 2])
    assert ij["unit"] == "micron" and xres[1] / xres[0] == pytest.approx(0.076)
    assert "point 5" in ij["Labels"][5 + 2 * 8] and "bin 2" in ij["Labels"][5 + 2 * 8]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["result_shape"] == list(expected.shape)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".result")]


def test_existing_output_is_refused_without_overwrite(series, tmp_path, capsys):
    path, _ = series
    out = tmp_path / "exists"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["pcf", str(path), "-o", str(out), "--radius", "2", "--points", "4"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--overwrite" in err[0]
    assert (out / "keep.txt").read_text() == "mine"


def _run_cli(*args):
    return subprocess.run([sys.executable, "-m", "pcfij", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize(
    "make,flags,text",
    [
        (lambda d: np.zeros((64, 10), np.uint16), [], "image time series"),
        (lambda d: np.zeros((64, 9, 9), np.uint16), ["--radius", "6"], "too large"),
        (lambda d: np.zeros((16, 20, 20), np.uint16), [], "at least 32"),
        (lambda d: np.zeros((64, 20, 20), np.complex64), [], "numeric"),
        (lambda d: np.zeros((64, 20, 20), np.uint16), ["--mask", "MASK"], "mask"),
        (None, [], "does not exist"),
        ("truncated", [], "cannot read"),
        ("bin", ["--frame-size", "64x64"], "truncated"),
    ],
    ids=["2d", "radius", "frames", "complex", "mask", "missing", "truncated-tiff", "raw-size"],
)
def test_bad_input_gives_one_line_and_no_output(tmp_path, make, flags, text):
    src = tmp_path / "in.npy"
    if make is None:
        src = tmp_path / "missing.tif"
    elif make == "truncated":
        src = tmp_path / "in.tif"
        tifffile.imwrite(src, np.ones((40, 16, 16), np.uint16))
        src.write_bytes(src.read_bytes()[:3000])
    elif make == "bin":
        src = tmp_path / "in.bin"
        src.write_bytes(b"\0" * (64 * 64 * 2 * 3 + 10))
    else:
        np.save(src, make(None))
    flags = [f if f != "MASK" else str(tmp_path / "mask.npy") for f in flags]
    np.save(tmp_path / "mask.npy", np.ones((5, 5), bool))
    out = tmp_path / "out"
    proc = _run_cli("pcf", str(src), "-o", str(out), "--points", "4", *flags)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert text in lines[0] and "Traceback" not in proc.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_input_file_is_not_modified(series, tmp_path):
    path, _ = series
    before = path.read_bytes()
    assert main(["pcf", str(path), "-o", str(tmp_path / "r"), "--radius", "2", "--points",
                 "4", "--bins", "6", "--no-figures"]) == 0
    assert path.read_bytes() == before


def test_simfcs_raw_input_and_bleach_command(tmp_path):
    data = simulate_channel(300, 16, bleach_halflife=200, seed=9)
    raw = tmp_path / "sim.bin"
    data.astype("<u2").tofile(raw)
    out = tmp_path / "r"
    assert main(["pcf", str(raw), "--frame-size", "16x16", "-o", str(out), "--radius", "2",
                 "--points", "4", "--bins", "8", "--no-figures"]) == 0
    np.testing.assert_array_equal(np.load(out / "pcf.npy"), ipcf(data, 2, 4, 8))
    corrected = tmp_path / "c.tif"
    assert main(["bleach", str(raw), "--frame-size", "16x16", "--filter", "50",
                 "-o", str(corrected)]) == 0
    assert tifffile.imread(corrected).shape == (200, 16, 16)


def test_demo_runs_and_reports_the_channel(tmp_path):
    proc = _run_cli("demo", "-o", str(tmp_path / "demo"), "--frames", "4096")
    assert proc.returncode == 0, proc.stderr
    assert "the channel is visible" in proc.stdout
    summary = json.loads((tmp_path / "demo" / "channel_summary.json").read_text())
    assert summary["channel_along"] > 3 * abs(summary["channel_across"])
