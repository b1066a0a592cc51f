"""Local shift maps (algotom's ``find_local_shifts``)."""

from __future__ import annotations

import numpy as np

from pcfij.kernels import shift_cpu as cpu
from pcfij.kernels import shift_gpu as gpuk
from pcfij.shift._common import (
    as_f64,
    check_array,
    check_dim,
    check_margin,
    check_ncore,
    check_window_fits,
    chunk_count,
    device_mode,
    global_stats,
    method_code,
    odd_win,
    peak_window,
    same_shape,
    split_rows,
    standardize,
    xp_for,
)
from pcfij.shift.normalize import scale_by_sums_2d, scale_slabs_x, scale_slabs_y

#: output rows per band of a 2D image on the GPU
GPU_ROWS = 256


def find_local_shifts(ref_mat, mat, dim=1, win_size=7, margin=10, method="diff", size=3,
                      gpu=False, block=(16, 16), ncore=None, norm=True, norm_global=False,
                      chunk_size=100, *, device=None):
    """Find local shifts (in x and y) between two images by sliding a small area/volume of
    the second image over a slightly larger area/volume of the reference image.

    Parameters
    ----------
    ref_mat : array_like
        2D/3D array: a NumPy array, memory map, HDF5 or Zarr dataset. Reference image.
    mat : array_like
        2D/3D array of the same shape. The second image.
    dim : {1, 2}
        For 3D stacks: find x and y separately, each with (depth x win_size) slabs slid
        along one axis (1), or together with (depth x win_size x win_size) volumes slid in
        both (2). No effect on 2D images (always 2).
    win_size : int
        Size of local areas in the second image (rounded up to odd).
    margin : int
        Sliding range: +-margin pixels.
    method : {"diff", "poly_fit"}
        Sub-pixel method (see :func:`locate_peak`); available on every device here.
    size : int
        Sub-pixel window for "poly_fit".
    gpu : {False, True, "hybrid"} or {"auto", "cpu", "gpu"}
        Compute on the GPU (True), or make the correlation maps on the GPU and locate the
        peaks on the CPU ("hybrid"; 3D stacks are then searched in 2D whatever ``dim``, as
        in algotom). Without a usable GPU both warn and run on the CPU.
    device : {"auto", "cpu", "gpu"}, optional
        pcfij's device choice, shared with ipCF and CCC (None: use ``gpu``). ``"gpu"``
        without CuPy and a CUDA GPU raises InputError; ``"auto"`` falls back to the CPU
        silently. When given, it decides over ``gpu``.
    block : tuple of two int, optional
        Accepted for compatibility with algotom.
    ncore : int or None
        CPU threads (None: all).
    norm : bool, optional
        Normalize the inputs: 2D images by their row and column sums; for 3D stacks with
        dim=1 every slab by its row and column sums. With dim=2 it changes nothing (the
        normalisation is affine there and Pearson coefficients ignore it).
    norm_global : bool, optional
        For 3D stacks, standardise the whole stack first (matters only with dim=1 and
        norm=True).
    chunk_size : int or None
        Rows per chunk (the height is split into ``height // chunk_size + 1`` near-equal
        chunks; None: one chunk). Inputs are read chunk by chunk, so datasets larger than
        memory work. No effect on 2D images.

    Returns
    -------
    tuple of two 2D float32 arrays
        x-shift map and y-shift map, zero in a border ``margin + win_size // 2`` wide (for
        3D stacks with dim=1 only the x map's edge columns and the y map's edge rows).
        If ``mat = scipy.ndimage.shift(ref_mat, (dy, dx))`` the maps hold about
        (-dx, -dy).
    """
    mode = device_mode(gpu, hybrid=True, device=device)
    hybrid = mode == "hybrid" or (device is None and isinstance(gpu, str)
                                  and gpu.strip().lower() == "hybrid")
    ref_mat = check_array(ref_mat, "ref_mat")
    mat = check_array(mat, "mat")
    same_shape(ref_mat, mat)
    dim = check_dim(dim)
    win = odd_win(win_size)
    margin = check_margin(margin)
    code = method_code(method)
    ncore = check_ncore(ncore)
    eff = peak_window(code, size)
    p1, p2 = cpu.poly_tables(eff)
    e = win // 2 + margin
    opts = dict(win=win, margin=margin, code=code, size=eff, p1=p1, p2=p2, mode=mode,
                ncore=ncore)
    if len(ref_mat.shape) == 2:
        h, w = ref_mat.shape
        check_window_fits(h, w, win, margin)
        ref = as_f64(ref_mat, "ref_mat")
        mov = as_f64(mat, "mat")
        if norm:
            ref = scale_by_sums_2d(ref)
            mov = scale_by_sums_2d(mov)
        xs = np.zeros((h, w), np.float32)
        ys = np.zeros((h, w), np.float32)
        ref = standardize(ref)[None]
        mov = standardize(mov)[None]
        # the CPU kernel needs no scratch per pixel; the GPU one holds every trial shift's
        # map, so it gets bands of GPU_ROWS rows (results do not depend on the bands)
        bands = 1 if mode == "cpu" else -(-(h - 2 * e) // GPU_ROWS)
        for b, en in split_rows(e, h - e, bands):
            x, y = _search2d(ref[:, b - e:en + e], mov[:, b - e:en + e], **opts)
            xs[b:en, e:w - e] = x
            ys[b:en, e:w - e] = y
        return xs, ys
    depth, h, w = ref_mat.shape
    if hybrid:  # algotom's hybrid mode searches stacks in 2D (also on the CPU fallback)
        dim = 2
    check_window_fits(h, w, win, margin)
    nchunk = chunk_count(h, chunk_size)
    xs = np.zeros((h, w), np.float32)
    ys = np.zeros((h, w), np.float32)
    if dim == 2:
        for b, en in split_rows(e, h - e, nchunk):
            ref = standardize(as_f64(ref_mat[:, b - e:en + e, :], "ref_mat"))
            mov = standardize(as_f64(mat[:, b - e:en + e, :], "mat"))
            x, y = _search2d(ref, mov, **opts)
            xs[b:en, e:w - e] = x
            ys[b:en, e:w - e] = y
        return xs, ys
    gref = gmov = None
    if norm_global and norm:
        gref = global_stats(ref_mat)
        gmov = global_stats(mat)
    # x: each row is its own slab, so chunks may be any size
    for b, en in split_rows(0, h, nchunk):
        ref = _prep(ref_mat[:, b:en, :], gref, norm, scale_slabs_x, "ref_mat")
        mov = _prep(mat[:, b:en, :], gmov, norm, scale_slabs_x, "mat")
        xs[b:en, e:w - e] = _search1d(ref, mov, **opts)
    # y: slabs are (depth x chunk rows) columns, as algotom cuts them
    for b, en in split_rows(e, h - e, nchunk):
        ref = _prep(ref_mat[:, b - e:en + e, :], gref, norm, scale_slabs_y, "ref_mat")
        mov = _prep(mat[:, b - e:en + e, :], gmov, norm, scale_slabs_y, "mat")
        ref = np.ascontiguousarray(ref.transpose(0, 2, 1))
        mov = np.ascontiguousarray(mov.transpose(0, 2, 1))
        ys[b:en, :] = _search1d(ref, mov, **opts).T
    return xs, ys


def _prep(chunk, gstats, norm, scale, name):
    a = as_f64(chunk, name)
    if gstats is not None:
        _, sd, mn = gstats
        a = (a - mn) / sd if sd > 0 else a - mn
    if norm:
        a = scale(a)
    return standardize(a)


def _search2d(ref, mov, *, win, margin, code, size, p1, p2, mode, ncore):
    d, h, w = ref.shape
    e = win // 2 + margin
    if mode == "cpu":
        ox = np.zeros((h - 2 * e, w - 2 * e))
        oy = np.zeros_like(ox)
        with cpu.threads(ncore) as nthreads:
            cpu.local2d(ref, mov, win, margin, code, size, p1, p2, ox, oy, nthreads)
        return ox, oy
    xp = xp_for(mode)
    r, m = xp.asarray(ref), xp.asarray(mov)
    if mode == "hybrid":
        maps = gpuk.local2d_maps(xp, r, m, win, margin)
        s, _, oh, ow = maps.shape
        host = np.ascontiguousarray(gpuk.to_host(maps).reshape(s * s, oh * ow).T)
        host = host.reshape(oh * ow, s, s)
        ox = np.empty(oh * ow)
        oy = np.empty(oh * ow)
        with cpu.threads(ncore):
            cpu.locate_many(host, code, 2, size, p1, p2, True, ox, oy)
        return (ox - margin).reshape(oh, ow), (oy - margin).reshape(oh, ow)
    x, y = gpuk.local2d(xp, r, m, win, margin, code, size, p1, p2)
    return gpuk.to_host(x), gpuk.to_host(y)


def _search1d(ref, mov, *, win, margin, code, size, p1, p2, mode, ncore):
    d, h, w = ref.shape
    e = win // 2 + margin
    if mode == "cpu":
        out = np.zeros((h, w - 2 * e))
        with cpu.threads(ncore):
            cpu.local1d(ref, mov, win, margin, code, size, p1, out)
        return out
    xp = xp_for(mode)
    return gpuk.to_host(gpuk.local1d(xp, xp.asarray(ref), xp.asarray(mov), win, margin, code,
                                     size, p1))
