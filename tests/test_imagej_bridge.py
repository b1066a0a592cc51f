"""The ImageJ bridge inside a real ImageJ 1.x with a display (private Xvfb), one JVM.

Every command is run through ImageJ's own dispatch (``IJ.run`` and a macro's ``run()``) and
compared with the engine called directly on the same arrays.
"""

from __future__ import annotations

import numpy as np
import pytest

from pcfij.errors import InputError
from pcfij.io.tiff import Calibration
from tests.imagej_fixtures import imagej_display  # noqa: F401 (fixture)

pytestmark = pytest.mark.imagej

TITLES = ("pCF Analysis", "pCF Bleach Correction", "Colocalization by Cross Correlation",
          "CCC - No confidence", "Just Cross Correlation", "Find Shift", "Find Local Shifts",
          "Correct Drift")


@pytest.fixture
def ij(imagej_display):  # noqa: F811
    """The session, with no images open and an empty log before each test."""
    from pcfij.imagej.convert import jclass

    _close_all()
    jclass("ij.IJ").log("\\Clear")
    jclass("ij.measure.ResultsTable").getResultsTable().reset()
    yield imagej_display
    _close_all()


def _close_all():
    from pcfij.imagej.convert import jclass

    WM = jclass("ij.WindowManager")
    for i in list(WM.getIDList() or []):
        imp = WM.getImage(int(i))
        if imp is not None:
            imp.changes = False
            imp.close()
    Interpreter = jclass("ij.macro.Interpreter")
    for i in list(Interpreter.getBatchModeImageIDs() or []):
        imp = Interpreter.getBatchModeImage(int(i))
        if imp is not None:
            Interpreter.removeBatchModeImage(imp)


def _log():
    from pcfij.imagej.convert import jclass

    return str(jclass("ij.IJ").getLog() or "")


def _show(data, axes, title, cal=None):
    import time

    from pcfij.imagej import to_imageplus
    from pcfij.imagej.convert import jclass

    imp = to_imageplus(data, axes, cal, title=title)
    imp.show()
    # ImageJ makes a shown window the current image on the AWT event thread: wait for it,
    # so tests that use "the current image" do not race with window activation
    wm = jclass("ij.WindowManager")
    deadline = time.monotonic() + 10
    while wm.getCurrentImage() != imp and time.monotonic() < deadline:
        time.sleep(0.01)
    return imp


def _series(t=48, h=14, w=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.poisson(30, (t, h, w)).astype(np.uint16)


# ------------------------------------------------------------------ start and convert
def test_session_started(ij):
    assert ij.mode == "interactive" and not ij.headless
    assert ij.version.startswith("1.")
    assert ij.startup_seconds > 0
    from pcfij.imagej import start_imagej

    assert start_imagej(mode="interactive") is ij  # one session per process
    from pcfij.imagej import ImageJUnavailable

    with pytest.raises(ImageJUnavailable, match="new Python process"):
        start_imagej(mode="headless")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("axes,shape", [
    ("YX", (5, 7)), ("TYX", (4, 5, 7)), ("ZYX", (3, 5, 7)), ("ZCYX", (3, 2, 5, 7)),
    ("TZCYX", (2, 3, 2, 5, 7)), ("CTYX", (2, 3, 5, 7)), ("YXZ", (5, 7, 3)),
])
def test_numpy_imageplus_roundtrip(ij, dtype, axes, shape):
    from pcfij.imagej import from_imageplus, to_imageplus

    rng = np.random.default_rng(1)
    data = (rng.random(shape) * 200).astype(dtype)
    cal = Calibration(0.25, 0.5, 1.5, "micron", 0.2)
    imp = to_imageplus(data, axes, cal, title="rt")
    n = dict(zip(axes, shape))
    assert (imp.getWidth(), imp.getHeight()) == (n["X"], n["Y"])
    assert (imp.getNChannels(), imp.getNSlices(), imp.getNFrames()) == (
        n.get("C", 1), n.get("Z", 1), n.get("T", 1))
    assert imp.getBitDepth() == {np.uint8: 8, np.uint16: 16, np.float32: 32}[dtype]
    # ImageJ's own XYCZT indexing finds the right plane
    c, z, t = n.get("C", 1) - 1, n.get("Z", 1) - 1, n.get("T", 1) - 1
    idx = imp.getStackIndex(c + 1, z + 1, t + 1)
    pix = np.array(imp.getStack().getProcessor(idx).getPixelValue(2, 3))
    full = np.moveaxis(data, [axes.index(a) for a in axes], list(range(len(axes))))
    sel = {"C": c, "Z": z, "T": t, "Y": 3, "X": 2}
    assert pix == pytest.approx(float(full[tuple(sel[a] for a in axes)]))
    back = from_imageplus(imp)
    canon = "".join(a for a in "TZCYX" if a in axes)
    assert back.axes == canon
    np.testing.assert_array_equal(back.data, np.transpose(data, [axes.index(a) for a in canon]))
    assert back.data.dtype == dtype
    bc = back.calibration
    assert (bc.pixel_width, bc.pixel_height, bc.voxel_depth, bc.unit) == (0.25, 0.5, 1.5,
                                                                         "micron")
    assert bc.frame_interval == pytest.approx(0.2)


def test_convert_types_and_errors(ij):
    from pcfij.imagej import from_imageplus, to_imageplus
    from pcfij.imagej.convert import jclass

    imp = to_imageplus(np.array([[True, False]]), title="m")
    assert imp.getBitDepth() == 8
    np.testing.assert_array_equal(from_imageplus(imp).data, [[255, 0]])
    imp = to_imageplus(np.arange(6, dtype=np.float64).reshape(2, 3))
    assert imp.getBitDepth() == 32
    with pytest.raises(TypeError):
        to_imageplus(np.zeros((2, 2), complex))
    with pytest.raises(InputError):
        to_imageplus(np.zeros((2, 2, 2)), "TXY"[:2])
    rgb = jclass("ij.process.ColorProcessor")(3, 2)
    rgb.set(1, 0, (10 << 16) | (20 << 8) | 30)
    back = from_imageplus(jclass("ij.ImagePlus")("rgb", rgb))
    assert back.axes == "CYX" and back.data[:, 0, 1].tolist() == [10, 20, 30]


def test_results_table_roundtrip(ij):
    from pcfij.imagej import from_results_table, to_results_table
    from pcfij.imagej.convert import jclass

    RT = jclass("ij.measure.ResultsTable")
    cols = {"x": np.arange(5) * 0.5, "n": np.arange(5), "name": list("abcde")}
    rt = to_results_table(cols, RT.getResultsTable(), labels=[f"r{i}" for i in range(5)])
    rt.show("Results")
    back = from_results_table(rt)
    np.testing.assert_allclose(back["x"], cols["x"])
    np.testing.assert_allclose(back["n"], cols["n"])
    assert back["name"] == list("abcde") and back["Label"][2] == "r2"
    out = ij.run_macro('return "" + nResults + " " + getResult("x", 3) + " " '
                       '+ getResultString("name", 4);')
    assert out == "5 1.5 e"


# ------------------------------------------------------------------ menus
def test_menu_entries(ij):
    from pcfij.imagej.convert import jclass

    Menus = jclass("ij.Menus")
    commands = Menus.getCommands()
    for title in TITLES:
        assert commands.get(title) is not None, title
    bar = Menus.getMenuBar()
    plugins = next(bar.getMenu(i) for i in range(bar.getMenuCount())
                   if str(bar.getMenu(i).getLabel()) == "Plugins")
    sub = next(plugins.getItem(i) for i in range(plugins.getItemCount())
               if str(plugins.getItem(i).getLabel()) == "pcfij")
    labels = {str(sub.getItem(i).getLabel()) for i in range(sub.getItemCount())}
    assert set(TITLES) <= labels


# ------------------------------------------------------------------ pCF
def test_pcf_ij_run_matches_engine(ij):
    from pcfij.imagej import from_imageplus, run_command
    from pcfij.pcf import bin_delays, ipcf, ipcf_bins

    data = _series()
    imp = _show(data, "TYX", "series", Calibration(0.1, 0.1, 1.0, "micron", 0.005))
    res = run_command("pCF Analysis", "radius=2 points=8 bins=8 smooth device=cpu", imp)
    ref = ipcf(data, 2, 8, 8, smooth=True, device="cpu")
    (out,) = res.images
    assert str(out.getTitle()) == "series pCF"
    assert (out.getWidth(), out.getHeight(), out.getNSlices(), out.getNFrames()) == (
        16 - 4, 14 - 4, 8, ref.shape[3])
    assert out.getCalibration().pixelWidth == pytest.approx(0.1)
    assert str(out.getCalibration().getUnit()) == "micron"
    label = str(out.getStack().getSliceLabel(out.getStackIndex(1, 3, 2)))
    assert label.startswith("point 2 ") and "delay bin 1" in label
    got = from_imageplus(out)
    assert got.axes == "TZYX"
    np.testing.assert_allclose(got.data, ref.transpose(3, 2, 0, 1), rtol=1e-6, equal_nan=True)
    table = res.tables["Results"]
    assert list(table)[:2] == ["Bin", "Delay (frames)"] and "Delay (s)" in table
    np.testing.assert_allclose(table["Delay (frames)"], bin_delays(ipcf_bins(48, 8)))
    np.testing.assert_allclose(table["Mean pCF"],
                               np.nanmean(ref.reshape(-1, ref.shape[3]), axis=0), rtol=1e-5)


def test_pcf_macro_run_with_mask_and_bleach(ij):
    from pcfij.imagej import from_imageplus
    from pcfij.imagej.convert import jclass
    from pcfij.pcf import correct_bleaching, ipcf

    data = _series(t=64)
    _show(data, "TYX", "cells")
    mask = np.zeros((14, 16), np.uint8)
    mask[5:9, 4:12] = 255
    _show(mask, "YX", "mask")
    out = ij.run_macro(
        'selectImage("cells");'
        'run("pCF Analysis", "radius=2 points=4 bins=6 bleach_filter=8 smooth mask=mask '
        'device=cpu");'
        'return "" + nResults + " " + getTitle() + " " + nSlices;')
    ref = ipcf(data, 2, 4, 6, bleach_filter=8, mask=mask > 0, smooth=True, device="cpu")
    n, rest = out.split(" ", 1)
    assert int(n) == ref.shape[3]
    assert rest.startswith("cells pCF")
    got = from_imageplus(jclass("ij.WindowManager").getImage("cells pCF")).data
    np.testing.assert_allclose(got, ref.transpose(3, 2, 0, 1), rtol=1e-6, equal_nan=True)
    # bleach correction as its own command
    ij.run_macro('selectImage("cells"); run("pCF Bleach Correction", "filter=8 type=float32");')
    bc = from_imageplus(jclass("ij.WindowManager").getImage("cells bleach corrected"))
    np.testing.assert_allclose(bc.data, correct_bleaching(data, 8, output="float32"),
                               rtol=1e-6)
    assert ij.run_macro('return "" + nResults + " " + getResult("Frame", 0);') == "48 8"


# ------------------------------------------------------------------ CCC
def _pair(seed=3, shape=(40, 44)):
    rng = np.random.default_rng(seed)
    a = np.zeros(shape, np.float32)
    b = np.zeros(shape, np.float32)
    for _ in range(30):
        y, x = rng.integers(6, shape[0] - 10), rng.integers(6, shape[1] - 10)
        a[y - 1 : y + 2, x - 1 : x + 2] += 10
        b[y + 2 : y + 5, x + 1 : x + 4] += 10
    return a + rng.random(shape, np.float32), b + rng.random(shape, np.float32)


def test_ccc_commands_match_engine(ij):
    from pcfij.ccc import ccc, cross_correlation_profile
    from pcfij.imagej import from_imageplus, run_command

    a, b = _pair()
    mask = np.zeros(a.shape, np.uint8)
    mask[2:-2, 2:-2] = 255
    cal = Calibration(0.2, 0.2, 1.0, "micron", 0.0)
    _show(a, "YX", "ch1", cal)
    _show(b, "YX", "ch2", cal)
    _show(mask, "YX", "cell mask", cal)
    res = run_command("Colocalization by Cross Correlation",
                      "dataset1=ch1 dataset2=ch2 maskdataset=[cell mask] "
                      "generatecontributionimages device=cpu")
    ref = ccc(a, b, mask, scale=(0.2, 0.2), unit="micron", contributions=True, device="cpu")
    # the Fiji plugin's names (pcfij.ccc.present): "CC Results" rows Mean, StDev, ...
    t = res.tables["CC Results"]["Value"]
    assert t[0] == pytest.approx(ref.mean, rel=1e-6)
    assert t[1] == pytest.approx(ref.sigma, rel=1e-6)
    assert t[2] == pytest.approx(ref.confidence, rel=1e-6)
    assert t[3] == pytest.approx(ref.r_squared, rel=1e-6)
    titles = [str(i.getTitle()) for i in res.images]
    assert titles == ["Contribution of ch1", "Contribution of ch2"]
    np.testing.assert_allclose(from_imageplus(res.images[0]).data, ref.contribution1, rtol=1e-6)
    assert res.images[0].getCalibration().pixelWidth == pytest.approx(0.2)
    assert len(res.plots) == 1
    np.testing.assert_allclose(res.tables["Table of correlations"]["Subtracted CC"],
                               ref.subtracted, rtol=1e-6)
    # the macro sees the same numbers
    get = 'Table.get("Value", 0, "CC Results")'
    out = ij.run_macro(
        'run("CCC - No confidence", "dataset1=ch1 dataset2=ch2 maskdataset=[cell mask]");'
        f'return "" + Table.size("CC Results") + " " + {get};')
    ref2 = ccc(a, b, mask, scale=(0.2, 0.2), confidence=False, device="cpu")
    n, mean = out.split()
    assert n == "4" and float(mean) == pytest.approx(ref2.mean, rel=1e-3)
    # the key names (image1/image2/mask) are accepted as aliases of the plugin's
    out = ij.run_macro(
        'run("Colocalization by Cross Correlation", "image1=ch1 image2=ch2 mask=[cell mask] '
        f'device=cpu"); return "" + {get};')
    assert float(out) == pytest.approx(ref.mean, rel=1e-3)
    res = run_command("Just Cross Correlation", "dataset1=ch1 dataset2=ch2 maskabsent")
    ref3 = cross_correlation_profile(a, b, None, scale=(0.2, 0.2), device="cpu")
    np.testing.assert_allclose(res.tables["Table of correlations"]["Original CC"],
                               ref3.original, rtol=1e-6)
    np.testing.assert_allclose(from_imageplus(res.images[0]).data, ref3.original_image,
                               rtol=1e-6)


def test_ccc_time_series_heat_map(ij):
    from pcfij.ccc import ccc
    from pcfij.imagej import run_command

    a, b = _pair(shape=(30, 32))
    a2, b2 = _pair(seed=5, shape=(30, 32))
    sa, sb = np.stack([a, a2, a]), np.stack([b, b2, b])
    _show(sa, "TYX", "s1")
    _show(sb, "TYX", "s2")
    res = run_command("Colocalization by Cross Correlation",
                      "dataset1=s1 dataset2=s2 maskabsent device=cpu")
    ref = ccc(sa, sb, None, time_axis=0, device="cpu")
    (table,) = [t for t in res.tables if t not in ("CC Results",)]
    np.testing.assert_allclose(res.tables[table]["Mean"], ref.mean, rtol=1e-6)
    (hm,) = res.images
    assert hm.getNChannels() == ref.heatmap.shape[0] and hm.getWidth() == 3


# ------------------------------------------------------------------ shifts
def test_shift_commands(ij):
    from scipy import ndimage as ndi

    from pcfij.imagej import from_imageplus, run_command
    from pcfij.shift import find_local_shifts, find_shift_based_correlation_map, register_stack

    rng = np.random.default_rng(7)
    ref = ndi.gaussian_filter(rng.random((48, 52)), 2).astype(np.float32)
    mov = ndi.shift(ref, (1.5, -2.0), order=3).astype(np.float32)
    _show(ref, "YX", "ref")
    _show(mov, "YX", "mov")
    res = run_command("Find Shift", "ref=ref moving=mov margin=6")
    x, y = find_shift_based_correlation_map(ref, mov, margin=6)
    assert res.tables["Results"]["x"][0] == pytest.approx(x)
    assert res.tables["Results"]["y"][0] == pytest.approx(y)
    res = run_command("Find Local Shifts", "ref=ref moving=mov margin=4 window=9 norm")
    xs, ys = find_local_shifts(ref, mov, win_size=9, margin=4)
    maps = from_imageplus(res.images[0]).data
    np.testing.assert_allclose(maps[0], xs, atol=1e-6)
    np.testing.assert_allclose(maps[1], ys, atol=1e-6)
    stack = np.stack([ndi.shift(ref, (0.5 * k, -0.7 * k), order=3) for k in range(5)])
    stack = stack.astype(np.float32)
    _show(stack, "TYX", "drifting")
    out = ij.run_macro('selectImage("drifting"); run("Correct Drift", "margin=6");'
                       'return "" + nResults + " " + getTitle();')
    assert out == "5 drifting drift corrected"
    dr = register_stack(stack, margin=6)
    from pcfij.imagej.convert import jclass

    got = from_imageplus(jclass("ij.WindowManager").getImage("drifting drift corrected"))
    np.testing.assert_allclose(got.data, dr.corrected, atol=1e-5)
    table = ij.run_macro('return "" + getResult("dx", 4) + " " + getResult("dy", 4);')
    dx, dy = map(float, table.split())
    assert (dx, dy) == (pytest.approx(dr.drift[4, 0], abs=1e-3),
                        pytest.approx(dr.drift[4, 1], abs=1e-3))


# ------------------------------------------------------------------ errors
def _assert_usable(ij):
    """ImageJ still runs a command after an error."""
    _show(_series(t=40, h=10, w=10), "TYX", "after-error")
    out = ij.run_macro('run("pCF Analysis", "radius=1 points=4 bins=4 device=cpu");'
                       'return getTitle();')
    assert out == "after-error pCF"


def test_error_no_image(ij):
    from pcfij.imagej import run_command

    with pytest.raises(InputError, match="no image is open"):
        run_command("pCF Analysis", "radius=2")
    assert "pCF Analysis: error: no image is open" in _log()
    assert ij.run_macro('run("pCF Analysis", "radius=2"); return "went on";') == "went on"
    _assert_usable(ij)


def test_error_wrong_type_and_sizes(ij):
    from pcfij.imagej import run_command
    from pcfij.imagej.convert import jclass

    rgb = jclass("ij.ImagePlus")("rgb", jclass("ij.process.ColorProcessor")(20, 20))
    rgb.show()
    with pytest.raises(TypeError, match="RGB"):
        run_command("pCF Analysis", "radius=2", rgb)
    single = _show(np.zeros((10, 10), np.float32), "YX", "single")
    with pytest.raises(InputError, match="time series"):
        run_command("pCF Analysis", "radius=2", single)
    a, b = _pair()
    _show(a, "YX", "big")
    _show(b[:30, :30], "YX", "small")
    with pytest.raises(InputError, match="same size"):
        run_command("Colocalization by Cross Correlation", "dataset1=big dataset2=small "
                    "maskabsent")
    with pytest.raises(InputError, match="no open image is titled"):
        run_command("Colocalization by Cross Correlation", "dataset1=big dataset2=nothere")
    with pytest.raises(InputError, match="radius"):
        run_command("pCF Analysis", "radius=-3")
    log = _log()
    assert log.count("error:") == 5 and "Exception" not in log and "at ij." not in log
    _assert_usable(ij)


def test_error_dialog_is_shown_and_closed(ij):
    """With error dialogs on, the message appears in an ImageJ dialog (closed by the
    fixture's watchdog, as a user pressing OK); ImageJ goes on."""
    from pcfij.imagej import bridge, run_command
    from tests import imagej_fixtures

    before = len(imagej_fixtures.dismissed_dialogs)
    bridge.set_error_dialogs(True)
    try:
        with pytest.raises(InputError):
            run_command("pCF Analysis", "radius=2")
    finally:
        bridge.set_error_dialogs(False)
    assert imagej_fixtures.dismissed_dialogs[before:] == ["pCF Analysis"]
    _assert_usable(ij)


def test_no_unexpected_dialogs(ij):
    """No other test left an ImageJ dialog open (macro or error dialogs)."""
    from tests import imagej_fixtures

    assert [t for t in imagej_fixtures.dismissed_dialogs if t != "pCF Analysis"] == []
