"""GPU (CuPy) path of the fast ipCF algorithm; mirrors :mod:`pcfij.kernels.pcf_cpu`.

Written against a :class:`~pcfij.kernels.backend.Backend` (CuPy on the GPU): FFTs (cuFFT),
gathers and elementwise products, the binning matrix products (cuBLAS), normalisation,
smoothing and scatter are whole-batch array operations. The pair lists, weights and output
placement come from :mod:`pcfij.kernels.pcf_plan` (host side, shared with the CPU path).
Because nothing here is CuPy-specific, the tests run the very same code with
``GpuBackend(xp=numpy)`` on machines without a GPU.
"""

from __future__ import annotations

import numpy as np

from pcfij.kernels.pcf_plan import OffsetClass, pair_rows

#: pairs per batch on the GPU (scratch: about CHUNK * (T/2+1) * 24 bytes)
CHUNK = 2048


def smooth_rows(xp, c):
    """The tutorial's smoothing applied to every row of ``c`` (npairs, nbins), in place."""
    nbins = c.shape[1]
    if nbins < 2:
        return c
    c[:, 0] = c[:, 1]
    for i in range(1, nbins):
        c[:, i] = c[:, i] * 0.3 + c[:, i - 1] * 0.7
    for i in range(nbins - 2, -1, -1):
        c[:, i] = c[:, i] * 0.3 + c[:, i + 1] * 0.7
    return c


def ipcf_tile(
    backend,
    traces: np.ndarray,
    inv_means: np.ndarray,
    height: int,
    width: int,
    radius: int,
    classes: list[OffsetClass],
    npoints: int,
    wr: np.ndarray,
    wi: np.ndarray,
    centre_ok: np.ndarray | None,
    smooth: bool,
    progress=None,
) -> np.ndarray:
    """Compute one tile's ipCF on ``backend``; the other arguments as
    :func:`pcfij.kernels.pcf_cpu.ipcf_tile`. Returns a host (NumPy) array."""
    xp = backend.xp
    nbins = wr.shape[1]
    oh, ow = height - 2 * radius, width - 2 * radius
    ntimes = traces.shape[1]
    result = xp.full((oh * ow, npoints, nbins), xp.nan, dtype=xp.float32)
    spec = backend.rfft(backend.asarray(traces, dtype=xp.float32), axis=1)
    wr_d = xp.asarray(wr, dtype=xp.float32)
    wi_d = xp.asarray(wi, dtype=xp.float32)
    inv_d = xp.asarray(np.asarray(inv_means, np.float64))
    for cls in classes:
        centre, neighbour, out_fwd, out_rev = pair_rows(height, width, radius, cls, centre_ok)
        for s in range(0, centre.size, CHUNK):
            e = min(s + CHUNK, centre.size)
            c_d = xp.asarray(centre[s:e])
            n_d = xp.asarray(neighbour[s:e])
            cross = spec[n_d] * xp.conj(spec[c_d])  # X = B conj(A), (m, T/2+1)
            a = (xp.ascontiguousarray(cross.real, dtype=xp.float32) @ wr_d).astype(xp.float64)
            b = (xp.ascontiguousarray(cross.imag, dtype=xp.float32) @ wi_d).astype(xp.float64)
            del cross
            norm = (inv_d[c_d] * inv_d[n_d] / ntimes)[:, None]
            for sign, dst_host, points in ((-1.0, out_fwd[s:e], cls.forward),
                                           (1.0, out_rev[s:e], cls.reverse)):
                if not points:
                    continue
                keep = np.nonzero(dst_host >= 0)[0]
                if keep.size == 0:
                    continue
                keep_d = xp.asarray(keep)
                curves = (a[keep_d] + sign * b[keep_d]) * norm[keep_d]
                if smooth:
                    smooth_rows(xp, curves)
                dst = xp.asarray(dst_host[keep])
                curves = curves.astype(xp.float32)
                for i in points:
                    result[dst, i] = curves
            if progress is not None:
                progress(int((out_fwd[s:e] >= 0).sum()) * len(cls.forward)
                         + int((out_rev[s:e] >= 0).sum()) * len(cls.reverse))
    return backend.to_host(result.reshape(oh, ow, npoints, nbins))


class TileKernel:
    """The GPU ipCF of one tile at a time (same interface as
    :class:`pcfij.kernels.pcf_cpu.TileKernel`); device memory comes from CuPy's pool."""

    def __init__(self, backend, max_pixels: int, ntimes: int) -> None:
        self.backend = backend

    def __call__(self, traces, inv_means, height, width, radius, classes, npoints, wr, wi,
                 centre_ok, smooth, progress=None) -> np.ndarray:
        return ipcf_tile(self.backend, traces, inv_means, height, width, radius, classes,
                         npoints, wr, wi, centre_ok, smooth, progress)
