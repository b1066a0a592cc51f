"""The ImageJ shift runners choose the device by the same rule as ``pcfij shift`` (issue #14):
``cpu``/``gpu``/``auto`` are pcfij's ``device=`` (``gpu`` without a GPU is refused, one
error), only ``hybrid`` is algotom's ``gpu="hybrid"`` (warns and runs on the CPU).

The runners are pure Python (values, NumPy images, callbacks in; outputs out), so they are
called here the way the bridge calls them, with values checked by the declarations."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from pcfij.commands.shift import DRIFT, SHIFT
from pcfij.errors import InputError
from pcfij.imagej.runners_shift import RUNNERS
from pcfij.io.tiff import Calibration, Image
from pcfij.kernels import gpu_available
from pcfij.outputs import Context
from pcfij.simulate import shifts as sim

CAL = Calibration(1.0, 1.0, 1.0, "pixel", 0.0)


def _pair(dx: float, dy: float) -> dict:
    ref = sim.speckle((64, 64), sigma=2.0, seed=5).astype(np.float32)
    mov = sim.shift_image(ref, dx, dy).astype(np.float32)
    return {"ref": Image(ref, "YX", CAL, "ref.tif"), "moving": Image(mov, "YX", CAL, "mov.tif")}


def _values(cmd, **kw) -> dict:
    return cmd.validate(kw, require=False)


def test_cpu_finds_the_known_shift():
    out = RUNNERS["shift"](_values(SHIFT, gpu="cpu", margin=8), _pair(3.0, -2.0), Context())
    cols = out.tables[0].columns
    # moving = ref shifted by (dx, dy) = (3, -2): the reported shift is (-3, 2)
    assert cols["x"][0] == pytest.approx(-3.0, abs=0.1)
    assert cols["y"][0] == pytest.approx(2.0, abs=0.1)


@pytest.mark.skipif(gpu_available(), reason="checks the refusal without a GPU")
@pytest.mark.parametrize("name", ["shift", "local-shifts", "drift"])
def test_gpu_without_a_gpu_is_refused(name):
    # before #14 the ImageJ runners turned "gpu" into algotom's gpu=True, which warned and
    # quietly ran on the CPU while `pcfij shift --device gpu` refused
    if name == "drift":
        stack = sim.speckle((4, 48, 48), sigma=2.0, seed=1).astype(np.float32)
        inputs = {"stack": Image(stack, "TYX", CAL, "s.tif")}
        values = _values(DRIFT, gpu="gpu", margin=5)
    else:
        inputs = _pair(1.0, 0.0)
        values = _values(SHIFT, gpu="gpu", margin=5)
    with pytest.raises(InputError, match="(?i)gpu"):
        RUNNERS[name](values, inputs, Context())


@pytest.mark.skipif(gpu_available(), reason="checks the CPU fallback without a GPU")
def test_hybrid_is_algotoms_and_falls_back_with_a_warning():
    inputs = _pair(2.0, 1.0)
    cpu = RUNNERS["local-shifts"](_values(SHIFT, gpu="cpu", margin=4), inputs, Context())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hyb = RUNNERS["local-shifts"](_values(SHIFT, gpu="hybrid", margin=4), inputs,
                                      Context())
    assert any("gpu" in str(w.message).lower() for w in caught)
    np.testing.assert_allclose(hyb.images[0].data, cpu.images[0].data, atol=1e-5)
