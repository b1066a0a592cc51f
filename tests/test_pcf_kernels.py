"""Host-side logic of the fast ipCF algorithm, and the GPU code path run with NumPy."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from pcfij.kernels.backend import GpuBackend
from pcfij.kernels.pcf_plan import bin_weights, offset_classes, pair_rows
from pcfij.pcf import circle, ipcf, logbins
from tests.pcf_reference import ref_ipcf

ipcf_module = importlib.import_module("pcfij.pcf.ipcf")


@pytest.mark.parametrize("ntimes", [64, 65, 1000, 1024])
def test_bin_weights_give_bin_averages_of_both_directions(ntimes):
    rng = np.random.default_rng(ntimes)
    a = rng.normal(size=ntimes)
    b = rng.normal(size=ntimes)
    x = np.fft.rfft(b) * np.conj(np.fft.rfft(a))
    full = np.fft.irfft(x, ntimes)  # sum_n b[n + k] a[n]
    reverse = np.roll(full[::-1], 1)  # k -> -k
    bins = logbins(ntimes // 2, 12)
    edges = np.concatenate([[0], bins])
    want_f = [full[s:e].mean() for s, e in zip(edges[:-1], edges[1:])]
    want_r = [reverse[s:e].mean() for s, e in zip(edges[:-1], edges[1:])]
    wr, wi = bin_weights(ntimes, bins, dtype=np.float64)
    np.testing.assert_allclose(x.real @ wr - x.imag @ wi, want_f, atol=1e-9)
    np.testing.assert_allclose(x.real @ wr + x.imag @ wi, want_r, atol=1e-9)


def test_offset_classes_pair_mirrors_and_duplicates():
    classes = offset_classes(circle(6, 32))
    assert len(classes) == 16
    assert all(len(c.forward) == 1 and len(c.reverse) == 1 for c in classes)
    odd = offset_classes(circle(3, 7))
    assert all(not c.reverse for c in odd) and len(odd) == 7
    dup = offset_classes(circle(1, 32))  # 32 points on 8 pixels
    assert sum(len(c.forward) + len(c.reverse) for c in dup) == 32
    assert len({(c.du, c.dv) for c in dup}) == len(dup) <= 4


def test_pair_rows_cover_every_output_once():
    h, w, r = 11, 13, 2
    cc = circle(r, 8)
    seen = np.zeros(((h - 2 * r) * (w - 2 * r), 8), int)
    for cls in offset_classes(cc):
        centre, neighbour, out_fwd, out_rev = pair_rows(h, w, r, cls)
        assert ((neighbour - centre) == cls.dv * w + cls.du).all()
        for i in cls.forward:
            np.add.at(seen[:, i], out_fwd[out_fwd >= 0], 1)
        for j in cls.reverse:
            np.add.at(seen[:, j], out_rev[out_rev >= 0], 1)
    assert (seen == 1).all()


def test_gpu_code_path_with_numpy_matches_reference(monkeypatch):
    """The CuPy path's array code, run with NumPy, reproduces the reference."""
    rng = np.random.default_rng(9)
    data = rng.poisson(25, (300, 14, 15)).astype(np.uint16)
    monkeypatch.setattr(ipcf_module, "get_backend", lambda device: GpuBackend(xp=np))
    mask = np.ones(data.shape[1:], bool)
    mask[:, :5] = False
    for radius, npoints in ((2, 8), (3, 7)):
        got = ipcf(data, radius, npoints, 10, pow2=True, device="gpu")
        assert got.params["device"] == "gpu"
        expected = ref_ipcf(data, radius, npoints, 10, pow2=True)
        assert np.abs(got - expected).max() <= 1e-5
        masked = ipcf(data, radius, npoints, 10, pow2=True, mask=mask, device="gpu")
        inside = mask[radius:-radius, radius:-radius]
        assert np.isnan(masked[~inside]).all()
        assert np.abs(masked[inside] - expected[inside]).max() <= 1e-5


@pytest.mark.parametrize("upload_all", [True, False])
def test_gpu_code_path_in_small_batches_tiles_and_bleach_rows(monkeypatch, upload_all):
    """Batch boundaries inside offset classes, several tiles, input uploaded whole or tile
    by tile, bleach-corrected (pixel-major) input, duplicated circle points."""
    from pcfij.kernels import pcf_gpu
    from pcfij.pcf import correct_bleaching

    rng = np.random.default_rng(12)
    data = rng.poisson(40, (320, 17, 19)).astype(np.uint16)
    monkeypatch.setattr(ipcf_module, "get_backend", lambda device: GpuBackend(xp=np))
    monkeypatch.setattr(pcf_gpu, "BATCH_BYTES", 1)  # the smallest batches (256 pairs)
    monkeypatch.setattr(pcf_gpu, "UPLOAD_FRACTION", 1.0 if upload_all else 0.0)
    budget = (8 + 2 * 2) ** 2 * (256 * 4 + 129 * 8)  # 8 x 8 result tiles at radius 2
    done = []
    got = ipcf(data, 2, 8, 9, pow2=True, device="gpu", memory_budget=budget,
               progress=done.append)
    assert np.abs(got - ref_ipcf(data, 2, 8, 9, pow2=True)).max() <= 1e-5
    assert sum(done) == got.pcf[..., 0].size  # every curve reported once
    # pow2: for other lengths the reference's bin edges can round differently (159 vs 160)
    dup = ipcf(data, 1, 16, 9, pow2=True, device="gpu", smooth=False)  # 16 points, 8 pixels
    assert np.abs(dup - ref_ipcf(data, 1, 16, 9, pow2=True, smooth=False)).max() <= 1e-5
    bleached = ipcf(data, 2, 8, 9, pow2=True, bleach_filter=20, device="gpu",
                    memory_budget=budget)
    corrected = correct_bleaching(data, 20)
    assert np.abs(bleached - ref_ipcf(corrected, 2, 8, 9, pow2=True)).max() <= 1e-5
