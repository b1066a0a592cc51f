"""``pcfij install-plugins``, the example macros/ and the macros of README.md and
docs/imagej.md, end to end in a real ImageJ 1.x:
``xvfb-run -a java -Dplugins.dir=DIR -jar ij.jar -batch MACRO ARG`` (subprocesses with
timeouts), outputs checked against the engines."""

from __future__ import annotations

import csv
import re
import zipfile

import numpy as np
import pytest

from pcfij.io.tiff import Calibration, read_image, write_imagej_tiff
from tests.imagej_fixtures import REPO, install_host, missing_requirements, run_ij_batch

pytestmark = pytest.mark.imagej


@pytest.fixture(scope="module")
def fiji(tmp_path_factory):
    """A fresh Fiji.app folder after `pcfij install-plugins` (run as a user runs it)."""
    why = missing_requirements(display=True)
    if why:
        pytest.skip(why)
    root = tmp_path_factory.mktemp("Fiji.app")
    (root / "plugins" / "pcfij").mkdir(parents=True)
    old = root / "plugins" / "pcfij" / "pCF_Analysis.ijm"  # a drop-in of older versions
    old.write_text("// pCF Analysis -- pcfij drop-in command (Plugins > pcfij).\n")
    return install_host(root)


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_install_plugins(fiji):
    import sys

    from pcfij.commands import imagej_commands

    folder = fiji / "plugins" / "pcfij"
    assert (folder / "pcfij-python.txt").read_text().strip() == sys.executable
    assert not (folder / "pCF_Analysis.ijm").exists()  # would shadow the command
    with zipfile.ZipFile(folder / "pcfij_.jar") as zf:
        config = zf.read("plugins.config").decode()
        assert "pcfij/Host.class" in zf.namelist()
    titles = re.findall(r'^Plugins>pcfij, "([^"]+)", pcfij\.Host\("([^"]+)"\)$', config, re.M)
    assert {t for t, _ in titles} == set(imagej_commands())
    assert all(t == arg for t, arg in titles)


def test_install_plugins_errors(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "pcfij", "install-plugins",
                           str(tmp_path / "missing")], capture_output=True, text=True)
    assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1
    assert "is not a folder" in proc.stderr and "Traceback" not in proc.stderr


def test_pcf_plugin_batch(fiji, tmp_path):
    from pcfij.pcf import ipcf

    rng = np.random.default_rng(2)
    data = rng.poisson(25, (40, 12, 14)).astype(np.uint16)
    write_imagej_tiff(tmp_path / "cells.tif", data, "TYX",
                      Calibration(0.2, 0.2, 1.0, "micron", 0.01))
    macro = tmp_path / "m.ijm"
    macro.write_text(
        'open(getArgument() + "/cells.tif");\n'
        'run("pCF Analysis", "radius=2 points=4 bins=5 smooth device=cpu");\n'
        'print("RESULT " + getTitle() + " " + nResults + " " + nSlices);\n'
        'saveAs("Tiff", getArgument() + "/pcf.tif");\n'
        'run("Close All");\n'
        'run("pCF Analysis", "radius=2");\n'  # no image open: an error, no hang
        'print("AFTER");\n')
    proc = run_ij_batch(macro, str(tmp_path), fiji)
    assert "RESULT cells pCF 5 20" in proc.stdout, proc.stdout + proc.stderr
    out = read_image(tmp_path / "pcf.tif")
    ref = ipcf(data, 2, 4, 5, smooth=True, device="cpu")
    np.testing.assert_allclose(out.data, ref.transpose(3, 2, 0, 1), rtol=1e-6, equal_nan=True)
    assert out.calibration.pixel_width == pytest.approx(0.2)
    assert "pCF Analysis: error: no image is open" in proc.stderr
    assert "AFTER" not in proc.stdout and proc.returncode == 1


def test_batch_ccc_macro(fiji, tmp_path):
    from pcfij.ccc import ccc

    rng = np.random.default_rng(4)
    pairs = {}
    for name in ("cellA", "cellB"):
        a = np.zeros((40, 40), np.float32)
        for y, x in rng.integers(6, 30, (25, 2)):
            a[y - 1 : y + 2, x - 1 : x + 2] += 10
        b = np.roll(a, 2, axis=1) + rng.random((40, 40), np.float32)
        a = a + rng.random((40, 40), np.float32)
        write_imagej_tiff(tmp_path / f"{name}_ch1.tif", a, "YX")
        write_imagej_tiff(tmp_path / f"{name}_ch2.tif", b, "YX")
        pairs[name] = (a, b)
    mask = np.zeros((40, 40), np.uint8)
    mask[3:37, 3:37] = 255
    write_imagej_tiff(tmp_path / "cellB_mask.tif", mask, "YX")
    out_csv = tmp_path / "ccc.csv"
    proc = run_ij_batch(REPO / "macros" / "batch_ccc_folder.ijm", f"{tmp_path}|{out_csv}",
                        fiji)
    assert out_csv.exists(), proc.stdout + proc.stderr
    rows = _rows(out_csv)
    assert [r["Pair"] for r in rows] == ["cellA", "cellB"]
    assert {"Mean (pixel)", "StDev (pixel)", "Confidence", "R-squared"} <= set(rows[0])
    ra = ccc(*pairs["cellA"], None, device="cpu")
    rb = ccc(*pairs["cellB"], mask, device="cpu")
    assert float(rows[0]["Mean (pixel)"]) == pytest.approx(ra.mean, rel=1e-5, abs=1e-9)
    assert float(rows[1]["Mean (pixel)"]) == pytest.approx(rb.mean, rel=1e-5, abs=1e-9)
    assert float(rows[1]["StDev (pixel)"]) == pytest.approx(rb.sigma, rel=1e-5)
    assert float(rows[1]["Confidence"]) == pytest.approx(rb.confidence, rel=1e-5)


def test_pcf_bleach_macro(fiji, tmp_path):
    from pcfij.pcf import correct_bleaching, ipcf

    rng = np.random.default_rng(5)
    decay = np.exp(-np.arange(80) / 60.0)[:, None, None]
    data = rng.poisson(40 * decay * np.ones((80, 10, 12))).astype(np.uint16)
    write_imagej_tiff(tmp_path / "series.tif", data, "TYX")
    out = tmp_path / "out"
    proc = run_ij_batch(REPO / "macros" / "pcf_bleach.ijm",
                        f"{tmp_path / 'series.tif'}|{out}|8|2|4|6", fiji)
    assert (out / "pcf.tif").exists(), proc.stdout + proc.stderr
    corrected = correct_bleaching(data, 8, output="float32")
    np.testing.assert_allclose(read_image(out / "corrected.tif").data, corrected, rtol=1e-6)
    ref = ipcf(corrected, 2, 4, 6, smooth=True)
    np.testing.assert_allclose(read_image(out / "pcf.tif").data, ref.transpose(3, 2, 0, 1),
                               rtol=1e-5, equal_nan=True)
    rows = _rows(out / "pcf_bins.csv")
    assert len(rows) == ref.shape[3] and "Delay (frames)" in rows[0]


def test_drift_then_ccc_macro(fiji, tmp_path):
    from scipy import ndimage as ndi

    rng = np.random.default_rng(6)
    base = ndi.gaussian_filter(rng.random((40, 44)), 1.5).astype(np.float32) * 100
    ch1 = np.stack([ndi.shift(base, (0.6 * k, -0.4 * k), order=3) for k in range(4)])
    ch2 = np.stack([ndi.shift(np.roll(base, 2, axis=1), (0.6 * k, -0.4 * k), order=3)
                    for k in range(4)])
    write_imagej_tiff(tmp_path / "ch1.tif", ch1.astype(np.float32), "TYX")
    write_imagej_tiff(tmp_path / "ch2.tif", ch2.astype(np.float32), "TYX")
    out = tmp_path / "out"
    proc = run_ij_batch(REPO / "macros" / "drift_then_ccc.ijm",
                        f"{tmp_path / 'ch1.tif'}|{tmp_path / 'ch2.tif'}|{out}", fiji)
    assert (out / "ccc_frames.csv").exists(), proc.stdout + proc.stderr
    drift = _rows(out / "drift_ch1.csv")
    assert len(drift) == 4
    assert float(drift[3]["dy"]) == pytest.approx(1.8, abs=0.2)
    assert float(drift[3]["dx"]) == pytest.approx(-1.2, abs=0.2)
    frames = _rows(out / "ccc_frames.csv")
    assert len(frames) == 4 and any(k.startswith("Mean") for k in frames[0])


def _macro_blocks(path, section: str | None = None) -> list[str]:
    text = (REPO / path).read_text(encoding="utf-8")
    if section:
        a = text.index(section)
        text = text[a : text.find("\n## ", a + len(section))]
    blocks = re.findall(r"```javascript\n(.*?)```", text, re.S)
    return [textwrap_dedent(b) for b in blocks if "getArgument()" in b]


def textwrap_dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text)


def _doc_data(folder):
    """The images the documentation's macros open."""
    rng = np.random.default_rng(8)
    series = rng.poisson(30, (200, 14, 14)).astype(np.uint16)
    write_imagej_tiff(folder / "cells.tif", series, "TYX", Calibration(0.1, 0.1, 1, "micron", 0.05))
    a = np.zeros((40, 40), np.float32)
    for y, x in rng.integers(6, 30, (25, 2)):
        a[y - 1 : y + 2, x - 1 : x + 2] += 10
    b = np.roll(a, 1, axis=0) + rng.random((40, 40), np.float32)
    a = a + rng.random((40, 40), np.float32)
    mask = np.zeros((40, 40), np.uint8)
    mask[4:36, 4:36] = 1
    for name, arr in (("C1-cell.tif", a), ("C2-cell.tif", b), ("mask.tif", mask)):
        write_imagej_tiff(folder / name, arr, "YX")
    return series, a, b, mask


@pytest.mark.parametrize("doc, section", [("README.md", "## ImageJ / Fiji"),
                                          ("docs/imagej.md", None)])
def test_documented_macros_run_as_written(fiji, tmp_path, doc, section):
    from pcfij.ccc import ccc
    from pcfij.pcf import ipcf

    blocks = _macro_blocks(doc, section)
    assert blocks, f"no runnable macro in {doc}"
    series, a, b, mask = _doc_data(tmp_path)
    for k, block in enumerate(blocks):
        macro = tmp_path / f"doc{k}.ijm"
        macro.write_text(block)
        proc = run_ij_batch(macro, str(tmp_path) + "/", fiji, timeout=240)
        assert proc.returncode == 0, block + proc.stdout + proc.stderr
        m = re.search(r"mean distance: (\S+)", proc.stdout)
        if m:
            assert float(m.group(1)) == pytest.approx(ccc(a, b, mask, device="cpu").mean,
                                                      rel=1e-4, abs=1e-6)
    rows = _rows(tmp_path / "cells_pcf_bins.csv")
    ref = ipcf(series, 4, 16, 24, bleach_filter=64, smooth=True, device="cpu")
    assert len(rows) == ref.shape[3]
    mean = np.nanmean(ref.reshape(-1, ref.shape[3]), axis=0)
    np.testing.assert_allclose([float(r["Mean pCF"]) for r in rows], mean, rtol=2e-3,
                               atol=1e-3 * np.nanmax(np.abs(mean)))  # Table.save rounds
