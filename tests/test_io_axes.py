"""The one frame-size parser and the one axis-dropping rule (pcfij/io/axes.py, issue #14),
against hand-written expectations, and the frame-size message as a CLI user sees it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from pcfij.errors import InputError
from pcfij.io.axes import drop_single_axes, parse_frame_size


@pytest.mark.parametrize("text, want", [("64x48", (64, 48)), ("64,48", (64, 48)),
                                        (" 64 X 48 ", (64, 48)), ((3, 5), (3, 5)),
                                        (None, None), ("", None)])
def test_frame_size_parsed(text, want):
    assert parse_frame_size(text) == want


@pytest.mark.parametrize("text", ["64", "64x", "axb", "0x5", "64x64x64", (1, 2, 3)])
def test_bad_frame_size_names_the_parameter(text):
    with pytest.raises(InputError, match="`frame_size`"):
        parse_frame_size(text)


def test_three_numbers_where_allowed():
    assert parse_frame_size("10x64x48", lengths=(2, 3)) == (10, 64, 48)


def test_drop_single_axes_keeps_y_and_x():
    a = np.arange(6).reshape(1, 2, 1, 1, 3)
    out, axes = drop_single_axes(a, "TZCYX")
    assert axes == "ZYX" and out.shape == (2, 1, 3)
    np.testing.assert_array_equal(out.ravel(), a.ravel())
    same, ax = drop_single_axes(a[0, :, 0], "ZYX")
    assert ax == "ZYX" and same.shape == (2, 1, 3)


def test_cli_bad_frame_size_is_one_line(tmp_path):
    raw = tmp_path / "x.bin"
    np.zeros(64 * 16 * 16, np.uint16).tofile(raw)
    proc = subprocess.run([sys.executable, "-m", "pcfij", "pcf", str(raw), "-o",
                           str(tmp_path / "out"), "--frame-size", "16by16"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--frame-size" in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()
