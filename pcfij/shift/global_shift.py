"""Global shift from local shifts at selected points (algotom's
``find_global_shift_based_local_shifts``)."""

from __future__ import annotations

import warnings

import numpy as np

from pcfij.errors import InputError, ShiftAtMarginWarning
from pcfij.shift._common import (
    as_f64,
    check_array,
    check_margin,
    check_window_fits,
    device_mode,
    method_code,
    odd_win,
    same_shape,
)
from pcfij.shift.corrmap import correlation_peak
from pcfij.shift.normalize import normalize_image

GLOBAL_VALUES = ("median", "mean", "mixed")


def find_global_shift_based_local_shifts(ref_mat, mat, win_size, margin, list_ij=None,
                                         num_point=None, global_value="mixed", gpu=False,
                                         block=32, sub_pixel=True, method="diff", size=3,
                                         ncore=None, norm=False, return_list=False,
                                         seed=None, *, device=None):
    """Find the global shift between two images from local shifts at a few points.

    Parameters
    ----------
    ref_mat, mat : array_like
        2D arrays of the same shape.
    win_size : int
        Size of the area of ``mat`` around each point (e.g. 41, 61; rounded up to odd).
    margin : int
        Search range in pixels (e.g. 20, 30).
    list_ij : [i, j] or [[i0, i1, ...], [j0, j1, ...]] or None
        Row (i) and column (j) indices of the points. Points outside the valid box
        (``margin + win_size // 2`` from the edges, exclusive) are dropped; an error is
        raised if none is left. None: ``num_point`` random points.
    num_point : int or None
        Number of random points when ``list_ij`` is None (default 30).
    global_value : {"median", "mean", "mixed"}
        How local values are combined: median; mean (of the sorted values without the two
        lowest and two highest when there are more than 7); "mixed": mean of the middle
        (up to 6) sorted values.
    gpu : bool, optional
        Compute correlation maps on the GPU.
    device : {"auto", "cpu", "gpu"}, optional
        pcfij's device choice, shared with ipCF and CCC (None: use ``gpu``). ``"gpu"``
        without CuPy and a CUDA GPU raises InputError; ``"auto"`` falls back to the CPU
        silently. When given, it decides over ``gpu``.
    block : int, optional
        Accepted for compatibility with algotom.
    sub_pixel, method, size :
        Sub-pixel options, see :func:`locate_peak`.
    ncore : int or None
        Accepted for compatibility (points are processed one after the other; each map is
        computed in parallel).
    norm : bool, optional
        Normalize the images first (see :func:`normalize_image`).
    return_list : bool
        Return the local values instead of the global one.
    seed : int or numpy.random.Generator, optional
        Random points are reproducible with a seed (pcfij extension).

    Returns
    -------
    x, y : float or ndarray
        Global shift (or the local shifts if ``return_list``), same sign convention as
        :func:`find_shift_based_correlation_map`.

    Warns
    -----
    ShiftAtMarginWarning (a RuntimeWarning)
        Once, saying how many points had their correlation peak on the edge of the search
        window (shift may be larger) or had no peak (constant window).
    """
    if global_value not in GLOBAL_VALUES:
        raise InputError(f"global_value must be one of {', '.join(GLOBAL_VALUES)}; "
                         f"got {global_value!r}")
    mode = device_mode(gpu, device=device)
    method_code(method)
    ref_mat = check_array(ref_mat, "ref_mat", ndims=(2,))
    mat = check_array(mat, "mat", ndims=(2,))
    same_shape(ref_mat, mat)
    win = odd_win(win_size)
    margin = check_margin(margin)
    h, w = ref_mat.shape
    rad = win // 2
    start = rad + margin
    check_window_fits(h, w, win, margin)
    ref = as_f64(ref_mat, "ref_mat")
    mov = as_f64(mat, "mat")
    if norm:
        ref = normalize_image(ref)
        mov = normalize_image(mov)
    if list_ij is None:
        npts = 30 if num_point is None else int(num_point)
        if npts < 1:
            raise InputError(f"num_point must be at least 1; got {num_point!r}")
        rng = np.random.default_rng(seed)
        li = rng.integers(start, h - start, size=npts)
        lj = rng.integers(start, w - start, size=npts)
    else:
        li, lj = _points(list_ij, h, w, start)
    xs, ys = [], []
    edge = flat = 0
    for i, j in zip(li, lj):
        peak = correlation_peak(
            ref[i - start:i + start + 1, j - start:j + start + 1],
            mov[i - rad:i + rad + 1, j - rad:j + rad + 1],
            margin, None, sub_pixel, method, 2, size, mode == "gpu")
        xs.append(peak.x)
        ys.append(peak.y)
        flat += peak.flat
        edge += peak.at_margin and not peak.flat
    xs = np.asarray(xs)
    ys = np.asarray(ys)
    if edge or flat:
        parts = []
        if edge:
            parts.append(f"{edge} on the edge of the search window (their shift may be "
                         "larger than margin; increase margin)")
        if flat:
            parts.append(f"{flat} where an image is constant (no peak; reported as "
                         "-margin, -margin)")
        warnings.warn(f"of {xs.size} points, " + " and ".join(parts),
                      ShiftAtMarginWarning, stacklevel=2)
    if return_list:
        return xs, ys
    return _combine(xs, global_value), _combine(ys, global_value)


def _combine(v: np.ndarray, how: str) -> float:
    n = v.size
    if how == "median":
        return float(np.median(v))
    if how == "mixed":
        mid = n // 2
        lo = max(mid - 3, 0)
        hi = min(max(mid + 3, mid), n)
        if hi > lo:
            return float(np.mean(np.sort(v)[lo:hi]))
        return float(np.median(v))
    if n > 7:
        return float(np.mean(np.sort(v)[2:-2]))
    return float(np.mean(v))


def _points(list_ij, h: int, w: int, gap: int):
    fmt = ("list_ij must be [i, j] for a single point or [[i0, i1, ...], [j0, j1, ...]] "
           "for several points")
    if not isinstance(list_ij, (list, tuple, np.ndarray)) or len(list_ij) != 2:
        raise InputError(fmt)
    li = np.asarray(list_ij[0])
    lj = np.asarray(list_ij[1])
    box = f"rows and columns strictly between {gap} and {h - gap} / {w - gap}"
    if li.ndim == 0 and lj.ndim == 0:
        i, j = int(li), int(lj)
        if h - gap > i > gap and w - gap > j > gap:
            return [i], [j]
        raise InputError(f"the point ({i}, {j}) is not inside the valid box ({box})")
    if li.ndim != 1 or lj.ndim != 1:
        raise InputError(fmt)
    if li.size != lj.size:
        raise InputError("the lists of row and column indices must have the same length")
    keep = [(int(i), int(j)) for i, j in zip(li, lj) if h - gap > i > gap and w - gap > j > gap]
    if not keep:
        raise InputError(f"none of the given points is inside the valid box ({box})")
    return [k[0] for k in keep], [k[1] for k in keep]
