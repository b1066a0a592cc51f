"""CPU (numba) kernels of :mod:`pcfij.shift`.

All images arrive here as C-contiguous float64 arrays of shape ``(depth, height, width)``
(a 2D image is a stack of depth 1); checking, normalisation and chunking happen in
:mod:`pcfij.shift`. The kernels are parallelised with ``numba.prange``; the number of threads
is set by :func:`threads`.

Peak location follows the rules of :func:`pcfij.shift.locate_peak` exactly (argmax, window
clipping, the "diff" finite-difference offset and the "poly_fit" least-squares quadric),
so a local shift map equals what calling ``find_shift_based_correlation_map`` on every
window would give. The least-squares fits use pseudo-inverse tables from
:func:`poly_tables`, which turn each fit into a dot product.

Local Pearson maps (``local2d``) use running sums: for one row of output pixels the
products of the two images are summed over the window height for every trial shift, and
the next row is obtained by adding the new image row and subtracting the old one, so a
pixel costs about ``2 * depth + 4`` operations per trial shift instead of
``depth * win_size**2``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numba
import numpy as np
from numba import prange

DIFF = 0
POLY = 1


# --------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def threads(ncore: int | None) -> Iterator[int]:
    """Run numba parallel loops on ``ncore`` threads (None: all) inside the block."""
    total = numba.config.NUMBA_NUM_THREADS
    n = total if ncore is None else int(max(1, min(int(ncore), total)))
    old = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(old)


def poly_tables(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-inverse tables of the 1D parabola and 2D quadric least-squares fits.

    Returns
    -------
    p1 : ndarray, shape (3, size)
        ``p1 @ values`` gives ``(a, b, c)`` of ``a x**2 + b x + c`` fitted at x = 0..size-1.
    p2 : ndarray, shape (6, size * size)
        ``p2 @ patch.ravel()`` gives ``(a0..a5)`` of
        ``a0 + a1 x + a2 y + a3 x**2 + a4 x y + a5 y**2`` fitted on the row-major grid.
    """
    x = np.arange(size, dtype=np.float64)
    v1 = np.stack([x * x, x, np.ones_like(x)], axis=1)
    p1 = np.linalg.pinv(v1)
    yy, xx = np.meshgrid(x, x, indexing="ij")
    xf, yf = xx.ravel(), yy.ravel()
    v2 = np.stack([np.ones_like(xf), xf, yf, xf * xf, xf * yf, yf * yf], axis=1)
    p2 = np.linalg.pinv(v2)
    return np.ascontiguousarray(p1), np.ascontiguousarray(p2)


def peak_size(method: int, size: int) -> int:
    """The sub-pixel window actually used: 3 for "diff", odd and within 3..9 for "poly_fit"."""
    if method == DIFF:
        return 3
    return int(np.clip(2 * (int(size) // 2) + 1, 3, 9))


# --------------------------------------------------------------------------- peaks
@numba.njit(cache=True)
def sub1d(vals, method, p1):  # pragma: no cover - compiled
    """Sub-pixel position of the maximum of a short 1D array."""
    n = vals.shape[0]
    pos = 0
    best = vals[0]
    for k in range(1, n):
        if vals[k] > best:
            best = vals[k]
            pos = k
    last = n - 1
    if method == POLY:
        a = 0.0
        b = 0.0
        for k in range(n):
            a += p1[0, k] * vals[k]
            b += p1[1, k] * vals[k]
        if a != 0.0:
            sub = -b / (2.0 * a)
            if last > sub > 0:
                return sub
        return float(pos)
    if last > pos > 0:
        d1 = (vals[pos + 1] - vals[pos - 1]) / 2.0
        d2 = vals[pos + 1] + vals[pos - 1] - 2.0 * vals[pos]
        if d2 != 0.0:
            return pos - d1 / d2
    return float(pos)


@numba.njit(cache=True)
def _argmax2d(m):  # pragma: no cover - compiled
    """(row, column) of the first maximum of a 2D array (row-major scan)."""
    h, w = m.shape
    yi = 0
    xi = 0
    best = m[0, 0]
    for i in range(h):
        for j in range(w):
            if m[i, j] > best:
                best = m[i, j]
                yi = i
                xi = j
    return yi, xi


@numba.njit(cache=True)
def sub2d(m, method, p2):  # pragma: no cover - compiled
    """Sub-pixel (x, y) of the maximum of a small square patch."""
    h, w = m.shape
    y0, x0 = _argmax2d(m)
    xp = float(x0)
    yp = float(y0)
    h1 = h - 1
    w1 = w - 1
    ycheck = not (y0 == 0 or y0 == h1)
    xcheck = not (x0 == 0 or x0 == w1)
    if method == POLY and (ycheck or xcheck):
        c = np.zeros(6)
        for k in range(6):
            s = 0.0
            for i in range(h):
                for j in range(w):
                    s += p2[k, i * w + j] * m[i, j]
            c[k] = s
        num = c[4] * c[4] - 4.0 * c[3] * c[5]
        if num != 0.0:
            xn = (2.0 * c[1] * c[5] - c[2] * c[4]) / num
            yn = (2.0 * c[2] * c[3] - c[1] * c[4]) / num
            if h1 > yn > 0:
                yp = yn
            if w1 > xn > 0:
                xp = xn
        return xp, yp
    d1x = 0.0
    d2x = 0.0
    d1y = 0.0
    d2y = 0.0
    dxy = 0.0
    c0 = m[y0, x0]
    if ycheck and not xcheck:
        d1y = (m[y0 + 1, x0] - m[y0 - 1, x0]) / 2.0
        d2y = m[y0 + 1, x0] + m[y0 - 1, x0] - 2.0 * c0
    if xcheck and not ycheck:
        d1x = (m[y0, x0 + 1] - m[y0, x0 - 1]) / 2.0
        d2x = m[y0, x0 + 1] + m[y0, x0 - 1] - 2.0 * c0
    if xcheck and ycheck:
        d1x = 0.5 * (m[y0, x0 + 1] - m[y0, x0 - 1])
        d1y = 0.5 * (m[y0 + 1, x0] - m[y0 - 1, x0])
        d2x = m[y0, x0 + 1] + m[y0, x0 - 1] - 2.0 * c0
        d2y = m[y0 + 1, x0] + m[y0 - 1, x0] - 2.0 * c0
        dxy = 0.25 * (m[y0 + 1, x0 + 1] + m[y0 - 1, x0 - 1] - m[y0 + 1, x0 - 1]
                      - m[y0 - 1, x0 + 1])
    num = dxy * dxy - d2x * d2y
    if num != 0.0:
        xo = (d2y * d1x - dxy * d1y) / num
        yo = (d2x * d1y - dxy * d1x) / num
        if 1.0 > abs(xo) > 0.0:
            xp = x0 + xo
        if 1.0 > abs(yo) > 0.0:
            yp = y0 + yo
    return xp, yp


@numba.njit(cache=True)
def locate(m, sub_pixel, method, dim, size, p1, p2):  # pragma: no cover - compiled
    """(x, y) of the maximum of a 2D map, with the rules of ``locate_peak``.

    ``size`` must already be the effective window (see :func:`peak_size`). The three
    cases (peak inside the map, on the top/bottom row, on the left/right column) are
    tested one after the other on the running position, as ``locate_peak`` does.
    """
    h, w = m.shape
    yi, xi = _argmax2d(m)
    xp = float(xi)
    yp = float(yi)
    if not sub_pixel:
        return xp, yp
    h1 = h - 1
    w1 = w - 1
    rad = size // 2
    if h1 > yp > 0 and w1 > xp > 0 and w >= size and h >= size:
        row = min(max(yi - rad, 0), h - size)
        col = min(max(xi - rad, 0), w - size)
        if dim == 1:
            xp = col + sub1d(m[yi, col:col + size], method, p1)
            yp = row + sub1d(m[row:row + size, xi], method, p1)
        else:
            sx, sy = sub2d(m[row:row + size, col:col + size], method, p2)
            xp = col + sx
            yp = row + sy
    if (yp == 0 or yp == h1) and w1 > xp > 0 and w >= size:
        xi = int(xp)
        yi = int(yp)
        col = min(max(xi - rad, 0), w - size)
        xp = col + sub1d(m[yi, col:col + size], method, p1)
    if (xp == 0 or xp == w1) and h1 > yp > 0 and h >= size:
        xi = int(xp)
        yi = int(yp)
        row = min(max(yi - rad, 0), h - size)
        yp = row + sub1d(m[row:row + size, xi], method, p1)
    return xp, yp


@numba.njit(parallel=True, cache=True)
def locate_many(maps, method, dim, size, p1, p2, max_peak, out_x, out_y):  # pragma: no cover
    """Peak (x, y) of each map in ``maps`` (N, h, w); used by the hybrid GPU mode."""
    n = maps.shape[0]
    for k in prange(n):
        m = maps[k]
        if not max_peak:
            top = m.max()
            m = top - m
        x, y = locate(m, True, method, dim, size, p1, p2)
        out_x[k] = x
        out_y[k] = y


# --------------------------------------------------------------------------- global map
@numba.njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def corr_map(ref, mat):  # pragma: no cover - compiled
    """Pearson coefficients of ``mat`` (D, h1, w1) at every valid offset in ``ref`` (D, h0, w0).

    Windows of zero variance give 0, as in algotom. ``ref`` should be standardised
    (mean 0, std 1; see :func:`pcfij.shift._common.standardize`): the window variances come
    from running sums, and a variance below ``1e-12`` times the window's sum of squares
    counts as a constant window. Loops run template row by template row so that one row
    of each image stays in cache while all offsets along it are tried.
    """
    d, h0, w0 = ref.shape
    h1, w1 = mat.shape[1], mat.shape[2]
    h2 = h0 - h1 + 1
    w2 = w0 - w1 + 1
    n = d * h1 * w1
    mean = 0.0
    for k in range(d):
        for i in range(h1):
            for j in range(w1):
                mean += mat[k, i, j]
    mean /= n
    mc = np.empty_like(mat)
    ssm = 0.0
    for k in range(d):
        for i in range(h1):
            for j in range(w1):
                v = mat[k, i, j] - mean
                mc[k, i, j] = v
                ssm += v * v
    out = np.zeros((h2, w2), np.float32)
    for i in prange(h2):
        num = np.zeros(w2)
        s1 = np.zeros(w2)
        s2 = np.zeros(w2)
        for k in range(d):
            for u in range(h1):
                mrow = mc[k, u]
                rrow = ref[k, i + u]
                a = 0.0
                b = 0.0
                for v in range(w1):
                    a += rrow[v]
                    b += rrow[v] * rrow[v]
                for j in range(w2):
                    if j > 0:
                        x0 = rrow[j - 1]
                        x1 = rrow[j + w1 - 1]
                        a += x1 - x0
                        b += x1 * x1 - x0 * x0
                    t = 0.0
                    for v in range(w1):
                        t += mrow[v] * rrow[j + v]
                    num[j] += t
                    s1[j] += a
                    s2[j] += b
        for j in range(w2):
            var = s2[j] - s1[j] * s1[j] / n
            if var > 1e-12 * s2[j] and ssm > 0.0:
                out[i, j] = num[j] / math.sqrt(ssm * var)
    return out


# --------------------------------------------------------------------------- window stats
@numba.njit(parallel=True, cache=True)
def window_stats(img, win_h, win_w):  # pragma: no cover - compiled
    """Sum and centred sum of squares of every (D, win_h, win_w) window, by top-left corner.

    Returns arrays of shape (H - win_h + 1, W - win_w + 1). The centred sum of squares is
    computed in two passes, so constant windows give exactly 0.
    """
    d, h, w = img.shape
    oh = h - win_h + 1
    ow = w - win_w + 1
    n = d * win_h * win_w
    sums = np.empty((oh, ow))
    sq = np.empty((oh, ow))
    for i in prange(oh):
        for j in range(ow):
            s = 0.0
            for k in range(d):
                for u in range(win_h):
                    for v in range(win_w):
                        s += img[k, i + u, j + v]
            mean = s / n
            q = 0.0
            for k in range(d):
                for u in range(win_h):
                    for v in range(win_w):
                        t = img[k, i + u, j + v] - mean
                        q += t * t
            sums[i, j] = s
            sq[i, j] = q
    return sums, sq


# --------------------------------------------------------------------------- local 2D search
@numba.njit(parallel=True, cache=True)
def local2d(ref, mat, win, margin, method, size, p1, p2, out_x, out_y,
            nthreads):  # pragma: no cover
    """Local (x, y) shifts by sliding (D, win, win) windows of ``mat`` over ``ref``.

    ``ref`` and ``mat`` have shape (D, H, W). Output pixel (i, j) of ``out_x``/``out_y``
    (shape (H - 2e, W - 2e), e = win // 2 + margin) is the centre (i + e, j + e).
    """
    d, h, w = ref.shape
    r = win // 2
    e = r + margin
    s = 2 * margin + 1
    oh = h - 2 * e
    ow = w - 2 * e
    if oh <= 0 or ow <= 0:
        return
    n = d * win * win
    msum, msq = window_stats(mat[:, margin:h - margin, margin:w - margin], win, win)
    rsum, rsq = window_stats(ref, win, win)
    rinv = np.zeros_like(rsq)
    for i in prange(rsq.shape[0]):
        for j in range(rsq.shape[1]):
            if rsq[i, j] > 0.0:
                rinv[i, j] = 1.0 / math.sqrt(rsq[i, j])
    wq = w - 2 * margin  # columns of the product sums (mat columns margin .. w - margin)
    nblock = min(oh, max(1, 4 * nthreads))
    for blk in prange(nblock):
        i_start = blk * oh // nblock
        i_stop = (blk + 1) * oh // nblock
        q = np.zeros((s, s, wq))
        cmaps = np.zeros((ow, s, s), np.float32)
        for i in range(i_start, i_stop):
            # image rows of the mat window for output row i: i + margin .. i + margin + win
            if i == i_start:
                q[:] = 0.0
                for u in range(win):
                    _add_row(q, ref, mat, i + margin + u, margin, s, wq, 1.0)
            else:
                _add_row(q, ref, mat, i + margin + win - 1, margin, s, wq, 1.0)
                _add_row(q, ref, mat, i + margin - 1, margin, s, wq, -1.0)
            for a in range(s):
                for b in range(s):
                    qa = q[a, b]
                    acc = 0.0
                    for v in range(win):
                        acc += qa[v]
                    for j in range(ow):
                        if j > 0:
                            acc += qa[j + win - 1] - qa[j - 1]
                        den = msq[i, j] * rsq[i + a, j + b]
                        if den > 0.0:
                            num = acc - msum[i, j] * rsum[i + a, j + b] / n
                            cmaps[j, a, b] = num * rinv[i + a, j + b] / math.sqrt(msq[i, j])
                        else:
                            cmaps[j, a, b] = 0.0
            for j in range(ow):
                x, y = locate(cmaps[j], True, method, 2, size, p1, p2)
                out_x[i, j] = x - margin
                out_y[i, j] = y - margin


@numba.njit(cache=True)
def _add_row(q, ref, mat, row, margin, s, wq, sign):  # pragma: no cover - compiled
    """q[a, b, c] += sign * sum_k mat[k, row, c + margin] * ref[k, row + a - margin, c + b]."""
    d = ref.shape[0]
    for a in range(s):
        rrow = row + a - margin
        for b in range(s):
            qa = q[a, b]
            for k in range(d):
                mrow = mat[k, row]
                rr = ref[k, rrow]
                if sign > 0:
                    for c in range(wq):
                        qa[c] += mrow[c + margin] * rr[c + b]
                else:
                    for c in range(wq):
                        qa[c] -= mrow[c + margin] * rr[c + b]


# --------------------------------------------------------------------------- local 1D search
@numba.njit(cache=True)
def _window_moments(rows, first, win, sums, sqs):  # pragma: no cover - compiled
    """Sum and squared deviations from the mean of ``rows[:, c:c + win]`` for the windows
    starting at ``c = first + j``, j = 0 .. len(sums) - 1 (``rows``: (d, width))."""
    d = rows.shape[0]
    n = d * win
    for j in range(sums.shape[0]):
        c0 = first + j
        t = 0.0
        for k in range(d):
            for v in range(win):
                t += rows[k, c0 + v]
        mean = t / n
        qq = 0.0
        for k in range(d):
            for v in range(win):
                z = rows[k, c0 + v] - mean
                qq += z * z
        sums[j] = t
        sqs[j] = qq


@numba.njit(parallel=True, cache=True)
def local1d(ref, mat, win, margin, method, size, p1, out):  # pragma: no cover - compiled
    """Local x shifts of (D, win) column slabs along each row of (D, H, W) stacks.

    ``out`` has shape (H, W - 2e); out[i, j] belongs to column j + e.
    """
    d, h, w = ref.shape
    r = win // 2
    e = r + margin
    s = 2 * margin + 1
    ow = w - 2 * e
    if ow <= 0:
        return
    n = d * win
    for i in prange(h):
        mrow = mat[:, i, :]
        rrow = ref[:, i, :]
        msum = np.empty(ow)
        msq = np.empty(ow)
        _window_moments(mrow, margin, win, msum, msq)
        rsum = np.empty(w - win + 1)
        rsq = np.empty(w - win + 1)
        _window_moments(rrow, 0, win, rsum, rsq)
        wq = w - 2 * margin
        prod = np.zeros(wq)
        cm = np.zeros((ow, s), np.float32)
        for b in range(s):
            prod[:] = 0.0
            for k in range(d):
                for c in range(wq):
                    prod[c] += mrow[k, c + margin] * rrow[k, c + b]
            acc = 0.0
            for v in range(win):
                acc += prod[v]
            for j in range(ow):
                if j > 0:
                    acc += prod[j + win - 1] - prod[j - 1]
                den = msq[j] * rsq[j + b]
                if den > 0.0:
                    cm[j, b] = (acc - msum[j] * rsum[j + b] / n) / math.sqrt(den)
                else:
                    cm[j, b] = 0.0
        for j in range(ow):
            vals = cm[j]
            pos = 0
            best = vals[0]
            for b in range(1, s):
                if vals[b] > best:
                    best = vals[b]
                    pos = b
            x = float(pos)
            if s - 1 > pos > 0 and s >= size:
                col = min(max(pos - size // 2, 0), s - size)
                x = col + sub1d(vals[col:col + size], method, p1)
            out[i, j] = x - margin


# --------------------------------------------------------------------------- UMPA
@numba.njit(parallel=True, cache=True)
def umpa(ref, mat, win1, margin, l1, l3, l2, l4, l6, dark, method, size, p1, p2,
         out_x, out_y, out_t, out_d):  # pragma: no cover - compiled
    """UMPA local shifts (and transmission/dark signal) of a chunk of (D, H, W) stacks.

    ``win1`` is the 1D smoothing window normalised so that ``outer(win1, win1)`` sums to 1.
    ``l1, l3, l4, l6`` are the window-weighted image sums (see :mod:`pcfij.shift.umpa`),
    ``l2`` the scalar mean-intensity term. Outputs have shape (H - 2e, W - 2e).
    """
    d, h, w = ref.shape
    win = win1.shape[0]
    r = win // 2
    e = r + margin
    s = 2 * margin + 1
    oh = h - 2 * e
    ow = w - 2 * e
    if oh <= 0 or ow <= 0:
        return
    wq = w - 2 * margin
    for i in prange(oh):
        qa = np.zeros(wq)
        cost = np.zeros((ow, s, s))
        aa = np.zeros((ow, s, s))
        vv = np.zeros((ow, s, s))
        ci = i + e  # image row of the output pixel
        for a in range(s):
            dy = a - margin
            for b in range(s):
                qa[:] = 0.0
                for u in range(win):
                    row = ci - r + u
                    wu = win1[u]
                    for k in range(d):
                        mrow = mat[k, row]
                        rr = ref[k, row + dy]
                        for c in range(wq):
                            qa[c] += wu * mrow[c + margin] * rr[c + b]
                for j in range(ow):
                    t5 = 0.0
                    for v in range(win):
                        t5 += win1[v] * qa[j + v]
                    cj = j + e
                    t1 = l1[ci, cj]
                    t3 = l3[ci + dy, cj + b - margin]
                    if dark:
                        t4 = l4[ci, cj]
                        t6 = l6[ci + dy, cj + b - margin]
                        den = l2 * t3 - t6 * t6
                        if den != 0.0:
                            kk = (l2 * t5 - t4 * t6) / den
                            beta = (t3 * t4 - t5 * t6) / den
                        else:
                            kk = 0.0
                            beta = 0.0
                        amp = beta + kk
                        aa[j, a, b] = amp
                        vv[j, a, b] = kk / amp if amp != 0.0 else 0.0
                        cost[j, a, b] = (t1 + beta * beta * l2 + kk * kk * t3 - 2.0 * beta * t4
                                         - 2.0 * kk * t5 + 2.0 * beta * kk * t6)
                    else:
                        kk = t5 / t3 if t3 != 0.0 else 0.0
                        cost[j, a, b] = t1 + kk * kk * t3 - 2.0 * kk * t5
        for j in range(ow):
            m = cost[j]
            top = m.max()
            inv = np.empty((s, s))
            for a in range(s):
                for b in range(s):
                    inv[a, b] = top - m[a, b]
            x, y = locate(inv, True, method, 2, size, p1, p2)
            out_x[i, j] = x - margin
            out_y[i, j] = y - margin
            if dark:
                jj = int(np.round(x))
                ii = int(np.round(y))
                out_t[i, j] = abs(aa[j, ii, jj])
                out_d[i, j] = abs(vv[j, ii, jj])
