"""The pcfij commands behave like ImageJ commands (issue #10, items 1-8), in Debian's real
ImageJ: ``-batch`` runs (``xvfb-run java -jar ij.jar -batch``) and ImageJ with its GUI under
Xvfb (:func:`tests.imagej_fixtures.run_ij_gui`), after ``pcfij install-plugins``.

Every run also checks that no ``pcfij-*`` temporary file is left (item 7). Numbers are
compared with the engines called directly on the same arrays.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from pcfij.io.tiff import Calibration, read_image, write_imagej_tiff
from tests.imagej_fixtures import (
    install_host,
    missing_requirements,
    run_ij_batch,
    run_ij_gui,
    section,
)

pytestmark = pytest.mark.imagej


@pytest.fixture(scope="module")
def fiji(tmp_path_factory):
    why = missing_requirements(display=True)
    if why:
        pytest.skip(why)
    return install_host(tmp_path_factory.mktemp("Fiji.app"))


def _spots(rng, shape=(40, 40), n=25, shift=2):
    a = np.zeros(shape, np.float32)
    for y, x in rng.integers(6, min(shape) - 10, (n, 2)):
        a[y - 1 : y + 2, x - 1 : x + 2] += 10
    b = np.roll(a, shift, axis=1) + rng.random(shape, np.float32)
    return a + rng.random(shape, np.float32), b


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Image pairs, a mask, a pCF time series, a 2D image and an RGB image."""
    d = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(10)
    out = {"dir": d}
    a, b = _spots(rng)
    write_imagej_tiff(d / "good_1.tif", a, "YX")
    write_imagej_tiff(d / "good_2.tif", b, "YX")
    out["good"] = (a, b)
    write_imagej_tiff(d / "bad_1.tif", a, "YX")
    write_imagej_tiff(d / "bad_2.tif", np.zeros((40, 41), np.float32), "YX")
    mask = np.zeros((40, 40), np.uint8)
    mask[5:35, 4:36] = 255
    write_imagej_tiff(d / "mask.tif", mask, "YX")
    out["mask"] = mask
    series = rng.poisson(30, (48, 20, 24)).astype(np.uint16)
    write_imagej_tiff(d / "cells.tif", series, "TYX", Calibration(0.2, 0.2, 1.0, "micron", 0.01))
    out["cells"] = series
    write_imagej_tiff(d / "plane.tif", series[0], "YX")
    return out


MEAN_OF = (
    'function meanOf() {\n'
    '  n = Table.size("CC Results"); v = NaN;\n'
    '  for (r = 0; r < n; r++) if (startsWith(Table.getString("Label", r, "CC Results"), '
    '"Mean")) v = Table.get("Value", r, "CC Results");\n'
    '  return v;\n'
    '}\n')


def _one_error_line(proc, title: str, *needles: str) -> str:
    text = proc.stdout + proc.stderr
    lines = [ln for ln in text.splitlines() if f"{title}: error:" in ln]
    assert len(lines) == 1, text
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Exception" not in text and "\tat " not in text, text
    return lines[0]


# ----------------------------------------------------------------------------- item 1
def test_batch_failure_stops_the_macro_and_exits_nonzero(fiji, data, tmp_path):
    macro = tmp_path / "loop.ijm"
    macro.write_text(
        'dir = getArgument();\n'
        'names = newArray("good", "bad");\n'
        'for (i = 0; i < names.length; i++) {\n'
        '  open(dir + names[i] + "_1.tif"); a = getTitle();\n'
        '  open(dir + names[i] + "_2.tif"); b = getTitle();\n'
        '  run("Just Cross Correlation", "dataset1=[" + a + "] dataset2=[" + b + "] '
        'maskabsent");\n'
        '  print("ROW " + names[i] + " " + nResults);\n'
        '  close("*");\n'
        '}\n'
        'print("LOOP-DONE");\n')
    proc = run_ij_batch(macro, str(data["dir"]) + "/", fiji, timeout=180)
    assert "ROW good" in proc.stdout, proc.stdout + proc.stderr
    assert "ROW bad" not in proc.stdout and "LOOP-DONE" not in proc.stdout
    assert proc.returncode != 0
    _one_error_line(proc, "Just Cross Correlation", "same size")


# ----------------------------------------------------------------------------- items 1, 4 (GUI)
def test_gui_errors_abort_the_calling_macro_with_one_line(fiji, data, tmp_path):
    d = str(data["dir"]) + "/"
    bodies = {
        "sizes": f'open("{d}good_1.tif"); open("{d}good_2.tif");\n'
                 'run("Just Cross Correlation", "dataset1=good_1.tif dataset2=good_2.tif '
                 'maskabsent");\nprint("ROWS " + nResults);\n'
                 f'open("{d}bad_1.tif"); open("{d}bad_2.tif");\n'
                 'run("Just Cross Correlation", "dataset1=bad_1.tif dataset2=bad_2.tif '
                 'maskabsent");\n',
        "title": 'run("Just Cross Correlation", "dataset1=[nope.tif] dataset2=good_2.tif");\n',
        "key": 'run("Just Cross Correlation", "dataset1=good_1.tif dataset2=good_2.tif '
               'bogus=3");\n',
        "plane": f'open("{d}plane.tif"); run("pCF Analysis", "radius=2 points=4 bins=4");\n',
        "rgb": 'newImage("colour", "RGB black", 30, 30, 1); '
               'run("Find Shift", "ref=colour moving=colour");\n',
    }
    macros = []
    for k, (name, body) in enumerate(bodies.items()):
        m = tmp_path / f"{name}.ijm"
        m.write_text(body + f'print("AFTER-{k}");\n')
        macros.append(m)
    proc = run_ij_gui(macros, fiji, timeout=240)
    out = proc.stdout
    dialogs = [ln for ln in out.splitlines() if ln.startswith("DIALOG ")]
    assert len(dialogs) == len(bodies), out + proc.stderr
    for line, needle in zip(dialogs, ("same size", "no open image is titled 'nope.tif'",
                                      "bogus", "single image", "RGB")):
        assert needle in line, line
        assert "Exception" not in line
    log = section(out, "LOG-BEGIN", "LOG-END")
    assert "ROWS " in log and not re.search(r"AFTER-\d", log), log
    assert "RESULTS-SIZE 0" in out  # no stale Results after the failed command


# ----------------------------------------------------------------------------- item 4 (-batch)
def test_batch_missing_title_is_one_line_not_a_hang(fiji, data, tmp_path):
    macro = tmp_path / "t.ijm"
    macro.write_text(f'open("{data["dir"]}/good_1.tif");\n'
                     'run("Find Shift", "ref=good_1.tif moving=[nope.tif] margin=3");\n'
                     'print("AFTER");\n')
    proc = run_ij_batch(macro, "", fiji, timeout=120)
    assert proc.returncode != 0 and "AFTER" not in proc.stdout
    _one_error_line(proc, "Find Shift", "moving", "nope.tif")


# ----------------------------------------------------------------------------- items 2, 3
def test_ccc_keys_readme_and_fiji_forms_unknown_key_error(fiji, data, tmp_path):
    from pcfij.ccc import ccc

    d = str(data["dir"]) + "/"
    macro = tmp_path / "ccc.ijm"
    macro.write_text(
        f'open("{d}good_1.tif"); open("{d}good_2.tif"); open("{d}mask.tif");\n'
        'run("Colocalization by Cross Correlation", '
        '"image1=[good_1.tif] image2=[good_2.tif] mask=[mask.tif]");\n'
        'print("README " + d2s(meanOf(), 9));\n'
        'run("Colocalization by Cross Correlation", "dataset1=good_1.tif dataset2=good_2.tif '
        'maskdataset=mask.tif generatecontributionimages=true showintermediates=true");\n'
        'print("FIJI " + d2s(meanOf(), 9));\n'
        'list = getList("image.titles");\n'
        'for (i = 0; i < list.length; i++) print("TITLE " + list[i]);\n'
        'run("Colocalization by Cross Correlation", "dataset1=good_1.tif dataset2=good_2.tif '
        'maskdataset=mask.tif generatecontributionimages=false showintermediates=false");\n'
        'print("OFF " + nImages);\n'
        'run("Colocalization by Cross Correlation", "dataset1=good_1.tif dataset2=good_2.tif '
        'mask_image=mask.tif");\n'
        'print("AFTER");\n' + MEAN_OF)
    proc = run_ij_batch(macro, "", fiji, timeout=180)
    a, b = data["good"]
    ref = ccc(a, b, data["mask"], device="cpu")
    m = re.search(r"README (\S+)", proc.stdout)
    assert m, proc.stdout + proc.stderr
    assert float(m.group(1)) == pytest.approx(ref.mean, rel=1e-6, abs=1e-9)
    assert float(re.search(r"FIJI (\S+)", proc.stdout).group(1)) == \
        pytest.approx(ref.mean, rel=1e-6, abs=1e-9)
    titles = re.findall(r"TITLE (.+)", proc.stdout)
    assert sum(t.startswith("Contribution of") for t in titles) == 2, titles
    # the =false forms switch the extra images off: no new images
    n_before = len(titles)
    assert int(re.search(r"OFF (\d+)", proc.stdout).group(1)) <= n_before + 1
    assert proc.returncode != 0 and "AFTER" not in proc.stdout
    _one_error_line(proc, "Colocalization by Cross Correlation", "mask_image")


# ----------------------------------------------------------------------------- item 5
def test_recorded_command_replays(fiji, data, tmp_path):
    from pcfij.pcf import ipcf

    opener = tmp_path / "open.ijm"
    opener.write_text(f'open("{data["dir"]}/cells.tif");\n')
    first = tmp_path / "first.csv"
    proc = run_ij_gui([opener], fiji, record=True, click="pCF Analysis",
                      fill="n0=2;n1=4;n2=5;c1=cpu", save=first, timeout=240)
    recorded = section(proc.stdout, "RECORDED-BEGIN", "RECORDED-END")
    lines = [ln for ln in recorded.splitlines() if ln.strip()]
    assert lines[0] == ('run("pCF Analysis", "radius=2 points=4 bins=5 bleach_filter=0 smooth '
                        'mask=*None* device=cpu");'), recorded
    assert all(ln.startswith(("run(", "selectWindow(")) for ln in lines), recorded
    assert "Table.rename" not in recorded
    replay = tmp_path / "replay.ijm"
    replay.write_text(f'open("{data["dir"]}/cells.tif");\n' + "\n".join(lines) + "\n"
                      f'Table.save("{tmp_path}/replay.csv", "Results");\n'
                      f'saveAs("Tiff", "{tmp_path}/replay.tif");\n')
    proc2 = run_ij_batch(replay, "", fiji, timeout=180)
    assert proc2.returncode == 0, proc2.stdout + proc2.stderr
    assert (tmp_path / "replay.csv").read_text() == first.read_text()
    ref = ipcf(data["cells"], 2, 4, 5, smooth=True, device="cpu")
    np.testing.assert_allclose(read_image(tmp_path / "replay.tif").data,
                               ref.transpose(3, 2, 0, 1), rtol=1e-6, equal_nan=True)


# ----------------------------------------------------------------------------- item 6
def test_escape_cancels_within_a_second_and_imagej_stays_usable(fiji, data, tmp_path):
    rng = np.random.default_rng(3)
    big = tmp_path / "big.tif"
    write_imagej_tiff(big, rng.poisson(20, (8192, 96, 96)).astype(np.uint16), "TYX")
    slow = tmp_path / "slow.ijm"  # seconds of pCF (about 2.5 s on a quiet 2-core machine)
    slow.write_text(f'open("{big}");\n'
                    'run("pCF Analysis", "radius=4 points=64 bins=32 smooth device=cpu");\n'
                    'print("NOT-CANCELED");\n')
    after = tmp_path / "after.ijm"
    after.write_text(f'open("{data["dir"]}/cells.tif");\n'
                     'run("pCF Analysis", "radius=2 points=4 bins=5 smooth device=cpu");\n'
                     'print("RESULT " + getTitle() + " " + nResults);\n')
    medium = tmp_path / "medium.ijm"  # runs to the end: progress shows in ImageJ's bar
    medium.write_text(f'open("{big}");\n'
                      'run("pCF Analysis", "radius=4 points=16 bins=32 smooth device=cpu");\n')
    # Esc 0.3 s after the engine started computing (the status bar says so)
    proc = run_ij_gui([slow, after, medium], fiji, esc_ms=300,
                      env_extra={"PCFIJ_DEBUG": "1"}, timeout=300)
    out = proc.stdout + proc.stderr
    log = section(proc.stdout, "LOG-BEGIN", "LOG-END")
    assert "NOT-CANCELED" not in log, out
    assert "pCF Analysis: canceled" in log, out
    sent = int(re.search(r"pcfij: cancel sent (\d+)", out).group(1))
    stopped = int(re.search(r"pcfij: canceled (\d+)", out).group(1))
    assert stopped - sent <= 1000, out
    esc = int(re.search(r"ESC (\d+)", out).group(1))
    returned = int(re.search(r"MACRO-RETURNED (\d+)", out).group(1))
    assert returned - esc < 3000, out
    assert "RESULT cells pCF 5" in log, out
    # the worker's status and progress reach ImageJ's status and progress bars
    fractions, inside = [], False
    for ln in proc.stdout.splitlines():
        if ln.startswith("STATUS "):  # only while the pCF computation shows in the status
            inside = ln == "STATUS pCF Analysis: computing pair correlations"
        elif ln.startswith("PROGRESS ") and inside:
            fractions.append(float(ln.split()[1]))
    assert any(0 < f < 1 for f in fractions), out


# ----------------------------------------------------------------------------- item 8
def test_selection_restricts_the_analysis(fiji, data, tmp_path):
    from pcfij.ccc import cross_correlation_profile
    from pcfij.pcf import ipcf

    d = str(data["dir"]) + "/"
    macro = tmp_path / "sel.ijm"
    macro.write_text(
        f'open("{d}cells.tif"); makeRectangle(3, 2, 12, 10);\n'
        'run("pCF Analysis", "radius=2 points=4 bins=5 smooth device=cpu");\n'
        f'print("PCF " + getWidth() + "x" + getHeight()); saveAs("Tiff", "{tmp_path}/p.tif");\n'
        f'open("{d}good_1.tif"); makeRectangle(4, 6, 30, 28); open("{d}good_2.tif");\n'
        'run("Just Cross Correlation", "dataset1=good_1.tif dataset2=good_2.tif maskabsent");\n'
        f'Table.save("{tmp_path}/x.csv", "Table of correlations");\n'
        'selectImage("good_2.tif"); makeRectangle(0, 0, 20, 20);\n'
        'run("Just Cross Correlation", "dataset1=good_1.tif dataset2=good_2.tif maskabsent");\n'
        'print("AFTER");\n')
    proc = run_ij_batch(macro, "", fiji, timeout=180)
    out = proc.stdout + proc.stderr
    assert "PCF 8x6" in out, out
    ref = ipcf(data["cells"][:, 2:12, 3:15], 2, 4, 5, smooth=True, device="cpu")
    np.testing.assert_allclose(read_image(tmp_path / "p.tif").data, ref.transpose(3, 2, 0, 1),
                               rtol=1e-6, equal_nan=True)
    assert "x=3..14, y=2..11" in out  # the Log says which region was analysed
    a, b = data["good"]
    prof = cross_correlation_profile(a[6:34, 4:34], b[6:34, 4:34], None, device="cpu")
    import csv

    with open(tmp_path / "x.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    dist = [float(r[k]) for r in rows for k in r if k.startswith("Distance")]
    np.testing.assert_allclose(dist, prof.distance, atol=1e-3)  # Table.save: 3 decimals
    assert proc.returncode != 0 and "AFTER" not in proc.stdout
    _one_error_line(proc, "Just Cross Correlation", "different selections")
