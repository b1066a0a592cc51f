"""Image normalisation used before Pearson correlation (algotom's ``normalize_image``)."""

from __future__ import annotations

import numpy as np

from pcfij.shift._common import check_array, check_finite, safe_sums


def normalize_image(mat):
    """Normalize an image.

    Parameters
    ----------
    mat : array_like
        2D or 3D array.

    Returns
    -------
    array_like
        2D or 3D array. Normalized image: a 2D image is divided by its column sums and by
        its row sums, then standardised to zero mean and unit standard deviation; a 3D
        stack is standardised globally and shifted so that its minimum is 0.
    """
    mat = check_array(mat, "mat")
    a = np.asarray(mat)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    check_finite(a, "mat")
    if a.ndim == 3:
        out = (a - a.mean()) / a.std()
        return out - out.min()
    col = a.sum(axis=0)
    row = a.sum(axis=1)[:, None]
    out = a / col / row
    return (out - out.mean()) / out.std()


def scale_by_sums_2d(a: np.ndarray) -> np.ndarray:
    """Divide a 2D image by its column sums and its row sums (zero sums count as 1)."""
    return a / safe_sums(a.sum(axis=0))[None, :] / safe_sums(a.sum(axis=1))[:, None]


def scale_slabs_x(a: np.ndarray) -> np.ndarray:
    """2D normalisation of every (depth, width) slab ``a[:, i, :]`` of a (D, H, W) chunk.

    The final standardisation of ``normalize_image`` is left out: it is an affine map of
    the whole slab, to which Pearson coefficients of windows inside the slab are blind.
    """
    return a / safe_sums(a.sum(axis=0))[None, :, :] / safe_sums(a.sum(axis=2))[:, :, None]


def scale_slabs_y(a: np.ndarray) -> np.ndarray:
    """2D normalisation of every (depth, rows) slab ``a[:, :, j]`` of a (D, H, W) chunk."""
    return a / safe_sums(a.sum(axis=0))[None, :, :] / safe_sums(a.sum(axis=1))[:, None, :]
