"""CPU back-end of CCC: float32 FFTs (``scipy.fft``) and numba radial-profile kernels.

The radial profile needs, for every pixel of a correlation image, the group of pixels that
share its exact calibrated distance from the profile centre. Distances only depend on the
absolute offset per axis, so groups are looked up in a small "folded" table
(``lut[fz[i], fy[j], fx[k]]``, int32, about ``1 / 2**ndim`` of the image, with one fold index
array per axis) instead of a full-size index image; the kernels walk the image once and
never allocate.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import numba
import numpy as np
import scipy.fft


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


def _load_malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


_MALLOC_TRIM = _load_malloc_trim()


def release_free_memory() -> None:
    """Give memory freed by NumPy back to the operating system (glibc only; else no-op).

    glibc raises its mmap threshold after large arrays are freed, so later medium-size
    arrays (FFT slabs, lookup tables) come from the heap, whose freed pages stay in the
    process (resident) until ``malloc_trim``. Called between the stages of a CCC analysis so
    that the memory freed by one stage is not counted twice at the next stage's peak.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


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

    def release(self) -> None:
        """Return freed host memory to the operating system (see :func:`release_free_memory`)."""
        release_free_memory()

    # -- transfers (no-ops on the CPU)
    def asarray(self, host):
        return np.asarray(host)

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
