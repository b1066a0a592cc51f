"""CCC method "unbiased": known-answer pairs (2D and anisotropic 3D, several distances and
PSF widths) within 5 % of the distance (or 0.25 px), where the plugin's Gaussian is off by
10-35 %; and the model against a brute-force ring/shell written here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pcfij.ccc import ccc
from pcfij.ccc.profile import RadialBinning
from pcfij.ccc.unbiased import _Cells
from pcfij.simulate.pairs import correlated_pairs

SCALE_3D = (0.1, 0.1, 0.3)


def _target(d: float, px: float) -> float:
    return max(0.05 * d, 0.25 * px)


@pytest.mark.parametrize(("d", "psf", "plugin_off"), [
    (3.0, 1.0, True), (4.0, 1.5, True), (6.0, 2.0, True), (8.0, 1.5, False)])
def test_known_distance_2d(d, psf, plugin_off):
    s = correlated_pairs((192, 192), distance=d, n_pairs=400, noise=0.5, psf_sigma=psf, seed=1)
    u = ccc(s.image1, s.image2, method="unbiased")
    assert u.fit_ok and u.method == "unbiased"
    assert abs(u.mean - d) <= _target(d, 1.0)
    lo, hi = u.distance_ci
    assert lo < u.mean < hi
    assert u.sigma == pytest.approx(math.sqrt(2) * psf, rel=0.3)  # PSF correlation width
    if plugin_off:  # the plugin's Gaussian reads short by 10 % or more here
        p = ccc(s.image1, s.image2)
        assert p.mean < 0.9 * d


@pytest.mark.parametrize(("d", "psf"), [(0.5, 0.15), (0.8, 0.15), (0.5, (0.12, 0.12, 0.3))])
def test_known_distance_3d_anisotropic(d, psf):
    s = correlated_pairs((24, 96, 96), distance=d, n_pairs=400, scale=SCALE_3D, psf_sigma=psf,
                         noise=0.3, seed=1)
    u = ccc(s.image1, s.image2, scale=SCALE_3D, method="unbiased")
    assert u.fit_ok
    assert abs(u.mean - d) <= _target(d, SCALE_3D[0])
    p = ccc(s.image1, s.image2, scale=SCALE_3D)
    assert p.mean < 0.9 * d
    if np.ndim(psf):  # an axially elongated PSF gives a wider axial blur
        assert u.sigma_z > 1.5 * u.sigma


def test_unbiased_time_series_and_mask():
    frames = [correlated_pairs((96, 96), distance=dd, n_pairs=150, noise=0.5, cells=1,
                               cell_radius=40, seed=i) for i, dd in enumerate((4.0, 6.0))]
    a = np.stack([f.image1 for f in frames])
    b = np.stack([f.image2 for f in frames])
    u = ccc(a, b, frames[0].mask, time_axis=0, method="unbiased")
    assert u.mean.shape == (2,) and u.distance_ci.shape == (2, 2)
    for t, dd in enumerate((4.0, 6.0)):
        assert abs(u.mean[t] - dd) <= 0.1 * dd


def _brute_ring(offsets, d, sigmas, n_dir=4000):
    """Mean over many directions of an axis-aligned Gaussian centred on the ring/shell."""
    nd = offsets.shape[1]
    if nd == 2:
        ang = np.linspace(0, 2 * np.pi, n_dir, endpoint=False)
        dirs = np.stack([np.sin(ang), np.cos(ang)], 1)
    else:  # Fibonacci sphere: near-uniform directions
        k = np.arange(n_dir * 2) + 0.5
        z = 1 - 2 * k / (n_dir * 2)
        phi = np.pi * (1 + 5**0.5) * k
        w = np.sqrt(1 - z * z)
        dirs = np.stack([z, w * np.sin(phi), w * np.cos(phi)], 1)  # (z, y, x)
    sig = np.asarray(sigmas)
    out = np.zeros(len(offsets))
    for u in dirs:
        out += np.exp(-0.5 * np.sum(((offsets - d * u) / sig) ** 2, axis=1))
    return out / len(dirs)


@pytest.mark.parametrize(("shape", "spacing", "d", "sig"), [
    ((40, 40), (1.0, 1.0), 5.0, (2.0, 2.0)),
    ((12, 30, 30), (0.3, 0.1, 0.1), 0.6, (0.4, 0.2, 0.2)),
])
def test_model_matches_brute_force_ring(shape, spacing, d, sig):
    bins = RadialBinning(shape, spacing, centre="zero")
    cells = _Cells(bins, 1.5)
    nodes = np.polynomial.legendre.leggauss(96)
    if len(shape) == 2:
        got = cells.mean_model(d, sig[0], sig[0], None)
        # the ring model is I0e-scaled: compare shapes (ratio constant)
    else:
        got = cells.mean_model(d, sig[1], sig[0], nodes)
    # brute force per profile group: average over the group's pixels (full grid)
    grids = np.meshgrid(*[(np.arange(n) - n // 2) * s for n, s in zip(shape, spacing)],
                        indexing="ij")
    offsets = np.stack([g.ravel() for g in grids], 1)
    sq = np.zeros(len(offsets))
    for i in reversed(range(len(shape))):  # x, y, z order: the same doubles as the profile
        sq = sq + offsets[:, i] ** 2
    dist = np.sqrt(sq)
    want_keys = bins.distance[cells.groups]
    keep = np.isin(dist, want_keys)
    vals = _brute_ring(offsets[keep], d, sig)
    keys = dist[keep]
    want = np.array([vals[keys == k].mean() for k in want_keys])
    ratio = got / want
    np.testing.assert_allclose(ratio, ratio[np.argmax(want)], rtol=2e-3)
