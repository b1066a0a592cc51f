"""Region selection like the tutorial (find_regions) and the ``pcfij regions`` command."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from pcfij.cli import main
from pcfij.errors import InputError
from pcfij.regions import expand_bbox, find_regions


def _cells(h=256, w=200):
    yy, xx = np.mgrid[:h, :w]
    img = np.full((h, w), 20.0)
    img[((yy - 100) / 60.0) ** 2 + ((xx - 90) / 40.0) ** 2 < 1] = 300  # big cell
    img[((yy - 210) / 15.0) ** 2 + ((xx - 160) / 15.0) ** 2 < 1] = 300  # small cell
    img[:40, 185:] = 300  # touches the border
    return img


def test_expand_bbox_to_multiples():
    assert expand_bbox((10, 20, 50, 90), (512, 1024), 64) == (0, 0, 64, 128)
    assert expand_bbox((100, 300, 140, 370), (512, 1024), 64) == (88, 271, 152, 399)
    y0, x0, y1, x1 = expand_bbox((100, 100, 200, 170), (512, 1024), 64)
    assert (y1 - y0, x1 - x0) == (128, 128) and y0 <= 100 and y1 >= 200
    # clipped at the image edge but keeping the size; never the notebook's shape-1 cap
    assert expand_bbox((480, 0, 512, 10), (512, 1024), 64) == (448, 0, 512, 64)
    assert expand_bbox((0, 0, 30, 30), (40, 40), 64) == (0, 0, 40, 40)
    assert expand_bbox((0, 0, 64, 128), (512, 1024), 64) == (0, 0, 64, 128)


def test_find_regions_selects_the_cell():
    rng = np.random.default_rng(0)
    img = rng.poisson(_cells()).astype(np.uint16)
    res = find_regions(img)
    assert len(res.regions) == 1  # small cell below minarea, border region cleared
    r = res.regions[0]
    y0, x0, y1, x1 = r.bbox
    assert (y1 - y0) % 64 == 0 and (x1 - x0) % 64 == 0
    ry0, rx0, ry1, rx1 = r.raw_bbox
    assert y0 <= ry0 < ry1 <= y1 and x0 <= rx0 < rx1 <= x1
    assert abs(ry0 - 40) <= 6 and abs(ry1 - 160) <= 6 and abs(rx0 - 50) <= 6
    assert r.roi == f"{y0}:{y1},{x0}:{x1}"
    # the notebook's behaviour: border regions kept; smaller minarea finds the small cell
    more = find_regions(img, clear_border=False, minarea=300)
    assert len(more.regions) == 3
    assert [m.area for m in more.regions] == sorted((m.area for m in more.regions), reverse=True)
    assert find_regions(img, pow2size=0).regions[0].bbox == r.raw_bbox
    with pytest.raises(InputError, match="2D"):
        find_regions(np.zeros((2, 3, 4)))


def test_regions_cli_prints_rois_and_draws_png(tmp_path, capsys):
    rng = np.random.default_rng(1)
    stack = rng.poisson(_cells()[None].repeat(5, 0)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "s.tif", stack)
    png = tmp_path / "regions.png"
    assert main(["regions", str(tmp_path / "s.tif"), "-o", str(png), "--frames", "0:5"]) == 0
    out = capsys.readouterr().out
    roi = find_regions(stack.mean(0)).regions[0].roi
    assert f"--roi {roi}" in out
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main(["regions", str(tmp_path / "s.tif"), "-o", str(png)]) == 1
    assert "exists" in capsys.readouterr().err
