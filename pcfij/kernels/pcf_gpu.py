"""GPU (CuPy) path of the fast ipCF algorithm; mirrors :mod:`pcfij.kernels.pcf_cpu`.

Written against a :class:`~pcfij.kernels.backend.Backend` (CuPy on the GPU); nothing here is
CuPy-specific, so the tests run the very same code with ``GpuBackend(xp=numpy)`` on
machines without a GPU. Per image and tile:

* the input goes to the device once (when it fits in a quarter of the free device memory;
  else tile by tile) and each tile's mean-subtracted float32 traces are made there;
* one real FFT of all the tile's traces (cuFFT);
* the pairs of all offset classes (:mod:`pcfij.kernels.pcf_plan`, host side, shared with
  the CPU path) in batches: two gathers and one product give the cross spectra
  ``X = B conj(A)``; one complex matrix product ``X @ [W | conj(W)]`` with
  ``W = wr + i wi`` gives both directions' bin averages at once (``Re(X W)`` is the forward
  curve, ``Re(X conj(W))`` the reverse one; cuBLAS);
* normalisation by the means, the tutorial's smoothing as one small matrix product (it is
  linear), and one scatter of all curves into the result.
"""

from __future__ import annotations

import numpy as np

from pcfij.kernels.pcf_plan import OffsetClass, curve_targets, tile_pairs

#: device scratch bytes per batch of pairs (two gathered spectra and their product)
BATCH_BYTES = 1 << 30
#: fraction of the free device memory the whole input may take to be uploaded at once
UPLOAD_FRACTION = 0.25


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


def smoothing_matrix(nbins: int) -> np.ndarray:
    """``R`` (nbins, nbins) float64 with ``curves @ R == smooth_rows(curves)`` (identity if
    fewer than 2 bins): the smoothing is linear, so it is one matrix product on the GPU."""
    return smooth_rows(np, np.eye(nbins))


def batch_pairs(ntimes: int) -> int:
    """Pairs per batch: :data:`BATCH_BYTES` over three complex64 spectra per pair."""
    per_pair = 3 * (ntimes // 2 + 1) * 8
    return int(min(1 << 16, max(256, BATCH_BYTES // per_pair)))


def ipcf_tile(
    backend,
    traces,
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
    """Compute one tile's ipCF on ``backend``.

    Parameters
    ----------
    traces : device array, shape (height * width, T), float32
        Mean-subtracted traces of the tile (on ``backend``), row-major pixel order.
    Others
        As :func:`pcfij.kernels.pcf_cpu.ipcf_tile`.

    Returns
    -------
    ndarray, shape (height - 2r, width - 2r, npoints, nbins), float32 (host)
    """
    xp = backend.xp
    nbins = wr.shape[1]
    oh, ow = height - 2 * radius, width - 2 * radius
    ntimes = traces.shape[1]
    result = xp.full((oh * ow * npoints, nbins), xp.nan, dtype=xp.float32)
    spec = backend.rfft(traces, axis=1)  # complex64 (pixels, T/2+1)
    w = (np.asarray(wr, np.float64) + 1j * np.asarray(wi, np.float64)).astype(np.complex64)
    w_both = backend.asarray(np.concatenate([w, w.conj()], axis=1))  # (F, 2 nbins)
    smat = backend.asarray(smoothing_matrix(nbins)) if smooth else None
    inv = np.asarray(inv_means, np.float64)

    centre, neighbour, out_fwd, out_rev, cls_idx = tile_pairs(height, width, radius, classes,
                                                              centre_ok)
    norm = inv[centre] * inv[neighbour] / ntimes
    fwd_pair, fwd_row = curve_targets(out_fwd, cls_idx, [c.forward for c in classes], npoints)
    rev_pair, rev_row = curve_targets(out_rev, cls_idx, [c.reverse for c in classes], npoints)
    step = batch_pairs(ntimes)
    for s in range(0, centre.size, step):
        e = min(s + step, centre.size)
        c_d = backend.asarray(centre[s:e])
        n_d = backend.asarray(neighbour[s:e])
        cross = spec[n_d]
        cross *= xp.conj(spec[c_d])  # X = B conj(A), (m, F)
        both = (cross @ w_both).real.astype(xp.float64)  # (m, 2 nbins): forward | reverse
        del cross
        both *= backend.asarray(norm[s:e])[:, None]
        done = 0
        for half, pair, row in ((0, fwd_pair, fwd_row), (1, rev_pair, rev_row)):
            lo, hi = np.searchsorted(pair, [s, e])
            if hi == lo:
                continue
            curves = both[:, half * nbins : (half + 1) * nbins]
            if smat is not None:
                curves = curves @ smat
            src = backend.asarray(pair[lo:hi] - s)
            result[backend.asarray(row[lo:hi])] = curves[src].astype(xp.float32)
            done += int(hi - lo)
        if progress is not None:
            progress(done)
    return backend.to_host(result.reshape(oh, ow, npoints, nbins))


class TileKernel:
    """The GPU ipCF of an image, one tile at a time (interface of
    :class:`pcfij.kernels.pcf_cpu.TileKernel`).

    The whole input is copied to the device once when it takes at most
    :data:`UPLOAD_FRACTION` of the free device memory; otherwise each tile (with its halo)
    is copied when loaded. Traces are made on the device: means summed in float64, traces
    ``float32(sample - mean)`` as on the CPU.
    """

    def __init__(self, backend, source: np.ndarray, ntimes: int, max_pixels: int,
                 image_shape: tuple[int, int]) -> None:
        self.backend = backend
        self.ntimes = int(ntimes)
        self.width = int(image_shape[1])
        frames = source[: self.ntimes] if source.ndim == 3 else source
        fits = frames.nbytes <= UPLOAD_FRACTION * backend.memory().free
        self.source = backend.asarray(frames) if fits else frames
        self.traces = None

    def load(self, y0: int, x0: int, height: int, width: int) -> np.ndarray:
        """Make the tile's mean-subtracted traces on the device; return the means (host,
        float64, shape (height * width,))."""
        be, xp = self.backend, self.backend.xp
        if self.source.ndim == 3:
            tile = be.asarray(self.source[:, y0 : y0 + height, x0 : x0 + width])
            rows = tile.reshape(self.ntimes, height * width).T  # (pixels, T) view
        else:
            pix = (np.arange(y0, y0 + height)[:, None] * self.width
                   + np.arange(x0, x0 + width)[None, :]).ravel()
            if isinstance(self.source, np.ndarray) and xp is not np:  # host rows
                rows = be.asarray(self.source[pix, : self.ntimes])
            else:
                rows = self.source[be.asarray(pix), : self.ntimes]
        samples = rows.astype(xp.float64)
        means = samples.sum(axis=1) / self.ntimes
        samples -= means[:, None]
        self.traces = xp.ascontiguousarray(samples, dtype=xp.float32)
        del samples
        return be.to_host(means)

    def __call__(self, inv_means, height, width, radius, classes, npoints, wr, wi,
                 centre_ok, smooth, progress=None) -> np.ndarray:
        """:func:`ipcf_tile` of the loaded tile."""
        return ipcf_tile(self.backend, self.traces, inv_means, height, width, radius,
                         classes, npoints, wr, wi, centre_ok, smooth, progress)
