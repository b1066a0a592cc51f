"""CPU back-end of CCC: float32 FFTs (``scipy.fft``) and numba radial-profile kernels.

The radial profile needs, for every pixel of a correlation image, the group of pixels that
share its exact calibrated distance from the profile centre. Distances only depend on the
absolute offset per axis, so groups are looked up in a small "folded" table
(``lut[fz[i], fy[j], fx[k]]``, int32, about ``1 / 2**ndim`` of the image, with one fold index
array per axis) instead of a full-size index image; the kernels walk the image once and
never allocate.
"""

from __future__ import annotations

import numba
import numpy as np

from pcfij.kernels import backend
from pcfij.kernels.memory import release_free_memory

__all__ = ["CpuBackend", "release_free_memory"]


@numba.njit(cache=True)
def _sums_2d(img, lut, f0, f1, out):  # pragma: no cover - compiled
    n0, n1 = img.shape
    for i in range(n0):
        row = lut[f0[i]]
        for j in range(n1):
            out[row[f1[j]]] += img[i, j]


@numba.njit(cache=True)
def _sums_3d(img, lut, f0, f1, f2, out):  # pragma: no cover - compiled
    n0, n1, n2 = img.shape
    for i in range(n0):
        plane = lut[f0[i]]
        for j in range(n1):
            row = plane[f1[j]]
            for k in range(n2):
                out[row[f2[k]]] += img[i, j, k]


@numba.njit(parallel=True, cache=True)
def _weight_2d(img, lut, f0, f1, w):  # pragma: no cover - compiled
    n0, n1 = img.shape
    for i in numba.prange(n0):
        row = lut[f0[i]]
        for j in range(n1):
            img[i, j] *= w[row[f1[j]]]


@numba.njit(parallel=True, cache=True)
def _weight_3d(img, lut, f0, f1, f2, w):  # pragma: no cover - compiled
    n0, n1, n2 = img.shape
    for i in numba.prange(n0):
        plane = lut[f0[i]]
        for j in range(n1):
            row = plane[f1[j]]
            for k in range(n2):
                img[i, j, k] *= w[row[f2[k]]]


class CpuBackend(backend.CpuBackend):
    """The CPU :class:`~pcfij.kernels.backend.Backend` plus CCC's profile kernels.

    FFTs (float32 in, complex64 out: ``scipy.fft`` keeps single precision), transfers and
    :meth:`release` (freed host memory back to the operating system) are the base class's.
    """

    def to_host(self, arr):
        return arr

    def store(self, out, index, block) -> None:
        out[index] = block

    # -- radial profile
    def profile_sums(self, image: np.ndarray, lut: np.ndarray, ngroups: int, fold, *,
                     out=None) -> np.ndarray:
        """Sum the pixels of ``image`` per distance group (float64, length ``ngroups``).

        ``fold`` holds one fold-index array per axis of ``image`` (see
        :class:`pcfij.ccc.profile.RadialBinning`; for a slab of rows, the slab's part of the
        first one); sums are added to ``out`` when given, so slabs taken in order give
        exactly the sums of the whole image.
        """
        if out is None:
            out = np.zeros(ngroups, dtype=np.float64)
        if image.ndim == 2:
            _sums_2d(image, lut, *fold, out)
        else:
            _sums_3d(image, lut, *fold, out)
        return out

    def apply_group_weights(self, image: np.ndarray, lut: np.ndarray, weights: np.ndarray,
                            fold):
        """Multiply every pixel in place by the weight of its distance group."""
        w = np.ascontiguousarray(weights, dtype=np.float32)
        if image.ndim == 2:
            _weight_2d(image, lut, *fold, w)
        else:
            _weight_3d(image, lut, *fold, w)
        return image
