"""The one back-end interface (pcfij.kernels.get_backend) and ipcf's IPCFResult (issue #14)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from pcfij.errors import InputError
from pcfij.kernels import Backend, get_backend, gpu_available, parse_device, resolve_device
from pcfij.kernels import device as device_module
from pcfij.kernels.backend import CpuBackend, GpuBackend
from pcfij.pcf import IPCFResult, frames_used, ipcf
from tests.pcf_reference import ref_circle, ref_ipcf, ref_logbins


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setenv("PCFIJ_NO_GPU", "1")
    device_module.cupy_or_none.cache_clear()
    yield
    device_module.cupy_or_none.cache_clear()


# ----------------------------------------------------------------------------- device parser
@pytest.mark.parametrize(
    "given,want",
    [("auto", "auto"), ("cpu", "cpu"), ("gpu", "gpu"), ("GPU", "gpu"), (" Cpu ", "cpu"),
     (None, "auto"), (True, "gpu"), (False, "cpu"), (np.bool_(True), "gpu")],
)
def test_parse_device_accepts_the_choices_and_algotoms_flag(given, want):
    assert parse_device(given) == want


@pytest.mark.parametrize("bad", ["tpu", "", "cuda", 1, 0.0, ["gpu"]])
def test_parse_device_refuses_anything_else_naming_the_choices(bad):
    with pytest.raises(InputError, match="auto, cpu, gpu"):
        parse_device(bad)
    with pytest.raises(InputError, match="auto, cpu, gpu"):
        get_backend(bad)


def test_without_gpu_auto_is_cpu_gpu_is_refused_and_fallback_warns(no_gpu):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert get_backend("auto").name == "cpu"
        assert get_backend(None).name == "cpu"
        assert get_backend("cpu").name == "cpu"
    with pytest.raises(InputError, match="pcfij\\[gpu\\]"):
        get_backend("gpu")
    with pytest.warns(RuntimeWarning, match="running on the CPU"):
        assert get_backend("gpu", fallback=True).name == "cpu"
    # the old entry point keeps its meaning (algotom's warn-and-fall-back by default)
    with pytest.warns(RuntimeWarning):
        assert resolve_device(True) == "cpu"
    with pytest.raises(InputError):
        resolve_device("gpu", warn_fallback=False)


def test_cpu_backend_array_fft_and_memory():
    be = get_backend("cpu")
    assert isinstance(be, Backend) and isinstance(be, CpuBackend)
    assert be.name == "cpu" and not be.is_gpu and be.xp is np
    x = np.random.default_rng(1).normal(size=(3, 50)).astype(np.float32)
    spec = be.rfft(be.asarray(x))
    assert spec.dtype == np.complex64  # single precision stays single
    np.testing.assert_allclose(spec, np.fft.rfft(x.astype(np.float64)), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(be.irfft(spec, 50), x, atol=1e-5)
    assert be.to_host(x) is x
    mem = be.memory()
    with open("/proc/meminfo") as fh:  # independent reading of the machine's RAM
        total_kb = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
    assert mem.total == total_kb * 1024
    assert 0 < mem.free <= mem.total
    be.release()  # gives freed heap pages back; must not fail


def test_gpu_backend_code_runs_with_numpy_standing_in():
    be = GpuBackend(xp=np)
    assert be.name == "gpu" and be.is_gpu
    x = np.arange(16, dtype=np.float32).reshape(2, 8)
    np.testing.assert_allclose(be.to_host(be.rfft(x)), np.fft.rfft(x), atol=1e-4)
    assert be.memory().total > 0
    be.release()
    be.synchronize()


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="CuPy or a CUDA GPU is not available")
def test_gpu_backend_on_a_gpu():
    be = get_backend("gpu")
    assert be.name == "gpu" and be.xp.__name__ == "cupy"
    x = np.random.default_rng(2).normal(size=(4, 64)).astype(np.float32)
    d = be.asarray(x)
    spec = be.rfft(d)
    assert spec.dtype == np.complex64
    np.testing.assert_allclose(be.to_host(spec), np.fft.rfft(x.astype(np.float64)), atol=1e-3)
    before = be.memory()
    big = be.xp.ones(256 << 20, be.xp.uint8)  # 256 MiB
    del big
    be.release()
    after = be.memory()
    assert after.total == before.total > 0 and after.free >= before.free - (1 << 20)
    assert get_backend("auto").name == "gpu"


# ----------------------------------------------------------------------------- frames used
@pytest.mark.parametrize(
    "ntimes,bleach,pow2,want",
    [(1100, 0, False, 1100), (1100, 0, True, 1024), (1100, 30, False, 1040),
     (1100, 30, True, 1024), (1024, 0, True, 1024), (1023, 0, True, 512),
     (16384, 1024, True, 8192), (16384, 1024, False, 14336), (40, 30, True, -20)],
)
def test_frames_used_hand_checked(ntimes, bleach, pow2, want):
    assert frames_used(ntimes, bleach, pow2) == want


# ----------------------------------------------------------------------------- IPCFResult
@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(21)
    return rng.poisson(30, (300, 11, 12)).astype(np.uint16)


def test_ipcf_result_describes_its_curves(small):
    res = ipcf(small, 2, 8, 10, pow2=True, device="cpu")
    assert isinstance(res, IPCFResult)
    assert res.frames_used == 256  # largest power of two <= 300
    np.testing.assert_array_equal(res.bins, ref_logbins(128, 10))
    edges = np.concatenate([[0], ref_logbins(128, 10)])
    want_delays = [np.arange(s, e).mean() for s, e in zip(edges[:-1], edges[1:])]
    np.testing.assert_allclose(res.delays, want_delays)
    np.testing.assert_array_equal(res.circle, ref_circle(2, 8))
    assert res.params == dict(radius=2, npoints=8, nbins=10, pow2=True, bleach_filter=0,
                              smooth=True, device="cpu")
    assert res.pcf.dtype == np.float32 and res.pcf.shape == (7, 8, 8, len(res.bins))
    assert np.abs(res.pcf - ref_ipcf(small, 2, 8, 10, pow2=True)).max() <= 1e-5
    bleached = ipcf(small, 2, 8, 10, bleach_filter=20, device="cpu")
    assert bleached.frames_used == 260 and bleached.params["bleach_filter"] == 20
    np.testing.assert_array_equal(bleached.bins, ref_logbins(130, 10))


def test_ipcf_result_works_as_the_array(small):
    res = ipcf(small, 2, 8, 10, device="cpu")
    arr = res.pcf
    assert np.asarray(res) is arr  # no copy
    assert np.array(res, dtype=np.float64).dtype == np.float64
    assert res.shape == arr.shape and res.dtype == arr.dtype and res.ndim == 4
    assert len(res) == arr.shape[0]
    np.testing.assert_array_equal(res[3, 4], arr[3, 4])
    np.testing.assert_array_equal(res[..., 0], arr[..., 0])
    for got, want in ((res - res, arr - arr), (2 * res, 2 * arr), (res + 1, arr + 1),
                      (abs(res), np.abs(arr)), (np.abs(res), np.abs(arr)),
                      (np.nanmean(res, axis=(0, 1)), np.nanmean(arr, axis=(0, 1)))):
        assert type(got) is np.ndarray
        np.testing.assert_array_equal(got, want)
    assert res.max() == arr.max() and res.astype(np.float64).dtype == np.float64
    assert (res == arr).all()
    np.testing.assert_array_equal(np.concatenate([res, res]), np.concatenate([arr, arr]))
    with pytest.raises(AttributeError):
        res.no_such_thing  # noqa: B018
    res[0, 0] = np.nan  # writes go to the array, as they did when ipcf returned it
    assert np.isnan(arr[0, 0]).all() and not np.isnan(arr[1, 1]).any()


def test_plots_take_bins_and_circle_from_the_result(small):
    from pcfij import plot

    res = ipcf(small, 2, 8, 10, device="cpu")
    # a curve that peaks at bin k (k >= 1) has its maximum at that bin's mean delay
    pcf = np.zeros((2, 3, 8, len(res.bins)), np.float32)
    peak_bins = np.array([[1, 4, 6], [len(res.bins) - 1, 2, 3]])
    for (y, x), k in np.ndenumerate(peak_bins):
        pcf[y, x, :, k] = 1.0
    known = IPCFResult(pcf=pcf, bins=res.bins, delays=res.delays, circle=res.circle,
                       frames_used=res.frames_used, params=res.params)
    edges = np.concatenate([[0], res.bins])
    want = np.array([[np.arange(edges[k], edges[k + 1]).mean() for k in row]
                     for row in peak_bins])
    got = plot.max_delay_map(known, min_amplitude=0.5)
    np.testing.assert_allclose(got, np.repeat(want[..., None], 8, axis=2))
    np.testing.assert_array_equal(got, plot.max_delay_map(pcf, res.bins, min_amplitude=0.5))
    for style in ("lines", "carpet", "polar"):
        fig = plot.plot_pixel_curves(res, 1, 2, style=style)
        assert fig.axes
    assert plot.plot_max_delay_map(res).axes
    with pytest.raises(InputError, match="delay bins"):
        plot.plot_pixel_curves(res.pcf, 1, 2)
    with pytest.raises(InputError, match="circle"):
        plot.plot_pixel_curves(res.pcf, 1, 2, res.bins)
