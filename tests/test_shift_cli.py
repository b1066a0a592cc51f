"""`pcfij shift` and `pcfij drift`: outputs checked against simulated ground truth."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import tifffile

from pcfij.cli import main
from pcfij.commands import all_commands
from pcfij.simulate import shifts as sim


@pytest.fixture
def pair(tmp_path):
    ref = sim.speckle((96, 100), sigma=2.0, seed=21)
    mov = sim.shift_image(ref, 1.3, -0.8)
    a, b = tmp_path / "ref.tif", tmp_path / "mov.tif"
    tifffile.imwrite(a, ref.astype(np.float32))
    tifffile.imwrite(b, mov.astype(np.float32))
    return a, b


def test_commands_declared():
    cmds = all_commands()
    assert cmds["shift"].title == "Find Shift"
    assert cmds["drift"].title == "Correct Drift"
    assert cmds["shift"].param("ref").kind == "image"
    assert cmds["drift"].param("stack").kind == "image"
    opts = cmds["shift"].parse_macro_options("window=9 margin=5 local method=poly_fit")
    v = cmds["shift"].validate(dict(opts, ref="a", moving="b"))
    assert v["win_size"] == 9 and v["local"] and v["method"] == "poly_fit"


def test_shift_prints_global_xy(pair, capsys, tmp_path):
    a, b = pair
    assert main(["shift", str(a), str(b)]) == 0
    x, y = (float(t) for t in capsys.readouterr().out.split())
    assert abs(x + 1.3) < 0.05 and abs(y - 0.8) < 0.05
    out = tmp_path / "xy.csv"
    assert main(["shift", str(a), str(b), "-o", str(out), "--method", "poly_fit"]) == 0
    rows = list(csv.reader(open(out)))
    assert rows[0] == ["x", "y"] and abs(float(rows[1][0]) + 1.3) < 0.05


def test_shift_local_writes_maps_and_plot(pair, tmp_path, capsys):
    a, b = pair
    out, png = tmp_path / "maps.tif", tmp_path / "maps.png"
    rc = main(["shift", str(a), str(b), "--local", "--win-size", "11", "--margin", "4",
               "-o", str(out), "--plot", str(png)])
    assert rc == 0
    maps = tifffile.imread(out)
    assert maps.shape == (2, 96, 100) and maps.dtype == np.float32
    e = 11 // 2 + 4
    assert np.all(maps[:, :e] == 0)
    assert abs(np.median(maps[0, e:-e, e:-e]) + 1.3) < 0.05
    assert abs(np.median(maps[1, e:-e, e:-e]) - 0.8) < 0.05
    assert png.stat().st_size > 1000
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]
    # existing output is not replaced without --overwrite
    before = out.read_bytes()
    assert main(["shift", str(a), str(b), "--local", "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("pcfij shift: error:") and "exists" in err and "\n" not in err
    assert out.read_bytes() == before


def test_shift_errors_are_one_line(pair, tmp_path, capsys):
    a, b = pair
    assert main(["shift", str(a), str(tmp_path / "missing.tif")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["shift", str(a), str(b), "--local"]) == 1
    assert "-o" in capsys.readouterr().err
    small = tmp_path / "small.tif"
    tifffile.imwrite(small, np.zeros((20, 20), np.float32))
    assert main(["shift", str(a), str(small)]) == 1
    assert "shape" in capsys.readouterr().err


def test_drift_corrects_stack_and_writes_table(tmp_path, capsys):
    drift = sim.random_walk(24, step=0.35, seed=5)
    stack = sim.drift_stack(sim.speckle((80, 84), sigma=2.0, seed=6), drift)
    src = tmp_path / "stack.tif"
    tifffile.imwrite(src, stack.astype(np.float32), imagej=True, metadata={"axes": "TYX"})
    out, table = tmp_path / "corrected.tif", tmp_path / "drift.csv"
    assert main(["drift", str(src), "-o", str(out), "--table", str(table)]) == 0
    assert "24 frames" in capsys.readouterr().out
    rows = list(csv.DictReader(open(table)))
    got = np.array([[float(r["dx"]), float(r["dy"])] for r in rows])
    assert [int(r["frame"]) for r in rows] == list(range(24))
    rms = np.sqrt(np.mean(np.sum((got - (drift - drift[0])) ** 2, axis=1)))
    assert rms <= 0.1
    corrected = tifffile.imread(out)
    assert corrected.shape == stack.shape
    inner = np.s_[:, 6:-6, 6:-6]
    # every corrected frame now matches the first one
    assert np.abs(corrected[inner] - corrected[0][None, 6:-6, 6:-6]).max() < 0.05
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_drift_rejects_single_image(pair, tmp_path, capsys):
    a, _ = pair
    assert main(["drift", str(a), "-o", str(tmp_path / "c.tif")]) == 1
    assert "single image" in capsys.readouterr().err
    assert not (tmp_path / "c.tif").exists()


def test_device_gpu_without_a_gpu_is_one_error_line(pair, tmp_path, capsys, monkeypatch):
    """--device gpu follows the rule of pcf and ccc (refused without a GPU, nothing written);
    --device auto runs on the CPU without a warning."""
    from pcfij.kernels import backend

    a, b = pair
    monkeypatch.setenv("PCFIJ_NO_GPU", "1")
    backend.cupy_or_none.cache_clear()
    try:
        out = tmp_path / "maps.tif"
        capsys.readouterr()
        assert main(["shift", str(a), str(b), "--local", "--device", "gpu", "-o", str(out)]) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "device='gpu'" in err
        assert not out.exists()
        stack = tmp_path / "stack.tif"
        tifffile.imwrite(stack, np.stack([tifffile.imread(a)] * 3).astype(np.float32),
                         imagej=True, metadata={"axes": "TYX"})
        assert main(["drift", str(stack), "-o", str(tmp_path / "c.tif"), "--device", "gpu"]) == 1
        assert "device='gpu'" in capsys.readouterr().err
        assert main(["shift", str(a), str(b), "--device", "auto"]) == 0
        assert capsys.readouterr().err == ""
    finally:
        backend.cupy_or_none.cache_clear()
