"""ipCF engine against the independent reference in tests/pcf_reference.py and known values."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcfij.errors import InputError, InputTypeError
from pcfij.kernels import gpu_available
from pcfij.pcf import average, circle, correct_bleaching, correlate, ipcf, logbins, smooth
from pcfij.simulate import simulate_channel
from tests.pcf_reference import (
    ref_average,
    ref_circle,
    ref_correct_bleaching,
    ref_correlate,
    ref_ipcf,
    ref_logbins,
    ref_smooth,
)

ATOL = 1e-5


@pytest.fixture(scope="module")
def sim():
    """Simulated channel data: 1100 frames (not a power of two) of 22 x 22 pixels."""
    return simulate_channel(1100, 22, channel_width=6, density=0.08, seed=11)


# ----------------------------------------------------------------------------- building blocks
def test_circle_hand_checked():
    # radius 2, 8 points: angles 0, 45, ... degrees; round(2 cos 45) = round(1.414) = 1
    assert circle(2, 8).tolist() == [[2, 0], [1, 1], [0, 2], [-1, 1], [-2, 0], [-1, -1],
                                     [0, -2], [1, -1]]
    c = circle(6, 32)
    assert c.shape == (32, 2) and c.dtype == np.intp
    assert c[0].tolist() == [6, 0] and c[8].tolist() == [0, 6] and c[4].tolist() == [4, 4]
    # radius 6 / 32 points: point i + 16 mirrors point i (the tutorial's shortcut holds here)
    assert (c[(np.arange(32) + 16) % 32] == -c).all()
    # radius 7 / 36 points: it does not hold for every point
    c7 = circle(7, 36)
    assert not (c7[(np.arange(36) + 18) % 36] == -c7).all()
    np.testing.assert_array_equal(circle(5, 13), ref_circle(5, 13))


def test_logbins_hand_checked():
    assert logbins(32, 8).tolist() == [1, 2, 4, 7, 11, 19, 32]
    b = logbins(8192, 32)
    assert len(b) == 30 and b[0] == 1 and b[-1] == 8192
    assert len(logbins(16384 // 2, 32)) == 30
    assert len(logbins(4096 // 2, 32)) == 29
    assert logbins(4096, 32)[:6].tolist() == [1, 2, 3, 5, 6, 8]
    for size, nbins in [(512, 16), (1000, 20), (8192, 32)]:
        np.testing.assert_array_equal(logbins(size, nbins), ref_logbins(size, nbins))


def test_correlate_circular_against_direct_sum():
    rng = np.random.default_rng(1)
    a = rng.poisson(20, 64).astype(float)
    b = rng.poisson(30, 64).astype(float)
    n = a.size
    direct = [n * sum(a[(t + k) % n] * b[t] for t in range(n)) / (a.sum() * b.sum()) - 1
              for k in range(n // 2)]
    np.testing.assert_allclose(correlate(a, b), direct, rtol=0, atol=1e-12)
    np.testing.assert_allclose(correlate(a, b), ref_correlate(a, b), atol=1e-12)


def test_correlate_linear_against_numpy_correlate():
    rng = np.random.default_rng(2)
    a = rng.poisson(20, 50).astype(float)
    b = rng.poisson(30, 50).astype(float)
    n = a.size
    da, db = a - a.mean(), b - b.mean()
    full = np.correlate(da, db, "full")  # full[n - 1 + k] = sum_t da[t + k] db[t]
    expected = full[n - 1 : n - 1 + n // 2] / (n * a.mean() * b.mean())
    np.testing.assert_allclose(correlate(a, b, mode="linear"), expected, atol=1e-12)
    # linear and circular differ (no wrap-around) but agree at zero delay
    circ = correlate(a, b)
    assert not np.allclose(circ, correlate(a, b, mode="linear"))
    assert circ[0] == pytest.approx(correlate(a, b, mode="linear")[0], abs=1e-12)


def test_average_and_smooth_against_reference():
    rng = np.random.default_rng(3)
    c = rng.normal(size=512)
    bins = logbins(512, 16)
    np.testing.assert_allclose(average(c, bins), ref_average(c, bins), atol=1e-15)
    np.testing.assert_allclose(smooth(c[:20]), ref_smooth(c[:20]), atol=1e-15)
    s = smooth(np.array([5.0, 1.0, 1.0, 1.0]))
    assert s[0] == pytest.approx(1.0) and s[-1] == pytest.approx(1.0)


# ----------------------------------------------------------------------------- ipcf vs reference
@pytest.mark.parametrize(
    "radius,npoints,nbins",
    [(3, 16, 16), (2, 7, 12), (4, 36, 10), (1, 32, 8)],
    ids=["r3p16", "odd-points", "r4p36-no-mirror-shortcut", "r1p32-duplicate-points"],
)
def test_ipcf_pow2_matches_reference(sim, radius, npoints, nbins):
    expected = ref_ipcf(sim, radius, npoints, nbins, pow2=True)
    got = ipcf(sim, radius, npoints, nbins, pow2=True, device="cpu")
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.abs(got - expected).max() <= ATOL


def test_ipcf_tutorial_geometry_radius6_32points():
    data = simulate_channel(2048, 18, channel_width=6, density=0.1, seed=5)
    expected = ref_ipcf(data, 6, 32, 32, pow2=True)
    got = ipcf(data, 6, 32, 32, pow2=True, device="cpu")
    assert got.shape == (6, 6, 32, len(ref_logbins(1024, 32)))
    assert np.abs(got - expected).max() <= ATOL


def test_ipcf_all_frames_and_unsmoothed(sim):
    expected = ref_ipcf(sim, 3, 8, 12, pow2=False, smooth=False)
    got = ipcf(sim, 3, 8, 12, pow2=False, smooth=False, device="cpu")
    assert np.abs(got - expected).max() <= ATOL
    # pow2=False really uses all 1100 frames: it differs from the truncated analysis
    assert not np.allclose(got, ipcf(sim, 3, 8, 12, pow2=True, smooth=False, device="cpu"))


def test_ipcf_tiles_are_independent_of_the_surrounding_image():
    """A block aligned to the tile grid (plus its halo) gives bit-identical numbers."""
    from pcfij.pcf import ipcf_tile_size

    rng = np.random.default_rng(12)
    data = rng.poisson(40, (128, 30, 27)).astype(np.uint16)
    r = 2
    tile = ipcf_tile_size(128, r, memory_budget=(8 + 2 * r) ** 2 * (128 * 4 + 65 * 8))
    assert tile == 8
    budget = (8 + 2 * r) ** 2 * (128 * 4 + 65 * 8)
    whole = ipcf(data, r, 12, 10, device="cpu", memory_budget=budget)
    y0, x0 = 8, 16  # tile-aligned result origin
    part = ipcf(data[:, y0 : y0 + 16 + 2 * r, x0:], r, 12, 10, device="cpu", memory_budget=budget)
    np.testing.assert_array_equal(part, whole[y0 : y0 + 16, x0:])
    # and tiling does not change the values beyond float32 rounding
    big = ipcf(data, r, 12, 10, device="cpu")
    assert np.abs(big - whole).max() < 1e-6


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), radius=st.integers(1, 3), npoints=st.integers(1, 12))
def test_time_reversal_swaps_centre_and_neighbour(seed, radius, npoints):
    """G of pair (a, b) on time-reversed data equals G of pair (b, a) on the data."""
    rng = np.random.default_rng(seed)
    data = rng.poisson(50, (64, 2 * radius + 6, 2 * radius + 6)).astype(np.uint16)
    fwd = ipcf(data, radius, npoints, 8, smooth=False, device="cpu")
    rev = ipcf(data[::-1], radius, npoints, 8, smooth=False, device="cpu")
    cc = circle(radius, npoints)
    oh, ow = fwd.shape[:2]
    mirror = {tuple(p): j for j, p in enumerate(cc.tolist())}
    # sum_n b_r[n + k] a_r[n] = sum_m a[m + k] b[m] for a_r, b_r the reversed traces: the
    # reversed pair's whole curve equals the curve with centre and neighbour swapped
    checked = 0
    for i, (u, v) in enumerate(cc.tolist()):
        j = mirror.get((-u, -v))
        if j is None:
            continue
        for y in range(oh):
            for x in range(ow):
                yy, xx = y + v, x + u
                if 0 <= yy < oh and 0 <= xx < ow:
                    np.testing.assert_allclose(rev[y, x, i], fwd[yy, xx, j], atol=1e-5)
                    checked += 1
    assert checked > 0 or all(tuple((-p).tolist()) not in mirror for p in cc)


def test_mirror_pairs_are_consistent_with_direct_reference():
    """Curves filled by the reverse-direction trick equal direct computation."""
    rng = np.random.default_rng(4)
    data = rng.poisson(30, (256, 12, 12)).astype(np.uint16)
    got = ipcf(data, 2, 8, 10, device="cpu")
    expected = ref_ipcf(data, 2, 8, 10, pow2=True)
    assert np.abs(got - expected).max() <= ATOL


# ----------------------------------------------------------------------------- special inputs
def test_constant_input_gives_zero():
    data = np.full((64, 9, 9), 7, np.uint16)
    got = ipcf(data, 2, 8, 8, device="cpu")
    assert np.abs(got).max() <= 1e-6


def test_zero_mean_pixels_are_nan_with_one_warning():
    rng = np.random.default_rng(5)
    data = rng.poisson(10, (64, 10, 10)).astype(np.uint16)
    data[:, 5, 5] = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = ipcf(data, 2, 8, 8, device="cpu")
    msgs = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(msgs) == 1 and msgs[0].startswith("1 pixel(s)")
    assert np.isnan(got[3, 3]).all()  # centre (5, 5) is result pixel (3, 3)
    assert np.isnan(got[3, 1, 0]).all()  # centre (5, 3) has neighbour (5, 5) at point 0
    assert np.isfinite(got[0, 0]).all()


def test_mask_gives_nan_outside_and_same_values_inside(sim):
    mask = np.zeros(sim.shape[1:], bool)
    mask[5:12, 4:15] = True
    full = ipcf(sim, 3, 8, 8, device="cpu")
    masked = ipcf(sim, 3, 8, 8, mask=mask, device="cpu")
    inside = mask[3:-3, 3:-3]
    assert np.isnan(masked[~inside]).all()
    # only pairs with a centre inside are computed (fewer pairs per batch), same values
    np.testing.assert_allclose(masked[inside], full[inside], atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "kwargs,exc,text",
    [
        (dict(data=np.zeros((64, 10))), InputError, "3 dimensions"),
        (dict(data=np.zeros((64, 10, 10)), radius=5), InputError, "too large"),
        (dict(data=np.ones((31, 10, 10))), InputError, "at least 32"),
        (dict(data=np.array([["a"] * 10] * 10 * 64).reshape(64, 10, 10)), InputTypeError,
         "numeric"),
        (dict(data=np.ones((64, 10, 10)), mask=np.ones((9, 10), bool)), InputError, "mask"),
        (dict(data=np.ones((64, 10, 10)), radius=0), InputError, "radius"),
        (dict(data=np.ones((64, 10, 10)), device="tpu"), InputError, "device"),
        (dict(data=np.full((64, 10, 10), np.nan)), InputError, "NaN"),
        (dict(data=np.ones((100, 10, 10)), bleach_filter=40), InputError, "bleach"),
    ],
)
def test_bad_input_raises_clear_errors(kwargs, exc, text):
    data = kwargs.pop("data")
    with pytest.raises(exc, match=text):
        ipcf(data, **{"radius": 2, "npoints": 8, "nbins": 8, **kwargs})


# ----------------------------------------------------------------------------- bleaching
def test_bleaching_known_vectors():
    x = np.array([10, 12, 9, 11, 30, 8, 10, 10, 11, 9, 12, 10], np.uint16).reshape(12, 1, 1)
    assert correct_bleaching(x, 2).ravel().tolist() == [8, 9, 22, 7, 10, 10, 11, 10]
    assert correct_bleaching(x, 1).ravel().tolist() == [11] * 10
    assert correct_bleaching(x, 0) is x


def test_bleaching_against_direct_implementation():
    rng = np.random.default_rng(6)
    t = np.arange(700)
    data = rng.poisson(200 * np.exp(-t / 300)[:, None, None] * np.ones((1, 3, 4))).astype(
        np.uint16
    )
    got = correct_bleaching(data, 50)
    assert got.shape == (600, 3, 4) and got.dtype == np.uint16
    for y in range(3):
        for x in range(4):
            np.testing.assert_array_equal(got[:, y, x], ref_correct_bleaching(data[:, y, x], 50))
    # the trend is removed: first and second half have about the same mean now
    f = correct_bleaching(data, 50, output="float32", mean="exact")
    assert f.dtype == np.float32
    assert abs(f[:300].mean() - f[300:].mean()) < 0.05 * f.mean()
    assert abs(data[:300].mean() - data[300:].mean()) > 0.5 * data.mean()


def test_ipcf_with_bleach_filter_equals_manual_chain(sim):
    got = ipcf(sim, 3, 8, 8, bleach_filter=30, device="cpu")
    manual = ipcf(correct_bleaching(sim, 30), 3, 8, 8, device="cpu")
    np.testing.assert_array_equal(got, manual)


# ----------------------------------------------------------------------------- known answer
def test_channel_is_visible_in_pcf():
    """Along the channel the pCF at radius 4 peaks clearly; across its walls it is flat."""
    size, radius = 40, 4
    data = simulate_channel(4096, size, channel_width=6, density=0.1, diffusion=0.5, seed=3)
    res = ipcf(data, radius, 8, 16, device="cpu")
    from pcfij.cli.pcf import channel_summary

    s = channel_summary(res, radius, 6.0, size)
    assert s["channel_along"] > 5 * abs(s["channel_across"])
    # far from the channel diffusion is free: both directions alike
    assert 0.5 < s["outside_along"] / s["outside_across"] < 2.0


def test_simulation_is_seeded_and_bleaches():
    a = simulate_channel(64, 16, seed=1)
    b = simulate_channel(64, 16, seed=1)
    c = simulate_channel(64, 16, seed=2)
    assert a.dtype == np.uint16 and a.shape == (64, 16, 16)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    bleached = simulate_channel(2000, 16, bleach_halflife=500, background=0, seed=1)
    assert bleached[-200:].mean() < 0.3 * bleached[:200].mean()


# ----------------------------------------------------------------------------- GPU
@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="CuPy or a CUDA GPU is not available")
def test_gpu_matches_reference_and_cpu(sim):
    expected = ref_ipcf(sim, 3, 16, 16, pow2=True)
    gpu = ipcf(sim, 3, 16, 16, pow2=True, device="gpu")
    assert np.abs(gpu - expected).max() <= ATOL
    cpu = ipcf(sim, 3, 16, 16, pow2=True, device="cpu")
    assert np.abs(gpu - cpu).max() <= 1e-6
    mask = np.zeros(sim.shape[1:], bool)
    mask[4:15, 6:12] = True
    np.testing.assert_allclose(
        ipcf(sim, 2, 7, 12, mask=mask, device="gpu"),
        ipcf(sim, 2, 7, 12, mask=mask, device="cpu"), atol=1e-6,
    )


def test_gpu_request_without_gpu_is_refused_and_auto_falls_back_silently(sim, monkeypatch):
    # issue #14: device="gpu" without a GPU is an InputError naming the fix (it used to
    # warn and run on the CPU); "auto" runs on the CPU without a word
    monkeypatch.setenv("PCFIJ_NO_GPU", "1")
    from pcfij.kernels import device

    device.cupy_or_none.cache_clear()
    try:
        with pytest.raises(InputError, match="device='gpu'.*not available.*device='cpu'"):
            ipcf(sim[:64], 2, 8, 8, device="gpu")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = ipcf(sim[:64], 2, 8, 8, device="auto")
        assert got.params["device"] == "cpu"
        assert got.shape[-1] == len(logbins(32, 8))
        np.testing.assert_array_equal(got, ipcf(sim[:64], 2, 8, 8, device="cpu"))
    finally:
        device.cupy_or_none.cache_clear()
