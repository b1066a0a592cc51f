"""CCC engine: against straightforward implementations written here and known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize
import scipy.signal

from pcfij.ccc import ccc, cross_correlation_profile, fit_gaussian
from pcfij.ccc.correlation import Correlator, array_source
from pcfij.ccc.timeseries import best_frame
from pcfij.errors import InputError, InputTypeError
from pcfij.kernels import gpu_available
from pcfij.kernels.ccc_cpu import CpuBackend
from pcfij.kernels.ccc_gpu import group_index
from pcfij.simulate.pairs import correlated_pairs


# ------------------------------------------------------------------ straightforward reference
def ref_distance(shape, spacing, centre="plugin"):
    """Calibrated distance of every correlation pixel from the plugin's centre (n - 1) / 2
    (or the zero shift n // 2), squares summed in x, y, z order."""
    idx = np.indices(shape).astype(float)
    c = [((n - 1) / 2 if centre == "plugin" else n // 2) for n in shape]
    parts = [((idx[i] - c[i]) * s) ** 2 for i, s in enumerate(spacing)]
    total = np.zeros(shape)
    for p in parts[::-1]:
        total = total + p
    return np.sqrt(total)


def ref_profile(image, spacing, centre="plugin"):
    """Mean per exact distance (every distinct double is a point)."""
    d = ref_distance(image.shape, spacing, centre)
    keys, inv = np.unique(d, return_inverse=True)
    sums = np.bincount(inv.ravel(), weights=image.ravel().astype(np.float64))
    return keys, sums / np.bincount(inv.ravel())


def ref_correlations(a, b, mask, spacing):
    """Original and subtracted correlation images by scipy.signal (direct, float64)."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    m = np.ones(a.shape, bool) if mask is None else mask != 0
    a0, b0 = np.where(m, a, 0), np.where(m, b, 0)
    volume = m.sum() * math.prod(spacing)
    orig = scipy.signal.correlate(a0, b0, mode="same", method="direct") / volume
    sub = scipy.signal.correlate(np.where(m, a - a[m].mean(), 0), b0, mode="same",
                                 method="direct") / volume
    return orig, sub, a0, b0


def ref_fit(d, v):
    """Mirror beyond twice the peak, then scipy curve_fit of a Gaussian."""
    i = int(np.argmax(v))
    peak = d[i] if (v[i] > 0 and i > 0) else 0.0
    far = d > 2 * peak
    x = np.concatenate([d, 2 * peak - d[far]])
    y = np.concatenate([v, v[far]])
    g = lambda x, h, c, s: h * np.exp(-((x - c) ** 2) / (2 * s * s))  # noqa: E731
    p, _ = scipy.optimize.curve_fit(g, x, y, p0=(v.max(), d[i], max(d[-1] / 8, 2.0)))
    return p[0], p[1], abs(p[2])


def shifted_sum(img, weights, sign):
    """sum_s weights[s] * img[y + sign * s], zero outside (explicit loops over shifts)."""
    out = np.zeros(img.shape)
    centre = np.array([n // 2 for n in img.shape])
    for s_idx in np.ndindex(weights.shape):
        w = weights[s_idx]
        if w == 0:
            continue
        s = (np.array(s_idx) - centre) * sign
        src = tuple(slice(max(0, k), n + min(0, k)) for k, n in zip(s, img.shape))
        dst = tuple(slice(max(0, -k), n - max(0, k)) for k, n in zip(s, img.shape))
        out[dst] += w * img[src]
    return out


# ------------------------------------------------------------------ correlation engine
@pytest.mark.parametrize("shape", [(16, 21), (17, 12), (6, 9, 10), (7, 8, 5)])
def test_linear_correlation_matches_scipy(shape):
    rng = np.random.default_rng(1)
    a = rng.normal(size=shape).astype(np.float32)
    b = rng.normal(size=shape).astype(np.float32)
    be = CpuBackend()
    corr = Correlator(shape, be, block_bytes=512)  # many small blocks
    got = corr.correlate(array_source(a, be), array_source(b, be))
    want = scipy.signal.correlate(a.astype(float), b.astype(float), mode="same", method="direct")
    np.testing.assert_allclose(got, want, atol=2e-5 * np.abs(want).max())


def test_correlation_direction_matches_the_plugin_doc():
    """A bright spot left of centre = image 2 must be shifted left to match image 1."""
    a = np.zeros((21, 21), np.float32)
    a[10, 10] = 1
    b = np.roll(a, 3, axis=1)  # image 2 = image 1 moved 3 pixels right
    r = cross_correlation_profile(a, b)
    peak = np.unravel_index(np.argmax(r.original_image), a.shape)
    assert peak == (10, 10 - 3)


def test_profiles_and_fit_match_reference_2d():
    s = correlated_pairs((40, 46), distance=5, n_pairs=14, noise=0.5, cells=1, cell_radius=17,
                         seed=3)
    scale = (0.5, 0.7)
    spacing = scale[::-1]
    r = ccc(s.image1, s.image2, s.mask, scale=scale, intermediates=True)
    orig, sub, _, _ = ref_correlations(s.image1, s.image2, s.mask, spacing)
    np.testing.assert_allclose(r.original_image, orig, atol=1e-4 * np.abs(orig).max())
    np.testing.assert_allclose(r.subtracted_image, sub, atol=1e-4 * np.abs(sub).max())
    d, po = ref_profile(orig, spacing)
    _, ps = ref_profile(sub, spacing)
    np.testing.assert_allclose(r.distance, d, atol=1e-8)
    np.testing.assert_allclose(r.original, po, atol=1e-4 * np.abs(po).max())
    np.testing.assert_allclose(r.subtracted, ps, atol=1e-4 * np.abs(ps).max())
    assert r.fit_ok
    h, c, sg = ref_fit(d, ps)
    assert r.mean == pytest.approx(c, rel=1e-3, abs=1e-6)
    assert r.sigma == pytest.approx(sg, rel=1e-3)
    assert r.height == pytest.approx(h, rel=1e-3)
    sel = (d > c - 3 * sg) & (d < c + 3 * sg)
    assert r.confidence == pytest.approx(ps[sel].sum() / po[sel].sum(), rel=1e-3)
    sel = (d >= c - 3 * sg) & (d < c + 3 * sg)
    f = h * np.exp(-((d[sel] - c) ** 2) / (2 * sg * sg))
    r2 = 1 - np.sum((ps[sel] - f) ** 2) / np.sum((ps[sel] - ps[sel].mean()) ** 2)
    assert r.r_squared == pytest.approx(r2, rel=1e-3, abs=1e-4)
    np.testing.assert_allclose(r.fit, f_full := h * np.exp(-((d - c) ** 2) / (2 * sg * sg)),
                               rtol=2e-3, atol=1e-3 * f_full.max())


def test_profile_3d_anisotropic_matches_reference():
    rng = np.random.default_rng(4)
    a = rng.random((6, 11, 12)).astype(np.float32)
    b = rng.random((6, 11, 12)).astype(np.float32)
    scale = (0.1, 0.1, 0.3)  # x, y, z
    r = cross_correlation_profile(a, b, scale=scale)
    orig, _, _, _ = ref_correlations(a, b, None, scale[::-1])
    d, po = ref_profile(orig, scale[::-1])
    np.testing.assert_allclose(r.distance, d, atol=1e-8)
    np.testing.assert_allclose(r.original, po, rtol=1e-4)
    assert np.all(np.diff(r.distance) > 0)  # one point per distinct double


def test_unbiased_contribution_images_are_zero_extended_from_the_zero_shift():
    s = correlated_pairs((18, 20), distance=3, n_pairs=6, psf_sigma=1.2, seed=5)
    mask = np.ones(s.image1.shape, bool)
    mask[:2] = False
    r = ccc(s.image1, s.image2, mask, contributions=True, intermediates=True, method="unbiased")
    assert r.fit_ok
    _, sub, a0, b0 = ref_correlations(s.image1, s.image2, mask, (1.0, 1.0))
    g = r.gaussian_modified_image
    # G = S x a weight that depends on the distance from the zero shift only, at most 1
    d = ref_distance(sub.shape, (1.0, 1.0), centre="zero")
    big = np.abs(sub) > 1e-3 * np.abs(sub).max()
    w = np.where(big, g / np.where(big, sub, 1), np.nan)
    for key in np.unique(d[big]):
        ws = w[big & (d == key)]
        np.testing.assert_allclose(ws, ws[0], rtol=1e-3, atol=1e-5)
    assert np.nanmax(w) <= 1 + 1e-5
    c1 = a0 * shifted_sum(b0, g, -1)  # (b conv G)[y] = sum_s G[s] b[y - s]
    c2 = b0 * shifted_sum(a0, g, +1)  # (a corr G)[x] = sum_s a[x + s] G[s]
    np.testing.assert_allclose(r.contribution1, c1, atol=1e-4 * np.abs(c1).max())
    np.testing.assert_allclose(r.contribution2, c2, atol=1e-4 * np.abs(c2).max())


@pytest.mark.parametrize("shape", [(23, 30), (9, 14, 11)])
def test_profile_slab_by_slab_equals_whole_image(shape):
    from pcfij.ccc.profile import RadialBinning

    rng = np.random.default_rng(11)
    img = rng.normal(size=shape).astype(np.float32)
    spacing = (0.3, 0.1, 0.1)[-len(shape):]
    bins = RadialBinning(shape, spacing)
    be = CpuBackend()
    sums = bins.new_sums()
    for start in range(0, shape[0], 4):
        sl = slice(start, min(start + 4, shape[0]))
        bins.add_slab(sums, sl, img[sl], be)
    np.testing.assert_array_equal(bins.mean(sums), bins.profile(img, be))
    d, ref = ref_profile(img, spacing)
    np.testing.assert_allclose(bins.mean(sums), ref, rtol=1e-9, atol=1e-12)


def test_profiles_without_images_match_profiles_with_images(monkeypatch):
    """The lean path (profiles taken slab by slab during the inverse FFT, no correlation
    image) gives the same profiles as the path that keeps the images, with many slabs."""
    from pcfij.ccc import analysis

    class SmallBlocks(Correlator):
        def __init__(self, shape, backend):
            super().__init__(shape, backend, block_bytes=1024)

    monkeypatch.setattr(analysis, "Correlator", SmallBlocks)
    s = correlated_pairs((40, 46), distance=5, n_pairs=14, noise=0.5, cells=1, cell_radius=17,
                         seed=3)
    lean = ccc(s.image1, s.image2, s.mask)
    full = ccc(s.image1, s.image2, s.mask, intermediates=True)
    np.testing.assert_array_equal(lean.original, full.original)
    np.testing.assert_array_equal(lean.subtracted, full.subtracted)
    assert lean.mean == full.mean and lean.confidence == full.confidence
    d, po = ref_profile(full.original_image, (1.0, 1.0))
    np.testing.assert_allclose(lean.original, po, rtol=1e-6, atol=1e-9 * np.abs(po).max())


def test_no_confidence_variant_matches_full_ccc():
    s = correlated_pairs((48, 48), distance=6, n_pairs=20, noise=0.5, seed=6)
    full = ccc(s.image1, s.image2, contributions=True)
    lean = ccc(s.image1, s.image2, confidence=False, contributions=True)
    assert lean.confidence is None and lean.original is None
    assert lean.mean == pytest.approx(full.mean, rel=1e-6)
    assert lean.sigma == pytest.approx(full.sigma, rel=1e-6)
    np.testing.assert_allclose(lean.subtracted, full.subtracted, rtol=1e-6)
    np.testing.assert_allclose(lean.contribution1, full.contribution1, rtol=1e-5, atol=1e-6)


def test_inputs_are_not_modified():
    s = correlated_pairs((32, 32), distance=4, n_pairs=10, seed=7)
    a, b, m = s.image1.copy(), s.image2.copy(), np.ones((32, 32), np.uint8)
    ccc(a, b, m, contributions=True, intermediates=True)
    np.testing.assert_array_equal(a, s.image1)
    np.testing.assert_array_equal(b, s.image2)


# ------------------------------------------------------------------ known answers
@pytest.mark.parametrize("distance", [0.0, 8.0])
def test_known_distance_2d(distance):
    s = correlated_pairs((96, 96), distance=distance, n_pairs=50, n_unpaired=(15, 15),
                         noise=1.0, seed=1)
    r = ccc(s.image1, s.image2)
    assert r.fit_ok
    assert abs(r.mean - distance) <= max(1.0, 0.1 * distance)
    # the correlation is a PSF (sigma 1.5 px) correlated with itself: sigma ~ 1.5 * sqrt(2)
    assert 1.5 < r.sigma < 3.0
    assert r.confidence > 0.1


def test_known_distance_3d_anisotropic():
    scale = (0.1, 0.1, 0.3)
    s = correlated_pairs((20, 72, 72), distance=1.0, n_pairs=100, scale=scale, psf_sigma=0.15,
                         noise=0.5, seed=0)
    r = ccc(s.image1, s.image2, scale=scale)
    assert r.fit_ok
    assert abs(r.mean - 1.0) <= max(0.1, 0.1 * 1.0)
    assert r.confidence > 0.1


@pytest.mark.parametrize("seed", [0, 1, 3, 4])
def test_independent_images_have_low_confidence(seed):
    s1 = correlated_pairs((128, 128), n_pairs=110, noise=1.0, seed=10 + seed)
    s2 = correlated_pairs((128, 128), n_pairs=110, noise=1.0, seed=20 + seed)
    r = ccc(s1.image1, s2.image2)
    if r.fit_ok:
        assert r.confidence < 0.1
    else:
        assert "could not fit" in r.message


def test_mask_removes_cell_to_cell_correlation():
    """Without a mask cells correlate with themselves: mean ~ 0 and a broad sigma (doc);
    the mask's mean subtraction removes that and finds the pair distance."""
    s = correlated_pairs((128, 128), distance=6, n_pairs=120, cells=9, cell_radius=14,
                         cell_signal=(30, 30), noise=1.0, seed=0)
    masked = ccc(s.image1, s.image2, s.mask)
    whole = ccc(s.image1, s.image2)
    assert masked.fit_ok and whole.fit_ok
    assert abs(whole.mean) < 1.0
    assert whole.sigma > 1.5 * masked.sigma
    assert abs(masked.mean - 6) <= 0.2 * 6


# ------------------------------------------------------------------ time series
def test_time_series_frames_heatmap_and_best_frame():
    frames = [correlated_pairs((64, 64), distance=d, n_pairs=30, noise=0.5, seed=i)
              for i, d in enumerate((4.0, 8.0, 12.0))]
    a = np.stack([f.image1 for f in frames], axis=-1)  # time last
    b = np.stack([f.image2 for f in frames], axis=-1)
    r = ccc(a, b, time_axis=-1, contributions=True, intermediates=True)
    assert r.n_frames == 3 and r.mean.shape == (3,)
    for t, f in enumerate(frames):
        single = ccc(f.image1, f.image2)
        assert r.mean[t] == pytest.approx(single.mean, rel=1e-6)
        assert r.confidence[t] == pytest.approx(single.confidence, rel=1e-6)
        np.testing.assert_allclose(r.subtracted[t], single.subtracted, rtol=1e-6)
    assert r.best_frame == int(np.nanargmax(r.confidence))
    hm = r.heatmap
    assert hm.shape == (3, r.distance.size, 3)
    np.testing.assert_allclose(hm[1], r.subtracted.T.astype(np.float32))
    np.testing.assert_allclose(hm[2], r.original.T.astype(np.float32))
    assert r.contribution1.shape == a.shape and r.original_image.shape == a.shape
    # a time series of masks equals one mask per frame
    m = np.ones(a.shape, bool)
    m[:4] = False
    r2 = ccc(a, b, m, time_axis=2)
    r3 = ccc(a[..., 1], b[..., 1], m[..., 1])
    assert r2.mean[1] == pytest.approx(r3.mean, rel=1e-6)
    r4 = ccc(a, b, m[..., 0], time_axis=2)
    assert r4.mean[1] == pytest.approx(r3.mean, rel=1e-6)


def test_best_frame_rules():
    assert best_frame([0.1, np.nan, 0.3, 0.2], [1, 2, 3, 4]) == 2
    assert best_frame(None, [3.0, np.nan, 1.5, 2.0]) == 2  # no confidence: smallest sigma
    assert best_frame([np.nan, np.nan], [np.nan, np.nan]) == 0


def test_result_tables_significant_digits():
    s = correlated_pairs((48, 48), distance=6, n_pairs=20, seed=2)
    from pcfij.ccc.present import ccc_outputs

    r = ccc(s.image1, s.image2, significant_digits=3)
    res = next(t for t in ccc_outputs(r, title1="a", title2="b", values={}).tables
               if t.title == "CC Results")
    table = dict(zip(res.labels, res.columns["Value"]))
    assert table["Mean (pixel)"] == float(f"{r.mean:.3g}")
    assert table["Confidence"] == float(f"{r.confidence:.3g}")
    assert r.mean != table["Mean (pixel)"] or len(repr(r.mean)) <= 5


# ------------------------------------------------------------------ fit behaviour
def test_fit_failure_is_flagged_not_raised():
    a = correlated_pairs((32, 32), n_pairs=10, seed=1).image1
    r = ccc(a, np.zeros_like(a), contributions=True)
    assert not r.fit_ok
    assert math.isnan(r.mean) and math.isnan(r.confidence)
    assert "could not fit" in r.message
    assert np.all(r.contribution1 == 0)
    assert np.all(np.isnan(r.fit))


def test_fit_handles_noise_spike_by_smoothing():
    d = np.sqrt(np.arange(0, 400, dtype=float))  # distances 0, 1, 1.41, ...
    v = 10 * np.exp(-((d - 6) ** 2) / (2 * 2.0**2))
    v[300] = 60.0  # one spike, higher than the peak, where distances are dense
    fit = fit_gaussian(d, v, 1.0)
    assert fit.ok and fit.smoothing > 0
    assert fit.mean == pytest.approx(6.0, abs=0.05) and fit.sigma == pytest.approx(2.0, abs=0.05)


def test_fit_mean_near_zero_uses_mirroring():
    d = np.sqrt(np.arange(0, 200, dtype=float))
    v = 5 * np.exp(-(d**2) / (2 * 3.0**2))
    fit = fit_gaussian(d, v, 1.0)
    assert fit.ok
    assert abs(fit.mean) < 1e-6 and fit.sigma == pytest.approx(3.0, rel=1e-4)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("kwargs", "exc", "words"),
    [
        (dict(image2=np.zeros((9, 8))), InputError, "different shapes"),
        (dict(mask=np.ones((8, 9))), InputError, "mask shape"),
        (dict(mask=np.zeros((8, 8))), InputError, "mask is empty"),
        (dict(image1=np.zeros((2, 3, 8, 8)), image2=np.zeros((2, 3, 8, 8))), InputError,
         "split the channels"),
        (dict(image1=np.zeros((0, 8)), image2=np.zeros((0, 8))), InputError, "empty"),
        (dict(image1=np.zeros(8), image2=np.zeros(8)), InputError, "2D or 3D"),
        (dict(scale=(1, -1)), InputError, "positive"),
        (dict(scale=(1, 1, 1)), InputError, "3 values"),
        (dict(scale=(0.1, float("nan"))), InputError, "finite"),
        (dict(scale="big"), InputError, "scale"),
        (dict(image1=np.zeros((8, 8), complex)), InputTypeError, "complex"),
        (dict(image1="a.tif"), InputTypeError, "not a string"),
        (dict(time_axis=5), InputError, "time_axis"),
        (dict(significant_digits=0), InputError, "significant_digits"),
        (dict(device="tpu"), InputError, "device"),
    ],
)
def test_bad_input_messages(kwargs, exc, words):
    args = dict(image1=np.ones((8, 8), np.float32), image2=np.ones((8, 8), np.float32))
    args.update(kwargs)
    with pytest.raises(exc, match=words):
        ccc(args.pop("image1"), args.pop("image2"), **args)


def test_nan_inside_mask_is_refused_outside_ignored():
    a = correlated_pairs((24, 24), n_pairs=6, seed=1).image1
    b = a.copy()
    a[3, 4] = np.nan
    with pytest.raises(InputError, match="NaN or infinite"):
        ccc(a, b)
    b[5, 5] = np.inf
    m = np.ones(a.shape, bool)
    m[3, 4] = False
    with pytest.raises(InputError, match="image2 has NaN or infinite"):
        ccc(a, b, m)
    m[5, 5] = False
    assert np.isfinite(ccc(a, b, m).subtracted).all()


# ------------------------------------------------------------------ GPU code path
class _NumpyAsCupy:
    """numpy dressed as cupy, to run the GPU back-end's host logic without a GPU."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def asnumpy(a):
        return np.array(a)  # cupy.asnumpy copies


def test_gpu_backend_logic_with_numpy(monkeypatch):
    import scipy.fft

    from pcfij.ccc import analysis
    from pcfij.kernels.ccc_gpu import GpuBackend

    def fake_backend(device):
        be = object.__new__(GpuBackend)
        be.xp = _NumpyAsCupy()
        be.fft = scipy.fft
        be._groups = {}
        return be

    s = correlated_pairs((40, 44), distance=5, n_pairs=15, noise=0.5, seed=8)
    cpu = ccc(s.image1, s.image2, contributions=True, intermediates=True)
    monkeypatch.setattr(analysis, "_backend", fake_backend)
    gpu = ccc(s.image1, s.image2, contributions=True, intermediates=True)
    assert gpu.mean == pytest.approx(cpu.mean, rel=1e-5)
    np.testing.assert_allclose(gpu.subtracted, cpu.subtracted, rtol=1e-5)
    np.testing.assert_allclose(gpu.subtracted_image, cpu.subtracted_image, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gpu.contribution2, cpu.contribution2, rtol=1e-4, atol=1e-5)


def test_group_index_matches_distances():
    from pcfij.ccc.profile import RadialBinning

    for centre in ("plugin", "zero"):
        bins = RadialBinning((7, 10, 9), (0.3, 0.1, 0.1), centre=centre)
        g = group_index(np, bins.fold, bins.lut)
        np.testing.assert_array_equal(
            bins.distance[g], ref_distance((7, 10, 9), (0.3, 0.1, 0.1), centre))


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="needs CuPy and an NVIDIA GPU")
def test_gpu_matches_cpu():
    s = correlated_pairs((12, 40, 44), distance=0.6, n_pairs=30, scale=(0.1, 0.1, 0.3),
                         psf_sigma=0.15, seed=9)
    kw = dict(scale=(0.1, 0.1, 0.3), contributions=True, intermediates=True)
    cpu = ccc(s.image1, s.image2, device="cpu", **kw)
    gpu = ccc(s.image1, s.image2, device="gpu", **kw)
    assert gpu.device == "gpu"
    assert gpu.mean == pytest.approx(cpu.mean, rel=1e-4)
    assert gpu.confidence == pytest.approx(cpu.confidence, rel=1e-4)
    np.testing.assert_allclose(gpu.subtracted, cpu.subtracted, rtol=1e-4,
                               atol=1e-5 * np.abs(cpu.subtracted).max())
    np.testing.assert_allclose(gpu.contribution1, cpu.contribution1, rtol=1e-3,
                               atol=1e-4 * np.abs(cpu.contribution1).max())


def test_device_rule_is_the_kernels_one(monkeypatch):
    """device="gpu" without a GPU is refused (as in ipcf); "auto" runs on the CPU silently."""
    import warnings

    from pcfij.kernels import backend

    monkeypatch.setenv("PCFIJ_NO_GPU", "1")
    backend.cupy_or_none.cache_clear()
    try:
        s = correlated_pairs((32, 32), distance=4, n_pairs=10, noise=0.5, seed=3)
        with pytest.raises(InputError, match="device='gpu'"):
            ccc(s.image1, s.image2, device="gpu")
        with pytest.raises(InputError, match="device must be one of"):
            ccc(s.image1, s.image2, device="tpu")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            res = ccc(s.image1, s.image2, device="auto")
        assert res.device == "cpu"
        assert ccc(s.image1, s.image2, device=False).device == "cpu"
    finally:
        backend.cupy_or_none.cache_clear()
