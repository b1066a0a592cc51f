"""Issue #13 items 2-3 through a real ImageJ (Debian's ij.jar, headless, its own JVM in a
fresh Python process): Correct Drift logs the frames whose drift hit the search margin and
marks them in the Results table; Find Shift / Correct Drift refuse NaN images with one
error line in the Log."""

from __future__ import annotations

import json

import pytest

from tests.imagej_fixtures import missing_requirements, run_python

pytestmark = pytest.mark.imagej

SCRIPT = r'''
import json, numpy as np
from pcfij.imagej import start_imagej, to_imageplus
from pcfij.imagej.convert import jclass
from pcfij.simulate import shifts as sim
out = {}
s = start_imagej(mode="headless")
IJ = jclass("ij.IJ")
ref = sim.speckle((64, 64), sigma=2.0, seed=3)
dxs = [0.0, 3.0, 6.5, 10.5, 13.0, 2.0]
stack = np.stack([sim.shift_image(ref, dx, 0.0) for dx in dxs]).astype(np.float32)
to_imageplus(stack, "TYX", title="drifting").show()
out["edge"] = s.run_macro('selectImage("drifting"); run("Correct Drift", "margin=8"); '
    'r = ""; for (i = 0; i < nResults; i++) r = r + getResult("at_margin", i); return r;')
out["dx4"] = float(s.run_macro('return "" + getResult("dx", 4);'))
nan = np.full((64, 64), np.nan, np.float32)
to_imageplus(ref.astype(np.float32), title="ref").show()
to_imageplus(nan, title="nan").show()
out["nan"] = s.run_macro('run("Find Shift", "ref=ref moving=nan margin=5"); '
                         'return "" + nResults;')
to_imageplus(np.stack([nan] * 4), "TYX", title="nanstack").show()
s.run_macro('selectImage("nanstack"); run("Correct Drift", "margin=5");')
print("JSON" + json.dumps(out))
'''


def test_imagej_drift_at_margin_logged_and_marked_nan_refused():
    why = missing_requirements(display=False)
    if why:
        pytest.skip(why)
    proc = run_python(SCRIPT)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("JSON"))
    out = json.loads(line[4:])
    # true drifts 10.5 and 13 px lie beyond margin 8: frames 3 and 4 are marked, and the
    # drift reported for them is the margin (a lower bound), not the truth
    assert out["edge"] == "000110"
    assert out["dx4"] == pytest.approx(8.0)
    log = proc.stdout
    assert "pcfij: 2 of 6 frames have their drift on the edge of the search window" in log
    # NaN images: one error line each in the Log (stdout when headless), no results
    assert "Find Shift: error: the moving image (nan) is entirely NaN or infinite" in log
    assert "Correct Drift: error: the stack has NaN or infinite values in every frame" in log
    assert "Traceback" not in log
