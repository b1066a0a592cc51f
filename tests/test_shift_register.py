"""register_stack / shift_stack (drift correction) and the shift-map plot."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from pcfij.shift import register_stack, shift_stack
from pcfij.simulate import shifts as sim


def rms(a, b):
    return float(np.sqrt(np.mean(np.sum((np.asarray(a) - np.asarray(b)) ** 2, axis=1))))


@pytest.mark.parametrize("method", ["correlation", "phase"])
def test_register_stack_recovers_random_walk(method):
    drift = sim.random_walk(40, step=0.4, seed=1)
    stack = sim.drift_stack(sim.speckle((96, 96), sigma=2.0, seed=2), drift)
    stack += np.random.default_rng(3).normal(0, 0.02, stack.shape)
    res = register_stack(stack, method=method)
    assert res.drift.shape == (40, 2)
    assert rms(res.drift, drift - drift[0]) <= 0.1
    # corrected frames line up with the first frame
    r0, r1, c0, c1 = res.valid
    assert 0 < r0 < r1 < 96 and 0 < c0 < c1 < 96
    ref = res.corrected[0, r0:r1, c0:c1]
    for t in (10, 25, 39):
        assert np.abs(res.corrected[t, r0:r1, c0:c1] - ref).mean() < 0.03


def test_register_stack_references_and_blocks():
    drift = sim.random_walk(30, step=0.3, seed=4)
    stack = sim.drift_stack(sim.speckle((80, 80), sigma=2.0, seed=5), drift)
    res = register_stack(stack, reference=7, correct=False)
    assert res.corrected is None
    assert rms(res.drift, drift - drift[7]) <= 0.1
    res = register_stack(stack, reference="mean", correct=False)
    d = res.drift - res.drift.mean(axis=0)  # the mean image sits at the mean drift
    assert rms(d, drift - drift.mean(axis=0)) <= 0.1
    # noisy frames: register averages of 5 frames; a slow linear drift is recovered
    lin = np.stack([np.linspace(0, 3, 60), np.linspace(0, -2, 60)], axis=1)
    noisy = sim.drift_stack(sim.speckle((80, 80), sigma=2.0, seed=6), lin)
    noisy += np.random.default_rng(7).normal(0, 0.3, noisy.shape)
    single = register_stack(noisy, correct=False)
    blocked = register_stack(noisy, block=5, correct=False)
    inner = np.s_[5:-5]  # group centres are interpolated; the ends are extrapolated flat
    assert rms(blocked.drift[inner], (lin - lin[2])[inner]) < rms(single.drift, lin)
    assert rms(blocked.drift[inner], (lin - lin[2])[inner]) <= 0.1


def test_register_time_series_of_volumes():
    drift = sim.random_walk(8, step=0.5, seed=8)
    vol = sim.speckle((3, 64, 64), sigma=2.0, seed=9)
    stack = np.stack([sim.shift_image(vol, dx, dy) for dx, dy in drift])  # (T, Z, H, W)
    res = register_stack(stack)
    assert res.corrected.shape == stack.shape
    assert rms(res.drift, drift - drift[0]) <= 0.1


def test_shift_stack_has_no_wrap_around():
    img = np.zeros((1, 20, 20))
    img[0, :, -3:] = 5.0  # bright right edge
    out = shift_stack(img, np.array([[4.0, 0.0]]), order=1)
    assert np.all(out[0, :, :4] == 0)  # nothing came round from the right edge
    out = shift_stack(img, np.array([[-2.5, 0.0]]), mode="nearest", order=1)
    assert np.all(out[0, :, -1] == 5.0)
    # sub-pixel shift equals scipy's spline shift
    rng = np.random.default_rng(10)
    st = rng.random((2, 16, 16))
    got = shift_stack(st, np.array([[0.3, -1.2], [0.0, 0.0]]))
    want = ndi.shift(st[0], (-1.2, 0.3), order=3, mode="constant")
    np.testing.assert_allclose(got[0], want, atol=1e-5)
    np.testing.assert_allclose(got[1], st[1], atol=1e-6)


def test_register_bad_arguments():
    st = np.zeros((3, 30, 30))
    for kw in ({"reference": "last"}, {"reference": 5}, {"method": "fft"}, {"block": 0},
               {"mode": "wrap"}, {"margin": 14}):
        with pytest.raises(ValueError):
            register_stack(st, **kw)
    with pytest.raises(ValueError):
        register_stack(np.zeros((30, 30)))
    with pytest.raises(ValueError):
        shift_stack(st, np.zeros((2, 2)))


def test_quiver_plot():
    from matplotlib.figure import Figure

    from pcfij.plot.shift import plot_shift_map

    fx, fy = sim.smooth_field((64, 64), amplitude=1.0, period=40, seed=1)
    xs = np.zeros((64, 64), np.float32)
    ys = np.zeros((64, 64), np.float32)
    xs[8:-8, 8:-8] = fx[8:-8, 8:-8]
    ys[8:-8, 8:-8] = fy[8:-8, 8:-8]
    fig = plot_shift_map(xs, ys, step=8)
    assert isinstance(fig, Figure)
    q = fig.axes[0].collections[0]
    assert len(q.U) == len(range(12, 56, 8)) ** 2  # arrows only inside the valid region
    with pytest.raises(ValueError):
        plot_shift_map(xs, ys[:10])


def test_pcf_of_drift_corrected_data_matches_undrifted():
    """Drift ruins pCF; after register_stack the pCF is as close to the undrifted one as
    moving the data by a sub-pixel amount and back (the interpolation floor)."""
    from pcfij.pcf import ipcf
    from pcfij.simulate import simulate_channel

    nt, size, crop = 2048, 40, 5
    data = simulate_channel(ntimes=nt, size=size, density=0.08, diffusion=0.5,
                            brightness=40, background=2, psf_sigma=1.0, seed=3)
    # immobile structure for the registration to lock on (cells have some)
    still = data.astype(np.float64) + 40 * sim.speckle((size, size), sigma=2.0, seed=4)
    knots = sim.random_walk(9, step=1.0, seed=5)  # slow, smooth stage drift
    drift = np.stack([np.interp(np.arange(nt), np.linspace(0, nt - 1, 9), knots[:, i])
                      for i in range(2)], axis=1)
    drifted = sim.drift_stack(still, drift, order=1)
    res = register_stack(drifted, block=32, margin=5, order=1)
    assert rms(res.drift, drift) < 0.2

    def pcf(stack):
        inner = np.asarray(stack[:, crop:-crop, crop:-crop], dtype=np.float32)
        return ipcf(inner, radius=6, npoints=32, nbins=32, device="cpu")

    const = np.full((nt, 2), 0.5)
    floor_data = sim.drift_stack(sim.drift_stack(still, const, order=1), -const, order=1)
    want = pcf(still)

    def err(stack):
        return float(np.sqrt(np.nanmean((pcf(stack) - want) ** 2)))

    e_corr, e_drift, e_floor = err(res.corrected), err(drifted), err(floor_data)
    assert e_corr < 0.1 * e_drift, (e_corr, e_drift)
    assert e_corr < 1.5 * e_floor, (e_corr, e_floor)
