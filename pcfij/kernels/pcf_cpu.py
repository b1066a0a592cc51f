"""CPU (numba + BLAS) kernels of the fast ipCF algorithm; see :mod:`pcfij.kernels.pcf_plan`."""

from __future__ import annotations

import numba
import numpy as np
import scipy.fft

from pcfij.kernels.pcf_plan import OffsetClass, pair_rows

#: pairs processed per batch (bounds the scratch memory to 2 * CHUNK * (T/2+1) * 4 bytes)
CHUNK = 256


def spectra(traces: np.ndarray, workers: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Return planar real and imaginary parts of the rfft of mean-subtracted traces.

    Parameters
    ----------
    traces : ndarray, shape (npixels, T), float32
        Intensity traces, one per row.

    Returns
    -------
    re, im : ndarray, shape (npixels, T // 2 + 1), float32
    """
    spec = scipy.fft.rfft(traces, axis=1, workers=workers)
    return np.ascontiguousarray(spec.real), np.ascontiguousarray(spec.imag)


@numba.njit(parallel=True, fastmath=False, cache=True)
def cross_spectra(re, im, centre, neighbour, xr, xi):  # pragma: no cover - compiled
    """``X = B * conj(A)`` for the pairs (A = centre spectrum, B = neighbour spectrum)."""
    n = centre.shape[0]
    nf = re.shape[1]
    for p in numba.prange(n):
        a = centre[p]
        b = neighbour[p]
        for f in range(nf):
            ar = re[a, f]
            ai = im[a, f]
            br = re[b, f]
            bi = im[b, f]
            xr[p, f] = br * ar + bi * ai
            xi[p, f] = bi * ar - br * ai


@numba.njit(parallel=True, cache=True)
def finish_pairs(
    a, b, norm, out_fwd, out_rev, fwd_points, rev_points, do_smooth, result
):  # pragma: no cover - compiled
    """Normalise, smooth and scatter a batch of binned pair correlations into ``result``.

    ``a`` and ``b`` are ``Re(X) @ wr`` and ``Im(X) @ wi`` (npairs, nbins); the forward
    curve is ``(a - b) * norm`` and the reverse curve ``(a + b) * norm``.
    ``result`` has shape (npixels_out, npoints, nbins).
    """
    n, nbins = a.shape
    for p in numba.prange(n):
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
            curve = np.empty(nbins, np.float64)
            s = norm[p]
            for k in range(nbins):
                curve[k] = (a[p, k] + sign * b[p, k]) * s
            if do_smooth:
                _smooth_inplace(curve)
            for i in points:
                for k in range(nbins):
                    result[dst, i, k] = curve[k]


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
    re, im = spectra(traces)
    nf = re.shape[1]
    xr = np.empty((CHUNK, nf), np.float32)
    xi = np.empty((CHUNK, nf), np.float32)
    inv = np.asarray(inv_means, np.float64)
    for cls in classes:
        centre, neighbour, out_fwd, out_rev = pair_rows(height, width, radius, cls, centre_ok)
        fwd_points = np.asarray(cls.forward, np.int64)
        rev_points = np.asarray(cls.reverse, np.int64)
        for s in range(0, centre.size, CHUNK):
            e = min(s + CHUNK, centre.size)
            m = e - s
            cross_spectra(re, im, centre[s:e], neighbour[s:e], xr[:m], xi[:m])
            a = xr[:m] @ wr
            b = xi[:m] @ wi
            norm = inv[centre[s:e]] * inv[neighbour[s:e]] / traces.shape[1]
            finish_pairs(
                a, b, norm, out_fwd[s:e], out_rev[s:e], fwd_points, rev_points, smooth, result
            )
            if progress is not None:
                progress(m * (len(cls.forward) + len(cls.reverse)))
    return result.reshape(oh, ow, npoints, nbins)
