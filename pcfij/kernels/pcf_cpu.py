"""CPU (numba + BLAS) kernels of the fast ipCF algorithm; see :mod:`pcfij.kernels.pcf_plan`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import scipy.fft
from threadpoolctl import threadpool_limits

from pcfij.kernels.pcf_plan import OffsetClass, tile_pairs

#: centre pixels per batch: BLOCK_ROWS x BLOCK_COLS (all their pairs form one batch)
BLOCK_ROWS, BLOCK_COLS = 8, 16
#: frequencies per block and pairs per sub-batch of :func:`binned_cross_spectra`
FBLOCK, SUB = 1024, 128


#: rows per transform when :func:`spectra` writes into a given buffer
FFT_ROWS = 128


def spectra(traces: np.ndarray, workers: int = -1, out: np.ndarray | None = None) -> np.ndarray:
    """Return the rfft of mean-subtracted traces.

    Parameters
    ----------
    traces : ndarray, shape (npixels, T), float32
        Intensity traces, one per row.
    out : ndarray, shape (npixels, T // 2 + 1), complex64, optional
        Buffer for the result (reused across tiles: no fresh pages to fault in). It is
        filled ``FFT_ROWS`` rows at a time; each row's transform is the same either way.

    Returns
    -------
    ndarray, shape (npixels, T // 2 + 1), complex64
    """
    if out is None:
        return scipy.fft.rfft(traces, axis=1, workers=workers)
    for i in range(0, traces.shape[0], FFT_ROWS):
        out[i : i + FFT_ROWS] = scipy.fft.rfft(traces[i : i + FFT_ROWS], axis=1, workers=workers)
    return out


@numba.njit(nogil=True, cache=True)
def binned_cross_spectra(spec, centre, neighbour, wr, wi, fblock, sub, a_out, b_out):  # noqa: E501
    """``a_out = Re(X) @ wr`` and ``b_out = Im(X) @ wi`` for a batch of pairs, X = B conj(A).

    ``spec`` is the complex64 spectra array viewed as float32, shape (npixels, 2 * F):
    real and imaginary parts interleaved. Indexing the float pairs directly (rather than
    complex numbers) lets LLVM vectorise the cross spectrum; it was 2.3x slower otherwise.

    Frequencies are processed in blocks of ``fblock`` and pairs in groups of ``sub``, so the
    spectra segments of a batch of neighbouring pairs and the cross-spectrum scratch stay in
    cache (the cross spectra are memory-bound otherwise). The order of all sums is fixed by
    the batch alone.
    """
    n = centre.shape[0]
    nf = spec.shape[1] // 2
    nb = wr.shape[1]
    for p in range(n):
        for k in range(nb):
            a_out[p, k] = 0.0
            b_out[p, k] = 0.0
    xr = np.empty((sub, fblock), np.float32)
    xi = np.empty((sub, fblock), np.float32)
    for f0 in range(0, nf, fblock):
        f1 = min(nf, f0 + fblock)
        nfb = f1 - f0
        wrb = wr[f0:f1]
        wib = wi[f0:f1]
        for s in range(0, n, sub):
            e = min(n, s + sub)
            m = e - s
            for q in range(m):
                sa = spec[centre[s + q], 2 * f0 : 2 * f1]
                sb = spec[neighbour[s + q], 2 * f0 : 2 * f1]
                xrq = xr[q]
                xiq = xi[q]
                for f in range(nfb):
                    ar = sa[2 * f]
                    ai = sa[2 * f + 1]
                    br = sb[2 * f]
                    bi = sb[2 * f + 1]
                    xrq[f] = br * ar + bi * ai
                    xiq[f] = bi * ar - br * ai
            if nfb == fblock:
                ar_ = np.dot(xr[:m], wrb)
                ai_ = np.dot(xi[:m], wib)
            else:
                ar_ = np.dot(np.ascontiguousarray(xr[:m, :nfb]), wrb)
                ai_ = np.dot(np.ascontiguousarray(xi[:m, :nfb]), wib)
            for q in range(m):
                for k in range(nb):
                    a_out[s + q, k] += ar_[q, k]
                    b_out[s + q, k] += ai_[q, k]


@numba.njit(parallel=True, cache=True)
def mean_subtracted_traces(tile, out):  # pragma: no cover - compiled
    """Transpose ``tile`` (T, h, w) into ``out`` (h * w, T) float32 minus pixel means.

    ``tile`` may be a strided view (a tile of a bigger array): it is read in place, with no
    copy. Returns the float64 means (exact sums of the samples divided by T). Works on
    blocks of 64 pixels x 64 frames through a small buffer, so reads and writes stay
    cache-friendly.
    """
    ntimes, h, w = tile.shape
    npix = h * w
    means = np.zeros(npix, np.float64)
    tp, tt = 64, 64
    ntiles = (npix + tp - 1) // tp
    for it in numba.prange(ntiles):
        p0 = it * tp
        n = min(npix, p0 + tp) - p0
        acc = np.zeros(tp, np.float64)
        buf = np.empty((tt, tp), np.float64)
        for t0 in range(0, ntimes, tt):
            t1 = min(ntimes, t0 + tt)
            for t in range(t0, t1):
                for j in range(n):
                    p = p0 + j
                    v = np.float64(tile[t, p // w, p % w])
                    buf[t - t0, j] = v
                    acc[j] += v
            for j in range(n):
                for t in range(t0, t1):
                    out[p0 + j, t] = buf[t - t0, j]
        for j in range(n):
            m = acc[j] / ntimes
            means[p0 + j] = m
            for t in range(ntimes):
                out[p0 + j, t] = np.float32(np.float64(out[p0 + j, t]) - m)
    return means


@numba.njit(parallel=True, cache=True)
def mean_subtracted_rows(rows, pix, ntimes, out):  # pragma: no cover - compiled
    """``out[i] = rows[pix[i], :ntimes] - mean`` as float32; returns the float64 means.

    The same arithmetic as :func:`mean_subtracted_traces` (sum in float64 in time order,
    subtraction in float64, rounding to float32), on pixel-major input.
    """
    n = pix.shape[0]
    means = np.empty(n, np.float64)
    for i in numba.prange(n):
        src = rows[pix[i]]
        acc = 0.0
        for t in range(ntimes):
            acc += np.float64(src[t])
        m = acc / ntimes
        means[i] = m
        dst = out[i]
        for t in range(ntimes):
            dst[t] = np.float32(np.float64(src[t]) - m)
    return means


@numba.njit(nogil=True, cache=True)
def finish_batch(
    a, b, norm, out_fwd, out_rev, cls_idx, pts_fwd, nfwd, pts_rev, nrev, do_smooth, result
):  # pragma: no cover - compiled
    """Normalise, smooth and scatter a batch of binned pair correlations into ``result``.

    ``a`` and ``b`` are ``Re(X) @ wr`` and ``Im(X) @ wi`` (npairs, nbins); the forward curve
    is ``(a - b) * norm`` and the reverse curve ``(a + b) * norm``. Pair ``p`` belongs to
    offset class ``c = cls_idx[p]``: its forward curve goes to the circle points
    ``pts_fwd[c, :nfwd[c]]`` of result pixel ``out_fwd[p]``, its reverse curve to
    ``pts_rev[c, :nrev[c]]`` of pixel ``out_rev[p]`` (-1: not wanted). ``result`` has shape
    (npixels_out, npoints, nbins).
    """
    n, nbins = a.shape
    curve = np.empty(nbins, np.float64)
    for p in range(n):
        c = cls_idx[p]
        for direction in range(2):
            if direction == 0:
                dst = out_fwd[p]
                npts = nfwd[c]
                sign = -1.0
            else:
                dst = out_rev[p]
                npts = nrev[c]
                sign = 1.0
            if dst < 0 or npts == 0:
                continue
            s = norm[p]
            for k in range(nbins):
                curve[k] = (a[p, k] + sign * b[p, k]) * s
            if do_smooth:
                _smooth_inplace(curve)
            for j in range(npts):
                i = pts_fwd[c, j] if direction == 0 else pts_rev[c, j]
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
    spec_out: np.ndarray | None = None,
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
    spec_out : ndarray, shape (height * width, T // 2 + 1), complex64, optional
        Buffer for the spectra (see :func:`spectra`).

    Returns
    -------
    ndarray, shape (height - 2r, width - 2r, npoints, nbins), float32
    """
    nbins = wr.shape[1]
    oh, ow = height - 2 * radius, width - 2 * radius
    result = np.full((oh * ow, npoints, nbins), np.nan, np.float32)
    spec = spectra(traces, out=spec_out)  # each row's transform is independent
    spec_f = spec.view(np.float32)  # (npixels, 2F): interleaved real and imaginary parts
    inv = np.asarray(inv_means, np.float64)
    ntimes = traces.shape[1]

    # all pairs of all offset classes, grouped by blocks of centre pixels so a batch reuses
    # the spectra of a small neighbourhood from cache
    ncls = len(classes)
    maxp = max(max(len(c.forward), len(c.reverse)) for c in classes)
    pts_fwd = np.zeros((ncls, maxp), np.int64)
    pts_rev = np.zeros((ncls, maxp), np.int64)
    nfwd = np.array([len(c.forward) for c in classes], np.int64)
    nrev = np.array([len(c.reverse) for c in classes], np.int64)
    for ci, cls in enumerate(classes):
        pts_fwd[ci, : nfwd[ci]] = cls.forward
        pts_rev[ci, : nrev[ci]] = cls.reverse
    centre, neighbour, out_fwd, out_rev, cls_idx = tile_pairs(height, width, radius, classes,
                                                              centre_ok)
    key = (centre // width) // BLOCK_ROWS * (width // BLOCK_COLS + 1) + (
        centre % width) // BLOCK_COLS
    order = np.argsort(key, kind="stable")
    centre, neighbour, out_fwd, out_rev, cls_idx, key = (
        x[order] for x in (centre, neighbour, out_fwd, out_rev, cls_idx, key))
    norm = inv[centre] * inv[neighbour] / ntimes
    bounds = np.flatnonzero(np.diff(key)) + 1
    starts = np.concatenate([[0], bounds])
    stops = np.concatenate([bounds, [centre.size]])
    curves = (out_fwd >= 0) * nfwd[cls_idx] + (out_rev >= 0) * nrev[cls_idx]

    def work(span):
        sl = slice(*span)
        m = span[1] - span[0]
        a = np.empty((m, nbins), np.float32)
        b = np.empty((m, nbins), np.float32)
        binned_cross_spectra(spec_f, centre[sl], neighbour[sl], wr, wi, FBLOCK, SUB, a, b)
        finish_batch(a, b, norm[sl], out_fwd[sl], out_rev[sl], cls_idx[sl], pts_fwd, nfwd,
                     pts_rev, nrev, smooth, result)
        return int(curves[sl].sum())

    jobs = list(zip(starts.tolist(), stops.tolist()))
    nworkers = max(1, min(numba.get_num_threads(), len(jobs)))
    # one BLAS thread per worker: BLAS and numba threads must not spin against each other
    with threadpool_limits(limits=1, user_api="blas"):
        if nworkers == 1:
            for job in jobs:
                done = work(job)
                if progress is not None:
                    progress(done)
        else:
            pool = ThreadPoolExecutor(nworkers)
            try:
                for done in pool.map(work, jobs):
                    if progress is not None:
                        progress(done)  # may raise to cancel (ImageJ's Esc)
            finally:
                # on cancel or error, drop the jobs not started yet instead of running them
                pool.shutdown(wait=True, cancel_futures=True)
    return result.reshape(oh, ow, npoints, nbins)


class TileKernel:
    """The CPU ipCF of an image, one tile at a time, with buffers reused across tiles.

    Parameters
    ----------
    backend : Backend
        The CPU back-end (:func:`pcfij.kernels.get_backend`).
    source : ndarray
        The input: frames ``(T, H, W)`` (read in place, also as a strided view), or
        pixel-major rows ``(H * W, T')`` (as from ``correct_bleaching(layout="pixels")``).
    ntimes : int
        Frames per trace (the first ``ntimes`` of each).
    max_pixels : int
        Largest tile, halo included, in pixels.
    image_shape : (int, int)
        ``(H, W)`` of the image.

    :meth:`load` reads a tile's traces; calling the kernel then computes that tile. One
    traces and one spectra buffer serve all tiles (fresh pages would cost page faults).
    """

    def __init__(self, backend, source: np.ndarray, ntimes: int, max_pixels: int,
                 image_shape: tuple[int, int]) -> None:
        self.backend = backend
        self.source = source
        self.ntimes = int(ntimes)
        self.width = int(image_shape[1])
        self.traces_buf = np.empty((max_pixels, self.ntimes), np.float32)
        self.spec = np.empty((max_pixels, self.ntimes // 2 + 1), np.complex64)
        self.traces = self.traces_buf[:0]

    def load(self, y0: int, x0: int, height: int, width: int) -> np.ndarray:
        """Read the mean-subtracted traces of the tile ``[y0:y0+height, x0:x0+width]``.

        Returns
        -------
        ndarray of float64, shape (height * width,)
            The trace means (row-major pixel order).
        """
        out = self.traces_buf[: height * width]
        if self.source.ndim == 3:
            tile = self.source[: self.ntimes, y0 : y0 + height, x0 : x0 + width]
            means = mean_subtracted_traces(tile, out)  # reads the strided tile in place
        else:
            pix = (np.arange(y0, y0 + height)[:, None] * self.width
                   + np.arange(x0, x0 + width)[None, :]).ravel()
            means = mean_subtracted_rows(self.source, pix, self.ntimes, out)
        self.traces = out
        return means

    def __call__(self, inv_means, height, width, radius, classes, npoints, wr, wi,
                 centre_ok, smooth, progress=None) -> np.ndarray:
        """:func:`ipcf_tile` of the loaded tile (arguments as there)."""
        return ipcf_tile(self.traces, inv_means, height, width, radius, classes, npoints, wr,
                         wi, centre_ok, smooth, progress, spec_out=self.spec[: height * width])
