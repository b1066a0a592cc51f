"""Local shifts with the UMPA cost function (algotom's ``find_local_shifts_umpa``).

For each pixel, a (depth x win x win) volume of ``mat`` weighted by a smoothing window is
compared with the same-size volumes of ``ref_mat`` at every trial shift in +-margin, using
the least-squares cost of Zdora et al., Phys. Rev. Lett. 118, 203903 (2017): the model
``mat ~ K * ref + beta * mean(ref)`` is fitted per trial shift (transmission ``A = K + beta``,
dark-field/visibility ``V = K / A``), or ``mat ~ K * ref`` without the dark signal, and the
shift of least cost wins (sub-pixel by :func:`locate_peak` on the inverted cost).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate1d

from pcfij.errors import InputError
from pcfij.kernels import shift_cpu as cpu
from pcfij.kernels import shift_gpu as gpuk
from pcfij.shift._common import (
    as_f64,
    check_array,
    check_margin,
    check_ncore,
    check_window_fits,
    chunk_count,
    device_mode,
    method_code,
    odd_win,
    peak_window,
    same_shape,
    split_rows,
    xp_for,
)

FILTERS = (None, "hann", "bartlett", "blackman", "hamming", "nuttall", "parzen", "triang")


def smoothing_window(filter_name, size: int) -> np.ndarray:
    """1D smoothing window of ``size`` points (all ones for None or an unknown name)."""
    if filter_name in FILTERS[1:]:
        from scipy.signal import windows  # imported here: scipy.signal takes ~1 s to import

        return getattr(windows, filter_name)(size).astype(np.float64)
    return np.ones(size)


def find_local_shifts_umpa(ref_mat, mat, win_size=7, margin=10, method="diff", size=3,
                           gpu=True, block=(16, 16), ncore=None, chunk_size=100,
                           filter_name="hamming", dark_signal=False, *, device=None):
    """Find local shifts (x and y) of each pixel between two 3D stacks with the UMPA cost.

    Parameters
    ----------
    ref_mat, mat : array_like
        3D arrays (depth, height, width) of the same shape: NumPy arrays, memory maps, HDF5
        or Zarr datasets (read chunk by chunk).
    win_size : int
        Size of local areas in the second image (rounded up to odd).
    margin : int
        Sliding range (+-margin pixels).
    method : {"diff", "poly_fit"}
        Sub-pixel method (see :func:`locate_peak`), on every device.
    size : int
        Sub-pixel window for "poly_fit".
    gpu : bool, optional
        Use the GPU (default True, as in algotom; warns and uses the CPU without one).
    device : {"auto", "cpu", "gpu"}, optional
        pcfij's device choice, shared with ipCF and CCC (None: use ``gpu``). ``"gpu"``
        without CuPy and a CUDA GPU raises InputError; ``"auto"`` falls back to the CPU
        silently. When given, it decides over ``gpu``.
    block : tuple of two int, optional
        Accepted for compatibility with algotom.
    ncore : int or None
        CPU threads (None: all).
    chunk_size : int or None
        Rows per chunk (``height // chunk_size + 1`` chunks; None: one).
    filter_name : {None, "hann", "bartlett", "blackman", "hamming", "nuttall", "parzen",
        "triang"}
        Window weighting the local areas (None: uniform).
    dark_signal : bool
        Also return the transmission and dark-signal images.

    Returns
    -------
    tuple of 2D float32 arrays
        (x_shifts, y_shifts), zero in a border ``margin + win_size // 2`` wide; with
        ``dark_signal`` (x_shifts, y_shifts, transmission, dark) — in that order, as algotom
        returns them — where transmission and dark are edge-padded into the border.
    """
    mode = device_mode(gpu, device=device)
    ref_mat = check_array(ref_mat, "ref_mat", ndims=(3,))
    mat = check_array(mat, "mat", ndims=(3,))
    same_shape(ref_mat, mat)
    if filter_name not in FILTERS:
        raise InputError(f"filter_name must be one of {', '.join(map(str, FILTERS))}; "
                         f"got {filter_name!r}")
    win = odd_win(win_size)
    margin = check_margin(margin)
    code = method_code(method)
    ncore = check_ncore(ncore)
    eff = peak_window(code, size)
    p1, p2 = cpu.poly_tables(eff)
    depth, h, w = ref_mat.shape
    e = margin + win // 2
    check_window_fits(h, w, win, margin)
    w1 = smoothing_window(filter_name, win)
    w1 = w1 / w1.sum()
    # mean intensity of the reference (a global number, so read the whole stack once)
    total = 0.0
    for b in range(0, h, 128):
        total += float(np.asarray(ref_mat[:, b:b + 128, :], dtype=np.float64).sum())
    im = total / (depth * h * w)
    l2 = im * im * depth
    xs = np.zeros((h, w), np.float32)
    ys = np.zeros((h, w), np.float32)
    tr = np.ones((h, w), np.float32)
    dk = np.ones((h, w), np.float32)
    for b, en in split_rows(e, h - e, chunk_count(h, chunk_size)):
        ref = as_f64(ref_mat[:, b - e:en + e, :], "ref_mat")
        mov = as_f64(mat[:, b - e:en + e, :], "mat")
        l1 = _wsum((mov * mov).sum(axis=0), w1)
        l3 = _wsum((ref * ref).sum(axis=0), w1)
        l4 = im * _wsum(mov.sum(axis=0), w1)
        l6 = im * _wsum(ref.sum(axis=0), w1)
        oh, ow = en - b, w - 2 * e
        if mode == "cpu":
            ox, oy, ot, od = (np.zeros((oh, ow)) for _ in range(4))
            with cpu.threads(ncore):
                cpu.umpa(ref, mov, w1, margin, l1, l3, l2, l4, l6, bool(dark_signal), code,
                         eff, p1, p2, ox, oy, ot, od)
        else:
            xp = xp_for(mode)
            ox, oy, ot, od = (gpuk.to_host(a) for a in gpuk.umpa(
                xp, xp.asarray(ref), xp.asarray(mov), w1, margin, xp.asarray(l1),
                xp.asarray(l3), l2, xp.asarray(l4), xp.asarray(l6), bool(dark_signal), code,
                eff, p1, p2))
        xs[b:en, e:w - e] = ox
        ys[b:en, e:w - e] = oy
        if dark_signal:
            tr[b:en, e:w - e] = ot
            dk[b:en, e:w - e] = od
    if not dark_signal:
        return xs, ys
    tr = np.pad(tr[e:h - e, e:w - e], e, mode="edge")
    dk = np.pad(dk[e:h - e, e:w - e], e, mode="edge")
    return xs, ys, tr, dk


def _wsum(img: np.ndarray, w1: np.ndarray) -> np.ndarray:
    """Window-weighted sums centred on each pixel (zero outside the image)."""
    out = correlate1d(img, w1, axis=0, mode="constant")
    return correlate1d(out, w1, axis=1, mode="constant")
