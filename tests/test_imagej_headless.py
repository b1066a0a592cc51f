"""Headless ImageJ (``java.awt.headless=true``, plain ij.jar) in a subprocess: macro options
are parsed without dialogs, images are found by title, errors are one line, no hang."""

from __future__ import annotations

import json

import pytest

from tests.imagej_fixtures import missing_requirements, run_python

pytestmark = pytest.mark.imagej

SCRIPT = r'''
import json, numpy as np
from pcfij.imagej import start_imagej, to_imageplus, from_imageplus, run_command
from pcfij.imagej.convert import jclass
from pcfij.pcf import ipcf
from pcfij.ccc import ccc
out = {}
s = start_imagej(mode="headless")
out["mode"] = s.mode
out["headless_awt"] = bool(jclass("java.awt.GraphicsEnvironment").isHeadless())
rng = np.random.default_rng(0)
data = rng.poisson(20, (40, 12, 12)).astype(np.uint16)
imp = to_imageplus(data, "TYX", title="ts"); imp.show()
# IJ.run with macro options (no dialog can exist headless)
res = run_command("pCF Analysis", "radius=2 points=4 bins=5 smooth device=cpu", imp)
ref = ipcf(data, 2, 4, 5, smooth=True, device="cpu")
got = from_imageplus(res.images[0]).data
out["pcf_equal"] = bool(np.allclose(got, ref.transpose(3, 2, 0, 1), equal_nan=True))
out["pcf_shape"] = list(got.shape)
# a macro's run() with image choosers by title; results visible to the macro
a = np.zeros((40, 40), np.float32)
for y, x in rng.integers(6, 30, (25, 2)):
    a[y - 1:y + 2, x - 1:x + 2] += 10
b = np.roll(a, 2, axis=1) + rng.random((40, 40)).astype(np.float32)
a = a + rng.random((40, 40)).astype(np.float32)
to_imageplus(a, title="img a").show(); to_imageplus(b, title="img b").show()
out["macro"] = s.run_macro('run("Colocalization by Cross Correlation", '
    '"dataset1=[img a] dataset2=[img b] maskabsent device=cpu"); return "" + nImages;')
# headless ImageJ 1.x has no table windows: the plugin-named tables reach Python callers
res = run_command("Colocalization by Cross Correlation",
                  "dataset1=[img a] dataset2=[img b] maskabsent device=cpu")
out["ccc_mean"] = float(res.tables["CC Results"]["Value"][0])
out["ccc_ref"] = float(ccc(a, b, None, device="cpu").mean)
# options without the smooth flag: parsed as ImageJ check boxes (absent = off)
res = run_command("pCF Analysis", "radius=2 points=4 bins=5 device=cpu", imp)
ref2 = ipcf(data, 2, 4, 5, smooth=False, device="cpu")
out["flag_off"] = bool(np.allclose(from_imageplus(res.images[0]).data,
                                   ref2.transpose(3, 2, 0, 1), equal_nan=True))
# errors: one line, ImageJ goes on
try:
    run_command("Colocalization by Cross Correlation", "dataset1=[img a] dataset2=missing")
except Exception as e:
    out["error"] = str(e)
out["after"] = s.run_macro('newImage("n", "32-bit noise", 16, 16, 40); '
    'run("pCF Analysis", "radius=1 points=4 bins=4 device=cpu"); return getTitle();')
# a built-in command works headless too (command table filled from IJ_Props.txt)
s.run_macro('newImage("g", "32-bit ramp", 16, 16, 1); run("Gaussian Blur...", "sigma=2");')
out["builtin"] = "ok"
print("JSON" + json.dumps(out))
'''


def test_headless_macro_options():
    why = missing_requirements(display=False)
    if why:
        pytest.skip(why)
    proc = run_python(SCRIPT)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("JSON"))
    out = json.loads(line[4:])
    assert out["mode"] == "headless" and out["headless_awt"] is True
    assert out["pcf_equal"] and out["pcf_shape"][1:] == [4, 8, 8]
    assert int(out["macro"]) >= 2  # the macro's run() worked (image choosers by title)
    assert out["ccc_mean"] == pytest.approx(out["ccc_ref"], rel=1e-6, abs=1e-9)
    assert out["flag_off"]
    assert "no open image is titled 'missing'" in out["error"]
    assert out["after"] == "n pCF"
    assert out["builtin"] == "ok"
    # the error went to ImageJ's log (stdout headless) as one line, without a Java trace
    assert "Colocalization by Cross Correlation: error: dataset2: no open image" in proc.stdout
    assert "at ij." not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_imagej_message():
    """A missing jar gives a clear message naming what to install."""
    why = missing_requirements(display=False)
    if why:
        pytest.skip(why)
    code = ("from pcfij.imagej import start_imagej, ImageJUnavailable\n"
            "try:\n    start_imagej(mode='headless', ij_jar='/nonexistent/ij.jar')\n"
            "except ImageJUnavailable as e:\n    print('MSG', e)\n")
    proc = run_python(code)
    assert "MSG" in proc.stdout and "libij-java" in proc.stdout
    code = ("import os\nfrom pcfij.imagej import start_imagej, ImageJUnavailable\n"
            "try:\n    start_imagej(mode='interactive')\n"
            "except ImageJUnavailable as e:\n    print('MSG', e)\n")
    proc = run_python(code)
    assert "MSG" in proc.stdout and "xvfb-run" in proc.stdout
