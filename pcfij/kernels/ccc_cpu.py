"""CPU back-end of CCC: float32 FFTs (``scipy.fft``) and numba radial-profile kernels.

The radial profile needs, for every pixel of a correlation image, the group of pixels that
share its exact calibrated distance from the zero-shift pixel. Distances only depend on the
absolute shift per axis, so groups are looked up in a small "folded" table
(``lut[|dz|, |dy|, |dx|]``, int32, about ``1 / 2**ndim`` of the image) instead of a
full-size index image; the kernels below walk the image once and never allocate.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.fft


@numba.njit(cache=True)
def _sums_2d(img, lut, c0, c1, out):  # pragma: no cover - compiled
    n0, n1 = img.shape
    for i in range(n0):
        row = lut[abs(i - c0)]
        for j in range(n1):
            out[row[abs(j - c1)]] += img[i, j]


@numba.njit(cache=True)
def _sums_3d(img, lut, c0, c1, c2, out):  # pragma: no cover - compiled
    n0, n1, n2 = img.shape
    for i in range(n0):
        plane = lut[abs(i - c0)]
        for j in range(n1):
            row = plane[abs(j - c1)]
            for k in range(n2):
                out[row[abs(k - c2)]] += img[i, j, k]


@numba.njit(parallel=True, cache=True)
def _weight_2d(img, lut, c0, c1, w):  # pragma: no cover - compiled
    n0, n1 = img.shape
    for i in numba.prange(n0):
        row = lut[abs(i - c0)]
        for j in range(n1):
            img[i, j] *= w[row[abs(j - c1)]]


@numba.njit(parallel=True, cache=True)
def _weight_3d(img, lut, c0, c1, c2, w):  # pragma: no cover - compiled
    n0, n1, n2 = img.shape
    for i in numba.prange(n0):
        plane = lut[abs(i - c0)]
        for j in range(n1):
            row = plane[abs(j - c1)]
            for k in range(n2):
                img[i, j, k] *= w[row[abs(k - c2)]]


class CpuBackend:
    """FFTs and profile kernels on the CPU; arrays are NumPy arrays (float32 / complex64)."""

    name = "cpu"
    xp = np

    def __init__(self, workers: int = -1) -> None:
        self.workers = workers

    # -- FFTs (float32 in, complex64 out: scipy.fft keeps single precision)
    def rfft(self, x, n: int):
        return scipy.fft.rfft(x, n=n, axis=-1, workers=self.workers)

    def irfft(self, x, n: int):
        return scipy.fft.irfft(x, n=n, axis=-1, workers=self.workers)

    def fftn(self, x, axes):
        return scipy.fft.fftn(x, axes=axes, workers=self.workers, overwrite_x=True)

    def ifftn(self, x, axes):
        return scipy.fft.ifftn(x, axes=axes, workers=self.workers, overwrite_x=True)

    # -- transfers (no-ops on the CPU)
    def asarray(self, host):
        return np.asarray(host)

    def to_host(self, arr):
        return arr

    def store(self, out, index, block) -> None:
        out[index] = block

    # -- radial profile
    def profile_sums(self, image: np.ndarray, lut: np.ndarray, ngroups: int) -> np.ndarray:
        """Sum the pixels of ``image`` per distance group (float64, length ``ngroups``)."""
        out = np.zeros(ngroups, dtype=np.float64)
        centre = [n // 2 for n in image.shape]
        if image.ndim == 2:
            _sums_2d(image, lut, *centre, out)
        else:
            _sums_3d(image, lut, *centre, out)
        return out

    def apply_group_weights(self, image: np.ndarray, lut: np.ndarray, weights: np.ndarray):
        """Multiply every pixel in place by the weight of its distance group."""
        centre = [n // 2 for n in image.shape]
        w = np.ascontiguousarray(weights, dtype=np.float32)
        if image.ndim == 2:
            _weight_2d(image, lut, *centre, w)
        else:
            _weight_3d(image, lut, *centre, w)
        return image
