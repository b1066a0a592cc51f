"""Sub-pixel location of the maximum of a 2D array (algotom's ``locate_peak``)."""

from __future__ import annotations

import warnings

import numpy as np

from pcfij.errors import InputError
from pcfij.kernels import shift_cpu as cpu
from pcfij.shift._common import (
    check_array,
    check_dim,
    check_finite,
    method_code,
    peak_window,
)


def locate_peak(mat, sub_pixel=True, method="diff", dim=2, size=3, max_peak=True):
    """Locate the position of the maximum value of a 2d-array with sub-pixel accuracy.

    Parameters
    ----------
    mat : array_like
        2D array.
    sub_pixel : bool, optional
        Enable sub-pixel location.
    method : {"diff", "poly_fit"}
        Sub-pixel method: finite differences around the maximum (a Newton step on the
        3 x 3 neighbourhood) or a least-squares parabola/quadric fit.
    dim : {1, 2}
        1: locate x on the peak's row and y on the peak's column separately;
        2: locate (x, y) together.
    size : int
        Window size around the integer maximum used by "poly_fit" (made odd and clipped
        to 3..9); "diff" always uses 3.
    max_peak : bool, optional
        Locate the minimum instead if False.

    Returns
    -------
    tuple of two floats
        Sub-pixel position (x, y), i.e. (column, row), of the maximum value. On the border
        of the array only the coordinate along the border is refined; at a corner, or
        when ``sub_pixel`` is False, the integer position is returned.
    """
    mat = check_array(mat, "mat", ndims=(2,))
    code = method_code(method)
    dim = check_dim(dim)
    m = check_finite(np.ascontiguousarray(np.asarray(mat, dtype=np.float64)), "mat")
    if m.size == 0:
        raise InputError("mat is empty")
    if not max_peak:
        m = m.max() - m
    eff = peak_window(code, size)
    if code == cpu.POLY and int(size) > 9:
        warnings.warn("size is clipped to 9 for the poly_fit method", RuntimeWarning,
                      stacklevel=2)
    p1, p2 = cpu.poly_tables(eff)
    x, y = cpu.locate(m, bool(sub_pixel), code, dim, eff, p1, p2)
    return float(x), float(y)
