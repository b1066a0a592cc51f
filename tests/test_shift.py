"""pcfij.shift: algotom-compatible shift finding, checked against ground truth and against
straightforward implementations written here (never against numbers from the code)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import pcfij.shift as S
from pcfij.errors import InputError
from pcfij.kernels import gpu_available
from pcfij.kernels import shift_cpu as cpu
from pcfij.kernels import shift_gpu as gpuk
from pcfij.simulate import shifts as sim

SHIFTS = [(0.3, -0.7), (1.25, 0.4), (-2.6, 1.9), (0.5, 0.5), (-0.15, 3.35)]


# --------------------------------------------------------------------------- references
def pearson_map(ref, mat):
    """Straightforward Pearson map: np.corrcoef at every offset (0 for flat windows)."""
    ref = np.asarray(ref, float)
    mat = np.asarray(mat, float)
    if ref.ndim == 2:
        ref, mat = ref[None], mat[None]
    h1, w1 = mat.shape[1:]
    h2, w2 = ref.shape[1] - h1 + 1, ref.shape[2] - w1 + 1
    out = np.zeros((h2, w2))
    b = mat.ravel()
    for i in range(h2):
        for j in range(w2):
            a = ref[:, i:i + h1, j:j + w1].ravel()
            if a.std() > 0 and b.std() > 0:
                out[i, j] = np.corrcoef(a, b)[0, 1]
    return out


def norm2d(a):
    """algotom's 2D normalisation, written out: divide by column and row sums, standardise."""
    a = np.asarray(a, float)
    out = a / a.sum(axis=0, keepdims=True) / a.sum(axis=1, keepdims=True)
    return (out - out.mean()) / out.std()


def quadratic_map(h, w, x0, y0, a=1.0, b=0.7, c=0.2):
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    dx, dy = xx - x0, yy - y0
    return 5.0 - (a * dx * dx + b * dy * dy + c * dx * dy)


# --------------------------------------------------------------------------- normalize_image
def test_normalize_image_matches_definition():
    rng = np.random.default_rng(0)
    img = rng.random((20, 30)) + 0.5
    np.testing.assert_allclose(S.normalize_image(img), norm2d(img), rtol=1e-12)
    st = rng.random((3, 10, 12)) * 7 + 2
    z = (st - st.mean()) / st.std()
    np.testing.assert_allclose(S.normalize_image(st), z - z.min(), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- maps and peaks
@pytest.mark.parametrize("shape_ref,shape_mat", [((30, 34), (12, 15)), ((3, 25, 22), (3, 9, 8))])
def test_generate_correlation_map_matches_pearson(shape_ref, shape_mat):
    rng = np.random.default_rng(1)
    ref = rng.random(shape_ref)
    mat = rng.random(shape_mat)
    out = S.generate_correlation_map(ref, mat)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, pearson_map(ref, mat), atol=2e-6)


def test_generate_correlation_map_flat_windows_are_zero():
    ref = np.zeros((20, 20))
    ref[:, 10:] = np.random.default_rng(2).random((20, 10))
    mat = np.random.default_rng(3).random((5, 5))
    out = S.generate_correlation_map(ref, mat)
    assert np.all(out[:, :6] == 0)
    assert np.all(S.generate_correlation_map(np.random.default_rng(4).random((9, 9)),
                                              np.ones((3, 3))) == 0)


@pytest.mark.parametrize("method", ["diff", "poly_fit"])
@pytest.mark.parametrize("dim", [1, 2])
def test_locate_peak_exact_on_quadratic(method, dim):
    x0, y0 = 5.3, 3.8
    c = 0.0 if dim == 1 else 0.2  # separable 1D fits are exact without the cross term
    m = quadratic_map(9, 11, x0, y0, c=c)
    x, y = S.locate_peak(m, method=method, dim=dim, size=5)
    assert abs(x - x0) < 1e-9 and abs(y - y0) < 1e-9
    x, y = S.locate_peak(-m, method=method, dim=dim, size=5, max_peak=False)
    assert abs(x - x0) < 1e-9 and abs(y - y0) < 1e-9


def test_locate_peak_integer_and_border_cases():
    m = quadratic_map(9, 11, 5.3, 3.8)
    assert S.locate_peak(m, sub_pixel=False) == (5.0, 4.0)
    # peak on the top row: only x is refined (1D parabola along the row)
    m = quadratic_map(7, 9, 3.4, -0.2, c=0.0)
    x, y = S.locate_peak(m, method="diff")
    assert y == 0.0 and abs(x - 3.4) < 1e-9
    # peak on the left column: only y is refined
    m = quadratic_map(7, 9, -0.3, 2.6, c=0.0)
    x, y = S.locate_peak(m, method="poly_fit")
    assert x == 0.0 and abs(y - 2.6) < 1e-9
    # corner: integer position
    m = quadratic_map(7, 9, -0.3, -0.4)
    assert S.locate_peak(m) == (0.0, 0.0)


@pytest.mark.parametrize("method", ["diff", "poly_fit"])
@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("size", [3, 5])
def test_find_shift_recovers_known_subpixel_shifts(method, dim, size):
    ref = sim.speckle((128, 128), sigma=2.0, seed=1)
    for dx, dy in SHIFTS:
        mat = sim.shift_image(ref, dx, dy)
        x, y = S.find_shift_based_correlation_map(ref, mat, method=method, dim=dim, size=size)
        assert abs(x + dx) <= 0.05 and abs(y + dy) <= 0.05, (dx, dy, x, y)


def test_find_shift_axis_and_stack_and_smaller_mat():
    ref = sim.speckle((3, 90, 96), sigma=2.0, seed=5)
    mat = sim.shift_image(ref, 1.3, -0.6)
    x, y = S.find_shift_based_correlation_map(ref, mat, axis=1)
    assert y == 0.0 and abs(x + 1.3) < 0.05
    x, y = S.find_shift_based_correlation_map(ref, mat, axis=0)
    assert x == 0.0 and abs(y - 0.6) < 0.05
    # a smaller second image is used whole; shifts are from the map centre
    ref2 = sim.speckle((80, 80), sigma=2.0, seed=6)
    mat2 = sim.shift_image(ref2, 0.4, 0.9)[20:60, 22:58]  # centred crop
    x, y = S.find_shift_based_correlation_map(ref2, mat2, margin=5)
    assert abs(x + 0.4) < 0.05 and abs(y + 0.9) < 0.05


# --------------------------------------------------------------------------- local shifts
def _local_reference_2d(ref, mat, i, j, win, margin, method="diff", size=3):
    rad = win // 2
    e = rad + margin
    cmap = pearson_map(ref[..., i - e:i + e + 1, j - e:j + e + 1],
                       mat[..., i - rad:i + rad + 1, j - rad:j + rad + 1])
    x, y = S.locate_peak(cmap.astype(np.float32), method=method, dim=2, size=size)
    return x - margin, y - margin


@pytest.mark.parametrize("method,size", [("diff", 3), ("poly_fit", 5)])
def test_local_shifts_2d_equal_window_by_window_definition(method, size):
    ref = sim.speckle((48, 52), sigma=1.5, seed=7)
    mat = sim.warp(ref, *sim.smooth_field((48, 52), amplitude=1.5, period=30, seed=2))
    win, margin = 7, 5
    xs, ys = S.find_local_shifts(ref, mat, win_size=win, margin=margin, method=method,
                                 size=size, ncore=2)
    assert xs.dtype == np.float32 and xs.shape == ref.shape
    e = win // 2 + margin
    for border in (xs, ys):
        assert not border[:e].any() and not border[-e:].any()
        assert not border[:, :e].any() and not border[:, -e:].any()
    rn, mn = norm2d(ref), norm2d(mat)
    for i, j in [(e, e), (20, 31), (47 - e, 51 - e), (30, 12)]:
        x, y = _local_reference_2d(rn, mn, i, j, win, margin, method, size)
        assert abs(xs[i, j] - x) < 1e-4 and abs(ys[i, j] - y) < 1e-4


def test_local_shifts_recover_smooth_deformation():
    fx, fy = sim.smooth_field((120, 120), amplitude=1.5, period=70, seed=1)
    # dim=2 searches (depth x win x win) volumes; dim=1 only (depth x win) slabs, which
    # needs deeper stacks (speckle-tracking data have many frames)
    for dim, depth, win in ((2, 4, 9), (1, 12, 15)):
        ref = sim.speckle((depth, 120, 120), sigma=2.0, seed=3)
        mat = sim.warp(ref, fx, fy)
        xs, ys = S.find_local_shifts(ref, mat, dim=dim, win_size=win, margin=4)
        e = win // 2 + 4
        s = np.s_[e:-e, e:-e]
        err = np.sqrt(np.mean((xs[s] + fx[s]) ** 2 + (ys[s] + fy[s]) ** 2))
        field = np.sqrt(np.mean(fx[s] ** 2 + fy[s] ** 2))
        assert err < 0.15 * field and err < 0.15, (dim, err, field)
    ref = sim.speckle((120, 120), sigma=2.0, seed=3)
    mat = sim.warp(ref, fx, fy)
    xs, ys = S.find_local_shifts(ref, mat, win_size=15, margin=4)
    e = 15 // 2 + 4
    s = np.s_[e:-e, e:-e]
    err = np.sqrt(np.mean((xs[s] + fx[s]) ** 2 + (ys[s] + fy[s]) ** 2))
    assert err < 0.2


def test_local_shifts_3d_dim1_matches_slab_definition():
    rng = np.random.default_rng(9)
    ref = sim.speckle((3, 30, 34), sigma=1.5, seed=9)
    mat = sim.shift_image(ref, 0.6, -0.4) * (1 + 0.05 * rng.random((3, 30, 34)))
    win, margin = 5, 4
    e = win // 2 + margin
    xs, ys = S.find_local_shifts(ref, mat, dim=1, win_size=win, margin=margin, chunk_size=None)
    # x map: zero edge columns only; y map: zero edge rows only
    assert not xs[:, :e].any() and not xs[:, -e:].any() and xs[:e, e:-e].all()
    assert not ys[:e].any() and not ys[-e:].any() and ys[e:-e, :].all()
    for i, j in [(0, e), (15, 17), (29, 33 - e)]:
        r = norm2d(ref[:, i, :])
        m = norm2d(mat[:, i, :])
        row = pearson_map(r[None, :, j - e:j + e + 1], m[None, :, j - win // 2:j + win // 2 + 1])
        x, _ = S.locate_peak(row.astype(np.float32), dim=1)
        assert abs(xs[i, j] - (x - margin)) < 1e-4
    for i, j in [(e, 0), (15, 20)]:  # one chunk: slabs are the whole columns
        r = norm2d(ref[:, :, j])
        m = norm2d(mat[:, :, j])
        col = pearson_map(r[None, :, i - e:i + e + 1], m[None, :, i - win // 2:i + win // 2 + 1])
        y, _ = S.locate_peak(col.astype(np.float32), dim=1)
        assert abs(ys[i, j] - (y - margin)) < 1e-4


def test_local_shifts_chunks_and_datasets(tmp_path):
    ref = sim.speckle((3, 40, 36), sigma=1.5, seed=4)
    mat = sim.shift_image(ref, -0.8, 0.3)
    for dim in (1, 2):
        a = S.find_local_shifts(ref, mat, dim=dim, win_size=5, margin=3, chunk_size=None)
        b = S.find_local_shifts(ref, mat, dim=dim, win_size=5, margin=3, chunk_size=7)
        np.testing.assert_allclose(a[0], b[0], atol=1e-5)  # x never depends on chunks
        if dim == 2:
            np.testing.assert_allclose(a[1], b[1], atol=1e-5)
    mm = np.lib.format.open_memmap(tmp_path / "m.npy", mode="w+", dtype=np.float32,
                                   shape=mat.shape)
    mm[:] = mat
    rr = np.lib.format.open_memmap(tmp_path / "r.npy", mode="w+", dtype=np.float32,
                                   shape=ref.shape)
    rr[:] = ref
    c = S.find_local_shifts(rr, mm, dim=2, win_size=5, margin=3, chunk_size=10)
    d = S.find_local_shifts(ref.astype(np.float32), mat.astype(np.float32), dim=2,
                            win_size=5, margin=3, chunk_size=10)
    np.testing.assert_array_equal(c[0], d[0])
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["ref"] = ref.astype(np.float32)
        f["mat"] = mat.astype(np.float32)
        e = S.find_local_shifts(f["ref"], f["mat"], dim=2, win_size=5, margin=3, chunk_size=10)
    np.testing.assert_array_equal(e[0], d[0])
    np.testing.assert_array_equal(e[1], d[1])


def test_2d_ignores_dim_norm_global_chunk_size():
    ref = sim.speckle((40, 40), seed=11)
    mat = sim.shift_image(ref, 0.4, 0.2)
    a = S.find_local_shifts(ref, mat, dim=1, win_size=5, margin=3)
    b = S.find_local_shifts(ref, mat, dim=2, win_size=5, margin=3, norm_global=True,
                            chunk_size=5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


# --------------------------------------------------------------------------- global from local
def test_global_shift_based_local_shifts():
    ref = sim.speckle((100, 100), sigma=2.0, seed=12)
    mat = sim.shift_image(ref, 1.4, -0.7)
    for how in ("median", "mean", "mixed"):
        x, y = S.find_global_shift_based_local_shifts(ref, mat, 21, 5, global_value=how,
                                                      seed=1)
        assert abs(x + 1.4) < 0.05 and abs(y - 0.7) < 0.05
    xs, ys = S.find_global_shift_based_local_shifts(ref, mat, 21, 5, num_point=8,
                                                    return_list=True, seed=2)
    assert xs.shape == (8,) and ys.shape == (8,)
    # single point, and a list with a point outside the valid box (dropped)
    x, y = S.find_global_shift_based_local_shifts(ref, mat, 21, 5, list_ij=[50, 50])
    assert abs(x + 1.4) < 0.05
    xs, ys = S.find_global_shift_based_local_shifts(ref, mat, 21, 5,
                                                    list_ij=[[30, 2, 60], [40, 50, 70]],
                                                    return_list=True)
    assert len(xs) == 2
    with pytest.raises(ValueError):
        S.find_global_shift_based_local_shifts(ref, mat, 21, 5, list_ij=[3, 50])
    with pytest.raises(ValueError):
        S.find_global_shift_based_local_shifts(ref, mat, 21, 5, list_ij=[[30, 40], [40]])


# --------------------------------------------------------------------------- UMPA
def test_umpa_recovers_shift_transmission_and_dark():
    ref = sim.speckle((5, 60, 60), sigma=1.5, seed=13)
    mean = ref.mean()
    mat = 0.5 * sim.shift_image(ref, 0.7, -1.2) + 0.3 * mean  # K = 0.5, beta = 0.3
    xs, ys = S.find_local_shifts_umpa(ref, mat, win_size=7, margin=4, gpu=False)
    e = 7 // 2 + 4
    s = np.s_[e:-e, e:-e]
    assert not xs[:e].any() and not ys[:, -e:].any()
    assert abs(np.median(xs[s]) + 0.7) < 0.05 and abs(np.median(ys[s]) - 1.2) < 0.05
    out = S.find_local_shifts_umpa(ref, mat, win_size=7, margin=4, gpu=False, dark_signal=True,
                                   method="poly_fit", filter_name=None)
    assert len(out) == 4
    xs, ys, trans, dark = out
    assert abs(np.median(xs[s]) + 0.7) < 0.05
    # transmission A = K + beta = 0.8, dark signal V = K / A = 0.625; edge-padded border
    assert abs(np.median(trans[s]) - 0.8) < 0.02
    assert abs(np.median(dark[s]) - 0.625) < 0.02
    assert trans[0, 0] == trans[e, e] and dark[-1, 5] == dark[-e - 1, e]


def test_umpa_chunks_equal():
    ref = sim.speckle((3, 40, 40), seed=14)
    mat = sim.shift_image(ref, 0.3, 0.3)
    a = S.find_local_shifts_umpa(ref, mat, win_size=5, margin=3, gpu=False, chunk_size=None)
    b = S.find_local_shifts_umpa(ref, mat, win_size=5, margin=3, gpu=False, chunk_size=6)
    np.testing.assert_allclose(a[0], b[0], atol=1e-6)
    np.testing.assert_allclose(a[1], b[1], atol=1e-6)


# --------------------------------------------------------------------------- bad arguments
def test_bad_arguments_raise_value_error():
    a = np.random.default_rng(0).random((40, 40))
    with pytest.raises(ValueError):
        S.generate_correlation_map(a[:20], a[:30])  # sample larger than reference
    with pytest.raises(ValueError):
        S.generate_correlation_map(np.zeros((2, 9, 9)), np.zeros((3, 5, 5)))  # depth
    with pytest.raises(ValueError):
        S.generate_correlation_map(np.zeros((2, 2, 9, 9)), np.zeros((2, 2, 5, 5)))
    with pytest.raises(ValueError):
        S.find_local_shifts(a, a[:30])  # mismatched shapes
    with pytest.raises(ValueError):
        S.find_local_shifts(a, a, win_size=31, margin=10)  # window + margin too large
    with pytest.raises(ValueError):
        S.find_local_shifts(np.zeros((2, 10, 60)), np.zeros((2, 10, 60)), dim=2)
    with pytest.raises(ValueError):
        S.find_local_shifts_umpa(a, a, gpu=False)  # 2D input
    with pytest.raises(ValueError):
        S.find_local_shifts_umpa(np.zeros((2, 9, 9)), np.zeros((2, 9, 8)), gpu=False)
    with pytest.raises(ValueError):
        S.find_shift_based_correlation_map(a, a[5:30, 5:35], margin=10)  # margin mismatch
    with pytest.raises(ValueError):
        S.find_global_shift_based_local_shifts(a, a[:30], 11, 5)
    with pytest.raises(ValueError):
        S.locate_peak(a, method="spline")
    with pytest.raises(ValueError):
        S.find_local_shifts(a, a, dim=3)
    with pytest.raises(ValueError):
        S.find_global_shift_based_local_shifts(a, a, 11, 5, global_value="mode")


# --------------------------------------------------------------------------- devices
def test_gpu_flags_fall_back_with_a_warning(monkeypatch):
    monkeypatch.setenv("PCFIJ_NO_GPU", "1")
    from pcfij.kernels import device

    device.cupy_or_none.cache_clear()
    try:
        ref = sim.speckle((3, 30, 30), seed=15)
        mat = sim.shift_image(ref, 0.5, 0.0)
        want = S.find_local_shifts(ref, mat, dim=2, win_size=5, margin=3)
        with pytest.warns(RuntimeWarning):
            got = S.find_local_shifts(ref, mat, dim=2, win_size=5, margin=3, gpu=True)
        np.testing.assert_array_equal(want[0], got[0])
        with pytest.warns(RuntimeWarning):  # algotom crashes here; pcfij falls back
            got = S.find_local_shifts(ref, mat, dim=1, win_size=5, margin=3, gpu="hybrid")
        np.testing.assert_array_equal(want[0], got[0])  # hybrid searches in 2D
        with pytest.warns(RuntimeWarning):
            S.find_local_shifts_umpa(ref, mat, win_size=5, margin=3)  # gpu=True default
    finally:
        device.cupy_or_none.cache_clear()


def test_device_argument_follows_the_kernels_rule(monkeypatch):
    """device= (pcfij's, shared with ipcf and ccc): "gpu" without a GPU is an InputError,
    "auto" runs on the CPU without a warning; algotom's gpu= keeps warning."""
    import inspect
    import warnings

    from pcfij.kernels import backend

    monkeypatch.setenv("PCFIJ_NO_GPU", "1")
    backend.cupy_or_none.cache_clear()
    try:
        ref = sim.speckle((3, 30, 30), seed=15)
        mat = sim.shift_image(ref, 0.5, 0.0)
        want = S.find_local_shifts(ref, mat, dim=2, win_size=5, margin=3)
        calls = [
            lambda d: S.find_local_shifts(ref, mat, dim=2, win_size=5, margin=3, device=d),
            lambda d: S.find_local_shifts_umpa(ref, mat, win_size=5, margin=3, device=d),
            lambda d: S.generate_correlation_map(ref[0], mat[0, 3:-3, 3:-3], device=d),
            lambda d: S.find_shift_based_correlation_map(ref[0], mat[0], margin=4, device=d),
            lambda d: S.find_global_shift_based_local_shifts(ref[0], mat[0], 9, 3,
                                                             num_point=4, device=d, seed=1),
            lambda d: S.register_stack(np.stack([ref[0]] * 3), margin=3, correct=False,
                                       device=d),
        ]
        for call in calls:
            with pytest.raises(InputError, match="device='gpu'"):
                call("gpu")
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)
                call("auto")
        got = S.find_local_shifts(ref, mat, dim=2, win_size=5, margin=3, device="cpu",
                                  gpu=True)  # device decides
        np.testing.assert_array_equal(want[0], got[0])
        with pytest.raises(InputError, match="device must be one of"):
            S.find_local_shifts(ref, mat, device="hybrid")
    finally:
        backend.cupy_or_none.cache_clear()
    # algotom's positional parameters are unchanged: device is keyword-only and last
    for fn in (S.find_local_shifts, S.find_local_shifts_umpa, S.generate_correlation_map,
               S.find_shift_based_correlation_map, S.find_global_shift_based_local_shifts):
        last = list(inspect.signature(fn).parameters.values())[-1]
        assert last.name == "device" and last.kind is inspect.Parameter.KEYWORD_ONLY


@pytest.fixture
def numpy_as_gpu(monkeypatch):
    """Run the GPU code paths with NumPy as the array module (host-side logic check)."""
    import pcfij.shift.corrmap as cm
    import pcfij.shift.local as lo
    import pcfij.shift.umpa as um

    monkeypatch.setattr(lo, "GPU_ROWS", 7)  # 2D images go through the GPU in bands
    for mod in (cm, lo, um):
        monkeypatch.setattr(mod, "xp_for", lambda mode: np)
        monkeypatch.setattr(mod, "device_mode", lambda gpu, hybrid=False, device=None: (
            "hybrid" if gpu == "hybrid" else ("gpu" if gpu else "cpu")))


@pytest.mark.parametrize("method", ["diff", "poly_fit"])
def test_array_module_path_equals_numba_path(numpy_as_gpu, method):
    ref = sim.speckle((3, 36, 40), sigma=1.5, seed=16)
    mat = sim.warp(ref, *sim.smooth_field((36, 40), amplitude=1.2, period=25, seed=3))
    for dim in (1, 2):
        a = S.find_local_shifts(ref, mat, dim=dim, win_size=5, margin=4, method=method,
                                size=5, chunk_size=11)
        b = S.find_local_shifts(ref, mat, dim=dim, win_size=5, margin=4, method=method,
                                size=5, chunk_size=11, gpu=True)
        np.testing.assert_allclose(a[0], b[0], atol=1e-4)
        np.testing.assert_allclose(a[1], b[1], atol=1e-4)
    a = S.find_local_shifts(ref[0], mat[0], win_size=5, margin=4, method=method, size=5)
    b = S.find_local_shifts(ref[0], mat[0], win_size=5, margin=4, method=method, size=5,
                            gpu=True)
    np.testing.assert_allclose(a[0], b[0], atol=1e-4)
    h = S.find_local_shifts(ref, mat, dim=1, win_size=5, margin=4, method=method, size=5,
                            gpu="hybrid")
    c = S.find_local_shifts(ref, mat, dim=2, win_size=5, margin=4, method=method, size=5)
    np.testing.assert_allclose(h[0], c[0], atol=1e-4)
    np.testing.assert_allclose(h[1], c[1], atol=1e-4)
    for dark in (False, True):
        u = S.find_local_shifts_umpa(ref, mat, win_size=5, margin=4, method=method,
                                     gpu=False, dark_signal=dark, chunk_size=13)
        v = S.find_local_shifts_umpa(ref, mat, win_size=5, margin=4, method=method,
                                     gpu=True, dark_signal=dark, chunk_size=13)
        for p, q in zip(u, v):
            np.testing.assert_allclose(p, q, atol=1e-4)
    m1 = S.generate_correlation_map(ref, mat[:, 4:-4, 3:-3])
    m2 = S.generate_correlation_map(ref, mat[:, 4:-4, 3:-3], gpu=True)
    np.testing.assert_allclose(m1, m2, atol=1e-5)


def test_vectorised_locate_equals_scalar_locate():
    rng = np.random.default_rng(17)
    maps = rng.random((7, 7, 300))
    maps[0, :, :50] += 2  # peaks on the border rows/columns and corners too
    maps[:, 0, 50:100] += 2
    for code in (cpu.DIFF, cpu.POLY):
        eff = cpu.peak_size(code, 5)
        p1, p2 = cpu.poly_tables(eff)
        for dim in (1, 2):
            vx, vy = gpuk.locate(np, maps, code, dim, eff, p1, p2)
            for k in range(maps.shape[2]):
                x, y = cpu.locate(np.ascontiguousarray(maps[:, :, k]), True, code, dim, eff,
                                  p1, p2)
                assert abs(vx[k] - x) < 1e-9 and abs(vy[k] - y) < 1e-9


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="needs CuPy and a CUDA GPU")
def test_gpu_equals_cpu():
    ref = sim.speckle((3, 64, 64), sigma=1.5, seed=18)
    mat = sim.warp(ref, *sim.smooth_field((64, 64), amplitude=1.2, period=30, seed=4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for dim in (1, 2):
            a = S.find_local_shifts(ref, mat, dim=dim, win_size=7, margin=5)
            b = S.find_local_shifts(ref, mat, dim=dim, win_size=7, margin=5, gpu=True)
            np.testing.assert_allclose(a[0], b[0], atol=1e-4)
            np.testing.assert_allclose(a[1], b[1], atol=1e-4)
        h = S.find_local_shifts(ref, mat, win_size=7, margin=5, gpu="hybrid")
        c = S.find_local_shifts(ref, mat, dim=2, win_size=7, margin=5)
        np.testing.assert_allclose(h[0], c[0], atol=1e-4)
        u = S.find_local_shifts_umpa(ref, mat, gpu=False, dark_signal=True, margin=5)
        v = S.find_local_shifts_umpa(ref, mat, gpu=True, dark_signal=True, margin=5)
        for p, q in zip(u, v):
            np.testing.assert_allclose(p, q, atol=1e-4)
        m1 = S.generate_correlation_map(ref, mat[:, 5:-5, 5:-5])
        m2 = S.generate_correlation_map(ref, mat[:, 5:-5, 5:-5], gpu=True)
        np.testing.assert_allclose(m1, m2, atol=1e-5)
        x1 = S.find_shift_based_correlation_map(ref[0], mat[0])
        x2 = S.find_shift_based_correlation_map(ref[0], mat[0], gpu=True)
        np.testing.assert_allclose(x1, x2, atol=1e-4)


@pytest.mark.parametrize("call", [
    lambda a, b: S.find_global_shift_based_local_shifts(a, b, 7, 10),
    lambda a, b: S.find_local_shifts(a, b, win_size=7, margin=10),
    lambda a, b: S.find_local_shifts(a[None].repeat(3, 0), b[None].repeat(3, 0), dim=2,
                                     win_size=7, margin=10),
    lambda a, b: S.find_local_shifts_umpa(a[None].repeat(3, 0), b[None].repeat(3, 0),
                                          win_size=7, margin=10),
])
def test_images_smaller_than_window_plus_margin_are_refused(call):
    """One check for every windowed search: the message names the sizes and the fix."""
    a = np.random.default_rng(0).random((26, 40))
    # the largest margin that fits: 7 + 2 * m <= 26, m = 9 (worked out by hand)
    with pytest.raises(InputError, match=r"\(26 x 40\) are smaller than win_size \+ 2 \* "
                                         r"margin = 27 \(margin 10\); the largest margin that "
                                         r"fits with win_size 7 is 9: use a smaller win_size"):
        call(a, a.copy())
