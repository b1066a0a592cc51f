"""CPU (numba + BLAS) kernels of the fast ipCF algorithm; see :mod:`pcfij.kernels.pcf_plan`."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import scipy.fft
from threadpoolctl import threadpool_limits

from pcfij.kernels.pcf_plan import OffsetClass, pair_rows

#: pairs per batch and worker thread (scratch: 2 * CHUNK * (T/2+1) * 4 bytes per thread)
CHUNK = 128


def spectra(traces: np.ndarray, workers: int = -1) -> np.ndarray:
    """Return the rfft of mean-subtracted traces.

    Parameters
    ----------
    traces : ndarray, shape (npixels, T), float32
        Intensity traces, one per row.

    Returns
    -------
    ndarray, shape (npixels, T // 2 + 1), complex64
    """
    return scipy.fft.rfft(traces, axis=1, workers=workers)


@numba.njit(nogil=True, cache=True)
def cross_spectra(spec, centre, neighbour, xr, xi):  # pragma: no cover - compiled
    """``X = B * conj(A)`` (planar) for the pairs (A = centre spectrum, B = neighbour's)."""
    n = centre.shape[0]
    nf = spec.shape[1]
    for p in range(n):
        a = centre[p]
        b = neighbour[p]
        for f in range(nf):
            ca = spec[a, f]
            cb = spec[b, f]
            ar = ca.real
            ai = ca.imag
            br = cb.real
            bi = cb.imag
            xr[p, f] = br * ar + bi * ai
            xi[p, f] = bi * ar - br * ai


@numba.njit(nogil=True, cache=True)
def finish_pairs(
    a, b, norm, out_fwd, out_rev, fwd_points, rev_points, do_smooth, result
):  # pragma: no cover - compiled
    """Normalise, smooth and scatter a batch of binned pair correlations into ``result``.

    ``a`` and ``b`` are ``Re(X) @ wr`` and ``Im(X) @ wi`` (npairs, nbins); the forward
    curve is ``(a - b) * norm`` and the reverse curve ``(a + b) * norm``.
    ``result`` has shape (npixels_out, npoints, nbins).
    """
    n, nbins = a.shape
    curve = np.empty(nbins, np.float64)
    for p in range(n):
        for direction in range(2):
            if direction == 0:
                dst = out_fwd[p]
                points = fwd_points
                sign = -1.0
            else:
                dst = out_rev[p]
                points = rev_points
                sign = 1.0
            if dst < 0 or points.shape[0] == 0:
                continue
            s = norm[p]
            for k in range(nbins):
                curve[k] = (a[p, k] + sign * b[p, k]) * s
            if do_smooth:
                _smooth_inplace(curve)
            for i in points:
                for k in range(nbins):
                    result[dst, i, k] = curve[k]


@numba.njit(parallel=True, cache=True)
def mean_subtracted_traces(flat, out):  # pragma: no cover - compiled
    """Transpose ``flat`` (T, npixels) into ``out`` (npixels, T) float32 minus pixel means.

    Returns the float64 means (exact sums of the samples divided by T).
    """
    ntimes, npix = flat.shape
    means = np.zeros(npix, np.float64)
    tile = 32
    ntiles = (npix + tile - 1) // tile
    for it in numba.prange(ntiles):
        p0 = it * tile
        p1 = min(npix, p0 + tile)
        acc = np.zeros(p1 - p0, np.float64)
        for t in range(ntimes):
            for p in range(p0, p1):
                acc[p - p0] += flat[t, p]
        for p in range(p0, p1):
            means[p] = acc[p - p0] / ntimes
        for t0 in range(0, ntimes, 256):
            t1 = min(ntimes, t0 + 256)
            for p in range(p0, p1):
                m = means[p]
                for t in range(t0, t1):
                    out[p, t] = flat[t, p] - m
    return means


@numba.njit(cache=True)
def _smooth_inplace(c):  # pragma: no cover - compiled
    """The tutorial's double exponential smoothing (see :func:`pcfij.pcf.smooth`)."""
    n = c.shape[0]
    if n < 2:
        return
    c[0] = c[1]
    for i in range(1, n):
        c[i] = c[i] * 0.3 + c[i - 1] * 0.7
    for i in range(n - 2, -1, -1):
        c[i] = c[i] * 0.3 + c[i + 1] * 0.7


def ipcf_tile(
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
    """Compute the ipCF of one tile (with halo) on the CPU.

    Parameters
    ----------
    traces : ndarray, shape (height * width, T), float32
        Mean-subtracted traces of the tile, row-major pixel order.
    inv_means : ndarray, shape (height * width,), float64
        Reciprocal trace means (NaN where the mean is zero).
    centre_ok : ndarray of bool, shape (height, width), optional
        Result pixels to compute (mask); others stay NaN.

    Returns
    -------
    ndarray, shape (height - 2r, width - 2r, npoints, nbins), float32
    """
    nbins = wr.shape[1]
    oh, ow = height - 2 * radius, width - 2 * radius
    result = np.full((oh * ow, npoints, nbins), np.nan, np.float32)
    # Results must not depend on how pixels are grouped into tiles and batches (blocked
    # out-of-core runs must equal in-memory runs bit for bit): the FFT gets a row count that
    # is a multiple of the SIMD width, and every GEMM has exactly CHUNK rows, so each pair
    # goes through the same kernels in the same order wherever it sits.
    npix = traces.shape[0]
    padded = -(-npix // 16) * 16
    if padded != npix:
        traces = np.concatenate([traces, np.zeros((padded - npix, traces.shape[1]), traces.dtype)])
    spec = spectra(traces)
    inv = np.asarray(inv_means, np.float64)
    ntimes = traces.shape[1]
    jobs = []
    for cls in classes:
        centre, neighbour, out_fwd, out_rev = pair_rows(height, width, radius, cls, centre_ok)
        fwd_points = np.asarray(cls.forward, np.int64)
        rev_points = np.asarray(cls.reverse, np.int64)
        norm = inv[centre] * inv[neighbour] / ntimes
        for s in range(0, centre.size, CHUNK):
            sl = slice(s, min(s + CHUNK, centre.size))
            ncurves = int((out_fwd[sl] >= 0).sum()) * len(cls.forward) + int(
                (out_rev[sl] >= 0).sum()
            ) * len(cls.reverse)
            jobs.append((centre[sl], neighbour[sl], norm[sl], out_fwd[sl], out_rev[sl],
                         fwd_points, rev_points, ncurves))
    local = threading.local()

    def work(job):
        centre, neighbour, norm, out_fwd, out_rev, fwd_points, rev_points, ncurves = job
        m = centre.size
        if not hasattr(local, "xr"):
            local.xr = np.zeros((CHUNK, spec.shape[1]), np.float32)
            local.xi = np.zeros((CHUNK, spec.shape[1]), np.float32)
        xr, xi = local.xr, local.xi
        cross_spectra(spec, centre, neighbour, xr, xi)
        a = (xr @ wr)[:m]
        b = (xi @ wi)[:m]
        finish_pairs(a, b, norm, out_fwd, out_rev, fwd_points, rev_points, smooth, result)
        return ncurves

    nworkers = max(1, min(numba.get_num_threads(), len(jobs)))
    # one BLAS thread per worker: BLAS and numba threads must not spin against each other
    with threadpool_limits(limits=1, user_api="blas"):
        if nworkers == 1:
            for job in jobs:
                done = work(job)
                if progress is not None:
                    progress(done)
        else:
            with ThreadPoolExecutor(nworkers) as pool:
                for done in pool.map(work, jobs):
                    if progress is not None:
                        progress(done)
    return result.reshape(oh, ow, npoints, nbins)
