"""Pearson correlation maps and global shifts (algotom's ``generate_correlation_map`` and
``find_shift_based_correlation_map``)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from pcfij.errors import InputError, ShiftAtMarginWarning
from pcfij.kernels import shift_cpu as cpu
from pcfij.kernels import shift_gpu as gpuk
from pcfij.shift._common import (
    as_f64,
    check_array,
    check_dim,
    check_margin,
    device_mode,
    method_code,
    standardize,
    xp_for,
)
from pcfij.shift.peak import locate_peak


def generate_correlation_map(ref_mat, mat, gpu=False, block=(16, 16), *, device=None):
    """Generate the correlation map (Pearson coefficients) between two images by shifting
    the second image over the reference image.

    Parameters
    ----------
    ref_mat : array_like
        2D or 3D array. The reference image (height0 x width0, or depth x height0 x width0).
    mat : array_like
        2D or 3D array. The second image (height1 x width1), not larger than the reference.
        If 3D, its depth must equal the reference's.
    gpu : bool or {"auto", "cpu", "gpu"}, optional
        Use the GPU if True (warns and uses the CPU when no GPU is available).
    device : {"auto", "cpu", "gpu"}, optional
        pcfij's device choice, shared with ipCF and CCC (None: use ``gpu``). ``"gpu"``
        without CuPy and a CUDA GPU raises InputError; ``"auto"`` falls back to the CPU
        silently. When given, it decides over ``gpu``.
    block : tuple of two int, optional
        Accepted for compatibility with algotom (CuPy chooses its own launch geometry).

    Returns
    -------
    ndarray, float32
        2D array of shape (height0 - height1 + 1, width0 - width1 + 1): the coefficient
        for ``mat`` placed with its top-left corner at each position of ``ref_mat``.
        Positions where either window is constant get 0.
    """
    mode = device_mode(gpu, device=device)
    ref_mat = check_array(ref_mat, "ref_mat")
    mat = check_array(mat, "mat")
    if len(ref_mat.shape) != len(mat.shape):
        raise InputError(
            f"ref_mat and mat must both be 2D or both 3D; got shapes {tuple(ref_mat.shape)} "
            f"and {tuple(mat.shape)}")
    h0, w0 = ref_mat.shape[-2:]
    h1, w1 = mat.shape[-2:]
    if h1 > h0 or w1 > w0:
        raise InputError(
            f"mat ({h1} x {w1}) must not be larger than ref_mat ({h0} x {w0})")
    if len(ref_mat.shape) == 3 and ref_mat.shape[0] != mat.shape[0]:
        raise InputError(
            f"ref_mat and mat must have the same depth (axis 0); got {ref_mat.shape[0]} "
            f"and {mat.shape[0]}")
    if h1 == 0 or w1 == 0:
        raise InputError("mat is empty")
    ref3 = as_f64(ref_mat, "ref_mat").reshape((-1, h0, w0))
    mat3 = as_f64(mat, "mat").reshape((-1, h1, w1))
    if mode == "cpu":
        return cpu.corr_map(standardize(ref3), mat3)
    xp = xp_for(mode)
    return gpuk.to_host(gpuk.corr_map(xp, xp.asarray(ref3), xp.asarray(mat3)))


@dataclass(frozen=True)
class Peak:
    """A global shift with what is known about its correlation peak (internal).

    ``x``, ``y``: the shift as :func:`find_shift_based_correlation_map` returns it;
    ``edge_x``, ``edge_y``: the integer peak lies on the edge of the search window along
    that axis (the true shift may be larger); ``range_x``, ``range_y``: the search range
    (+-pixels); ``flat``: the map is zero everywhere (one image is constant), so there is
    no peak and no answer.
    """

    x: float
    y: float
    edge_x: bool
    edge_y: bool
    range_x: int
    range_y: int
    flat: bool

    @property
    def at_margin(self) -> bool:
        return self.edge_x or self.edge_y


def find_shift_based_correlation_map(ref_mat, mat, margin=10, axis=None, sub_pixel=True,
                                     method="diff", dim=2, size=3, gpu=False, block=(16, 16),
                                     *, device=None):
    """Find the translation of the second image relative to the first from the correlation
    map made by sliding the second image over the first.

    Parameters
    ----------
    ref_mat : array_like
        2D or 3D array. Reference image.
    mat : array_like
        2D or 3D array. The second image. If 3D, its depth must equal the reference's.
    margin : int, optional
        When both images have the same size, ``mat`` is cropped by ``margin`` on each side
        (only along ``axis`` when given) before sliding; this sets the search range
        (+-margin pixels). A smaller ``mat`` is used whole.
    axis : {0, 1, None}
        Slide along rows only (0: y shift, x = 0.0), columns only (1: x shift, y = 0.0) or
        both (None). For 3D inputs 0 and 1 mean axes 1 and 2.
    sub_pixel, method, dim, size :
        Sub-pixel peak options, see :func:`locate_peak` (with ``axis`` given, ``dim`` 1 is
        used).
    gpu : bool, optional
        Compute the correlation map on the GPU.
    device : {"auto", "cpu", "gpu"}, optional
        pcfij's device choice, shared with ipCF and CCC (None: use ``gpu``). ``"gpu"``
        without CuPy and a CUDA GPU raises InputError; ``"auto"`` falls back to the CPU
        silently. When given, it decides over ``gpu``.
    block : tuple of two int, optional
        Accepted for compatibility with algotom.

    Returns
    -------
    tuple of two floats
        (x, y) shift of the second image from the middle of the correlation map. If
        ``mat = scipy.ndimage.shift(ref_mat, (dy, dx))`` the result is about (-dx, -dy).

    Raises
    ------
    InputError (a ValueError)
        If the shapes and ``margin`` leave nothing to slide (same-size images need
        ``size - 2 * margin >= 4``; the message names the largest margin that fits), the
        images hold NaN or infinite values, or one of them is constant where they are
        compared (no correlation peak, so no shift).

    Warns
    -----
    ShiftAtMarginWarning (a RuntimeWarning)
        When the correlation peak lies on the edge of the search window: the shift
        returned (+-margin along that axis) is where the search stopped, and the true
        shift may be larger. Increase ``margin``.
    """
    peak = correlation_peak(ref_mat, mat, margin, axis, sub_pixel, method, dim, size, gpu,
                            block, device=device)
    if peak.flat:
        raise InputError(_flat_message(ref_mat, mat))
    if peak.at_margin:
        warnings.warn(edge_message(peak), ShiftAtMarginWarning, stacklevel=2)
    return peak.x, peak.y


FLAT_MESSAGE = ("no correlation peak: ref_mat or mat is constant (every pixel the same) "
                "where they are compared, so no shift can be found")


def _flat_message(ref_mat, mat) -> str:
    """Name the constant input when a whole image is constant, else the general text."""
    for name, a in (("mat", mat), ("ref_mat", ref_mat)):
        arr = np.asarray(a)
        if arr.size and arr.min() == arr.max():
            return (f"{name} is constant (every pixel {arr.flat[0]:g}): it has no correlation "
                    "peak, so no shift can be found")
    return FLAT_MESSAGE


def edge_message(peak: Peak) -> str:
    """The warning text for a peak on the edge of the search window."""
    axes = [f"{n} = {v:+g} px (search range +-{r})" for n, v, r, e in
            (("x", peak.x, peak.range_x, peak.edge_x), ("y", peak.y, peak.range_y, peak.edge_y))
            if e]
    return ("the correlation peak lies on the edge of the search window ("
            + ", ".join(axes) + "): the true shift may be larger than found; "
            "increase margin")


def correlation_peak(ref_mat, mat, margin=10, axis=None, sub_pixel=True, method="diff",
                     dim=2, size=3, gpu=False, block=(16, 16), *, device=None) -> Peak:
    """:func:`find_shift_based_correlation_map` without warnings or refusals of the result:
    the shift plus whether its peak is on the edge of the search window or missing."""
    margin = check_margin(margin)
    if axis not in (0, 1, None):
        raise InputError(f"axis must be 0, 1 or None; got {axis!r}")
    method_code(method)
    check_dim(dim)
    ref_mat = check_array(ref_mat, "ref_mat")
    mat = check_array(mat, "mat")
    h0, w0 = ref_mat.shape[-2:]
    h1, w1 = mat.shape[-2:]
    three = len(mat.shape) == 3
    ok_crop = True
    if (h0, w0) == (h1, w1) and margin > 0:
        _check_crop(h1, w1, margin, axis)
        if axis == 0:
            mat = mat[:, margin:-margin, :] if three else mat[margin:-margin, :]
        elif axis == 1:
            mat = mat[:, :, margin:-margin] if three else mat[:, margin:-margin]
        else:
            mat = (mat[:, margin:-margin, margin:-margin] if three
                   else mat[margin:-margin, margin:-margin])
        h1, w1 = mat.shape[-2:]
    elif (h0, w0) == (h1, w1):
        ok_crop = h1 > 3 and w1 > 3
    if ok_crop:
        if axis == 0:
            fits = h0 - 2 * margin >= h1
        elif axis == 1:
            fits = w0 - 2 * margin >= w1
        else:
            fits = not (h0 - 2 * margin < h1 and w0 - 2 * margin < w1)
        if not fits:
            raise InputError(
                f"the image shapes ({h0} x {w0} and {h1} x {w1}) and margin={margin} don't "
                "match: a smaller mat must leave at least margin pixels on each side")
    cmap = generate_correlation_map(ref_mat, mat, gpu, block, device=device)
    h2, w2 = cmap.shape
    ymid, xmid = h2 // 2, w2 // 2
    if axis is None:
        xpk, ypk = locate_peak(cmap, sub_pixel=sub_pixel, method=method, dim=dim, size=size)
    else:
        xpk, ypk = locate_peak(cmap, sub_pixel=sub_pixel, method=method, dim=1, size=size)
        if axis == 0:
            xpk = xmid
        else:
            ypk = ymid
    # the integer maximum, found as locate_peak finds it (first one in row-major order)
    iy, ix = divmod(int(np.argmax(cmap)), w2)
    return Peak(float(xpk - xmid), float(ypk - ymid),
                edge_x=axis != 0 and w2 > 1 and ix in (0, w2 - 1),
                edge_y=axis != 1 and h2 > 1 and iy in (0, h2 - 1),
                range_x=w2 // 2, range_y=h2 // 2, flat=not np.any(cmap))


def _check_crop(height: int, width: int, margin: int, axis) -> None:
    """Refuse a margin that leaves fewer than 4 pixels of same-size images to slide
    (algotom then slides the whole image, a 1 x 1 map whose answer is always 0, 0)."""
    sides = {0: [("height", height)], 1: [("width", width)]}.get(
        axis, [("height", height), ("width", width)])
    name, n = min(sides, key=lambda t: t[1])
    if n - 2 * margin > 3:
        return
    best = (n - 4) // 2
    fix = (f"the largest margin that fits is {best}" if best >= 0 else
           "the images need at least 4 pixels along the searched axes")
    raise InputError(
        f"margin {margin} is too large for images of {height} x {width} pixels: cropping "
        f"{margin} pixels from each side of the {name} ({n}) leaves fewer than 4 to slide; "
        f"{fix}")
