"""Shift finding refuses what it cannot answer and says when a shift hit the search margin
(issue #13 items 1-3), in Python and through ``pcfij shift`` / ``pcfij drift`` started as a
user starts them (a fresh ``python -m pcfij`` process).

Known answers come from simulated speckle images shifted by known amounts
(:mod:`pcfij.simulate.shifts`); the largest margin that fits is worked out by hand from the
rule "same-size images keep at least 4 pixels after cropping margin from each side".
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile

import pcfij.shift as S
from pcfij.errors import InputError, ShiftAtMarginWarning
from pcfij.simulate import shifts as sim

REPO = Path(__file__).resolve().parents[1]


def pcfij(*args, cwd) -> subprocess.CompletedProcess:
    """``python -m pcfij ARGS`` in a fresh process, with this checkout's pcfij."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("PCFIJ_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "pcfij", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def one_error_line(proc, command: str) -> str:
    """The single stderr line of a refused command (exit 1, no traceback, nothing on stdout)."""
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"pcfij {command}: error: ")
    assert proc.stdout == ""
    return lines[0]


@pytest.fixture(scope="module")
def img64():
    return sim.speckle((64, 64), sigma=2.0, seed=3)


# ------------------------------------------------------------------ 1: margin too large
def test_margin_too_large_is_refused_naming_the_largest_that_fits(img64):
    mov = sim.shift_image(img64, 2.0, 0.0)
    # 64 - 2 * 30 = 4 pixels left: fits; 31 leaves 2: refused (not "0 0" as before)
    S.find_shift_based_correlation_map(img64, mov, margin=30)
    for margin in (31, 32, 40):
        with pytest.raises(InputError, match=r"margin \d+ is too large .* 64 x 64 .*the "
                                             r"largest margin that fits is 30"):
            S.find_shift_based_correlation_map(img64, mov, margin=margin)
    # only the searched axis counts: axis=1 slides along x (width 40: largest (40-4)//2 = 18)
    wide = sim.speckle((20, 40), seed=4)
    S.find_shift_based_correlation_map(wide, wide, margin=18, axis=1)
    with pytest.raises(InputError, match="largest margin that fits is 18"):
        S.find_shift_based_correlation_map(wide, wide, margin=19, axis=1)
    with pytest.raises(InputError, match="largest margin that fits is 8"):  # height 20
        S.find_shift_based_correlation_map(wide, wide, margin=9)


def test_drift_margin_too_large_names_the_largest(img64):
    stack = np.stack([img64, sim.shift_image(img64, 1, 1)])
    with pytest.raises(InputError, match="largest margin that fits is 30"):
        S.register_stack(stack, margin=31)


def test_cli_shift_margin_too_large(img64, tmp_path):
    tifffile.imwrite(tmp_path / "a.tif", img64.astype(np.float32))
    tifffile.imwrite(tmp_path / "b.tif", sim.shift_image(img64, 2.0, 0.0).astype(np.float32))
    proc = pcfij("shift", "a.tif", "b.tif", "--margin", "31", "-o", "xy.csv", cwd=tmp_path)
    assert "largest margin that fits is 30" in one_error_line(proc, "shift")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "b.tif"]


# ------------------------------------------------------------------ 2: NaN / inf
def _spoiled(img, how):
    out = img.astype(np.float32).copy()
    if how == "all-nan":
        out[:] = np.nan
    elif how == "some-nan":
        out[10:12, 20:25] = np.nan
    else:
        out[40, 7] = np.inf
    return out


@pytest.mark.parametrize("how", ["all-nan", "some-nan", "inf"])
@pytest.mark.parametrize("which", ["ref", "mat"])
def test_nan_or_inf_images_are_refused_by_every_function(img64, how, which):
    good = img64.astype(np.float32)
    bad = _spoiled(img64, how)
    a, b = (bad, good) if which == "ref" else (good, bad)
    name = "ref_mat" if which == "ref" else "mat"
    msg = rf"{name} (is entirely NaN|contains \d+ NaN).*needs finite pixel values"
    calls = [
        lambda: S.find_shift_based_correlation_map(a, b, margin=5),
        lambda: S.generate_correlation_map(a, b[5:-5, 5:-5]),
        lambda: S.find_local_shifts(a, b, win_size=7, margin=3),
        lambda: S.find_local_shifts(np.stack([a] * 3), np.stack([b] * 3), dim=1,
                                    win_size=7, margin=3),
        lambda: S.find_local_shifts(np.stack([a] * 3), np.stack([b] * 3), dim=2,
                                    win_size=7, margin=3),
        lambda: S.find_global_shift_based_local_shifts(a, b, 15, 5, seed=0),
        lambda: S.find_local_shifts_umpa(np.stack([a] * 3), np.stack([b] * 3), win_size=7,
                                         margin=3, gpu=False),
    ]
    for call in calls:
        with pytest.raises(InputError, match=msg):
            call()
    with pytest.raises(InputError, match="needs finite pixel values"):
        S.normalize_image(bad)
    with pytest.raises(InputError, match="needs finite pixel values"):
        S.locate_peak(bad)


def test_drift_refuses_nan_frames_naming_the_first(img64):
    stack = np.stack([img64.astype(np.float32)] * 6)
    stack[3, 5, 5] = np.nan
    stack[4] = np.nan
    with pytest.raises(InputError, match=r"NaN or infinite values in 2 frames \(first: "
                                         r"frame 3"):
        S.register_stack(stack, margin=5)
    with pytest.raises(InputError, match="NaN or infinite values in every frame"):
        S.register_stack(np.full((4, 32, 32), np.nan, np.float32), margin=5)
    with pytest.raises(InputError, match="NaN or infinite values"):
        S.register_stack(np.full((4, 32, 32), np.nan, np.float32), method="phase")


def test_constant_images_and_blank_frames_have_no_shift(img64):
    flat = np.full_like(img64, 7.0)
    with pytest.raises(InputError, match="constant"):
        S.find_shift_based_correlation_map(img64, flat, margin=5)
    with pytest.raises(InputError, match="constant"):
        S.find_shift_based_correlation_map(flat, img64, margin=5)
    stack = np.stack([img64, img64, flat, img64])
    with pytest.raises(InputError, match=r"frame 2 of the stack is constant"):
        S.register_stack(stack, margin=5)
    with pytest.raises(InputError, match=r"reference is constant"):
        S.register_stack(stack, reference=2, margin=5)


@pytest.mark.parametrize("command", ["shift", "drift"])
def test_cli_refuses_all_nan_images(img64, tmp_path, command):
    nan = np.full((8, 64, 64), np.nan, np.float32)
    tifffile.imwrite(tmp_path / "ref.tif", img64.astype(np.float32))
    tifffile.imwrite(tmp_path / "nan.tif", nan[0])
    tifffile.imwrite(tmp_path / "nanstack.tif", nan)
    before = sorted(p.name for p in tmp_path.iterdir())
    if command == "shift":
        proc = pcfij("shift", "ref.tif", "nan.tif", "-o", "xy.csv", cwd=tmp_path)
    else:
        proc = pcfij("drift", "nanstack.tif", "-o", "c.tif", "--table", "d.csv", cwd=tmp_path)
    line = one_error_line(proc, command)
    assert "NaN or infinite" in line and "finite pixel values" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# ------------------------------------------------------------------ 3: shift at the margin
def test_shift_beyond_margin_warns_and_keeps_algotoms_return(img64):
    inside = sim.shift_image(img64, 4.0, -3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a shift well inside the range: no warning at all
        x, y = S.find_shift_based_correlation_map(img64, inside, margin=10)
    assert abs(x + 4.0) < 0.1 and abs(y - 3.0) < 0.1
    beyond = sim.shift_image(img64, 10.5, 0.0)  # 10.5 px with margin 10: the search stops
    with pytest.warns(ShiftAtMarginWarning, match=r"edge of the search window \(x = -10 px"):
        res = S.find_shift_based_correlation_map(img64, beyond, margin=10)
    assert isinstance(res, tuple) and len(res) == 2 and all(type(v) is float for v in res)
    assert res[0] == -10.0 and abs(res[1]) < 0.1
    assert issubclass(ShiftAtMarginWarning, RuntimeWarning)
    with pytest.warns(ShiftAtMarginWarning, match="y = \\+10 px"):
        S.find_shift_based_correlation_map(img64, sim.shift_image(img64, 0, -12), margin=10)


def _drifting(img, dxs):
    return np.stack([sim.shift_image(img, dx, 0.4 * k) for k, dx in enumerate(dxs)])


def test_drift_marks_frames_at_the_margin(img64):
    dxs = [0.0, 3.0, 6.5, 10.5, 13.0, 2.0]
    stack = _drifting(img64, dxs)
    with pytest.warns(ShiftAtMarginWarning, match=r"2 of 6 frames .*frames 3, 4 "):
        res = S.register_stack(stack, margin=8)
    truth = np.array([abs(d) >= 8.5 for d in dxs])  # integer peak rounded onto the edge
    np.testing.assert_array_equal(res.at_margin, truth)
    assert [r["at_margin"] for r in res.table()] == truth.tolist()
    ok = ~truth
    np.testing.assert_allclose(res.drift[ok, 0], np.array(dxs)[ok], atol=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wide = S.register_stack(stack, margin=16)
    assert not wide.at_margin.any()
    np.testing.assert_allclose(wide.drift[:, 0], dxs, atol=0.1)
    # blocks: a group whose drift is at the margin marks all of its frames
    pairs = np.stack([sim.shift_image(img64, dx, 0.0) for dx in (0, 0, 11, 11, 2, 2)])
    with pytest.warns(ShiftAtMarginWarning, match="frames 2, 3 "):
        res2 = S.register_stack(pairs, margin=8, block=2)
    np.testing.assert_array_equal(res2.at_margin, [False, False, True, True, False, False])


def test_global_from_local_shifts_warns_once(img64):
    beyond = sim.shift_image(img64, 7.0, 0.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x, _ = S.find_global_shift_based_local_shifts(img64, beyond, 11, 5, num_point=12,
                                                      seed=1)
    ours = [w for w in caught if issubclass(w.category, ShiftAtMarginWarning)]
    assert len(ours) == 1 and "of 12 points" in str(ours[0].message)
    assert x == -5.0


def test_cli_drift_warns_on_stderr_and_marks_the_table(img64, tmp_path):
    dxs = [0.0, 3.0, 6.5, 10.5, 13.0, 2.0]
    tifffile.imwrite(tmp_path / "s.tif", _drifting(img64, dxs).astype(np.float32))
    proc = pcfij("drift", "s.tif", "-o", "c.tif", "--table", "d.csv", "--margin", "8",
                 cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pcfij drift: warning: 2 of 6 frames ")
    assert "frames at the search margin" in proc.stdout
    rows = list(csv.DictReader(open(tmp_path / "d.csv")))
    assert [r["at_margin"] for r in rows] == ["0", "0", "0", "1", "1", "0"]
    proc = pcfij("shift", "s.tif", "s.tif", cwd=tmp_path)  # same stack: no warning
    assert proc.returncode == 0 and proc.stderr == ""


# ------------------------------------------------------------------ 6: InputError, not bugs
@pytest.mark.parametrize("kwargs, phrase", [
    (dict(size="x"), "size must be a whole number"),
    (dict(size=0), "size must be at least 1"),
    (dict(ncore="two"), "ncore must be a whole number"),
    (dict(ncore=0), "ncore must be at least 1"),
])
def test_bad_numbers_are_input_errors(img64, kwargs, phrase):
    """Bad values of numeric arguments are InputErrors (were bare ValueErrors from int())."""
    with pytest.raises(InputError, match=phrase):
        S.find_local_shifts(img64, img64, win_size=7, margin=3, **kwargs)
    if "size" in kwargs:
        with pytest.raises(InputError, match=phrase):
            S.locate_peak(img64, **kwargs)


def test_warnings_stay_catchable_around_main_in_python(img64, tmp_path, capsys):
    """The CLI's one-line warning format does not hide warnings from Python callers of
    pcfij.cli.main (catch_warnings / pytest.warns still see them)."""
    from pcfij.cli import main

    tifffile.imwrite(tmp_path / "a.tif", img64.astype(np.float32))
    tifffile.imwrite(tmp_path / "b.tif", sim.shift_image(img64, 12, 0).astype(np.float32))
    with pytest.warns(ShiftAtMarginWarning):
        assert main(["shift", str(tmp_path / "a.tif"), str(tmp_path / "b.tif")]) == 0
    assert capsys.readouterr().out.split()[0] == "-10.000000"
