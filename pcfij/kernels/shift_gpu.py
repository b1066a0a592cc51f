"""Array-module (CuPy) kernels of :mod:`pcfij.shift`.

Every function takes the array module ``xp`` first: :mod:`cupy` on the GPU. The same code
runs with ``xp = numpy`` — that is how the CPU-only test suite checks the GPU logic against
the numba kernels of :mod:`pcfij.kernels.shift_cpu` (only the array module differs on a
GPU machine). CuPy is never imported here.

The algorithms mirror the CPU kernels: for each trial shift the product of the two images
(summed over depth) is box-filtered over the window with cumulative sums, which gives the
Pearson numerator for every pixel at once; the maps of all trial shifts are stacked and
the peak of every map is located with a vectorised version of ``locate_peak``.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

DIFF = 0
POLY = 1

#: windows whose centred sum of squares is below this (relative to the window size, on
#: inputs standardised to unit variance) are treated as constant (coefficient 0)
FLAT = 1e-10


def box_sum(xp: ModuleType, img, hwin: int, wwin: int):
    """Sums of all (hwin, wwin) windows of the last two axes (by top-left corner)."""
    c = xp.cumsum(img, axis=-2)
    zero = xp.zeros_like(c[..., :1, :])
    c = xp.concatenate([zero, c], axis=-2)
    c = c[..., hwin:, :] - c[..., :-hwin, :]
    c = xp.cumsum(c, axis=-1)
    zero = xp.zeros_like(c[..., :, :1])
    c = xp.concatenate([zero, c], axis=-1)
    return c[..., :, wwin:] - c[..., :, :-wwin]


def window_stats(xp: ModuleType, img, hwin: int, wwin: int):
    """Sum and centred sum of squares of every (D, hwin, wwin) window of (D, H, W)."""
    n = img.shape[0] * hwin * wwin
    s = box_sum(xp, img.sum(axis=0), hwin, wwin)
    q = box_sum(xp, (img * img).sum(axis=0), hwin, wwin) - s * s / n
    q = xp.where(q > FLAT * n, q, 0.0)
    return s, q


def _inv_sqrt(xp: ModuleType, q):
    safe = xp.where(q > 0, q, 1.0)
    return xp.where(q > 0, 1.0 / xp.sqrt(safe), 0.0)


# --------------------------------------------------------------------------- peaks
def sub1d(xp: ModuleType, vals, method: int, p1):
    """Vectorised 1D sub-pixel peak of ``vals`` (n, N) along axis 0."""
    n = vals.shape[0]
    pos = xp.argmax(vals, axis=0)
    posf = pos.astype(xp.float64)
    if method == POLY:
        p1 = xp.asarray(p1)
        a = p1[0] @ vals
        b = p1[1] @ vals
        nz = a != 0
        sub = -b / (2.0 * xp.where(nz, a, 1.0))
        ok = nz & (sub > 0) & (sub < n - 1)
        return xp.where(ok, sub, posf)
    cols = xp.arange(vals.shape[1])
    inner = (pos > 0) & (pos < n - 1)
    pm = xp.clip(pos - 1, 0, n - 1)
    pp = xp.clip(pos + 1, 0, n - 1)
    f0 = vals[pos, cols]
    fm = vals[pm, cols]
    fp = vals[pp, cols]
    d1 = (fp - fm) / 2.0
    d2 = fp + fm - 2.0 * f0
    ok = inner & (d2 != 0)
    return xp.where(ok, posf - d1 / xp.where(d2 != 0, d2, 1.0), posf)


def sub2d(xp: ModuleType, patch, method: int, p2):
    """Vectorised 2D sub-pixel peak of square patches ``patch`` (s, s, N)."""
    s = patch.shape[0]
    npix = patch.shape[2]
    flat = patch.reshape(s * s, npix)
    idx = xp.argmax(flat, axis=0)
    y0 = idx // s
    x0 = idx % s
    xp0 = x0.astype(xp.float64)
    yp0 = y0.astype(xp.float64)
    s1 = s - 1
    ycheck = (y0 != 0) & (y0 != s1)
    xcheck = (x0 != 0) & (x0 != s1)
    cols = xp.arange(npix)
    if method == POLY:
        c = xp.asarray(p2) @ flat
        num = c[4] * c[4] - 4.0 * c[3] * c[5]
        nz = num != 0
        safe = xp.where(nz, num, 1.0)
        xn = (2.0 * c[1] * c[5] - c[2] * c[4]) / safe
        yn = (2.0 * c[2] * c[3] - c[1] * c[4]) / safe
        use = ycheck | xcheck
        xpoly = xp.where(nz & (xn > 0) & (xn < s1), xn, xp0)
        ypoly = xp.where(nz & (yn > 0) & (yn < s1), yn, yp0)
    ym = xp.clip(y0 - 1, 0, s1)
    yq = xp.clip(y0 + 1, 0, s1)
    xm = xp.clip(x0 - 1, 0, s1)
    xq = xp.clip(x0 + 1, 0, s1)
    c0 = patch[y0, x0, cols]
    zero = xp.zeros(npix)
    both = xcheck & ycheck
    only_y = ycheck & ~xcheck
    only_x = xcheck & ~ycheck
    d1y = xp.where(both | only_y, (patch[yq, x0, cols] - patch[ym, x0, cols]) / 2.0, zero)
    d2y = xp.where(both | only_y, patch[yq, x0, cols] + patch[ym, x0, cols] - 2.0 * c0, zero)
    d1x = xp.where(both | only_x, (patch[y0, xq, cols] - patch[y0, xm, cols]) / 2.0, zero)
    d2x = xp.where(both | only_x, patch[y0, xq, cols] + patch[y0, xm, cols] - 2.0 * c0, zero)
    dxy = xp.where(both, 0.25 * (patch[yq, xq, cols] + patch[ym, xm, cols]
                                 - patch[yq, xm, cols] - patch[ym, xq, cols]), zero)
    num = dxy * dxy - d2x * d2y
    nz = num != 0
    safe = xp.where(nz, num, 1.0)
    xo = (d2y * d1x - dxy * d1y) / safe
    yo = (d2x * d1y - dxy * d1x) / safe
    xd = xp.where(nz & (xp.abs(xo) < 1.0) & (xp.abs(xo) > 0.0), xp0 + xo, xp0)
    yd = xp.where(nz & (xp.abs(yo) < 1.0) & (xp.abs(yo) > 0.0), yp0 + yo, yp0)
    if method == POLY:
        return xp.where(use, xpoly, xd), xp.where(use, ypoly, yd)
    return xd, yd


def locate(xp: ModuleType, maps, method: int, dim: int, size: int, p1, p2,
           sub_pixel: bool = True):
    """Vectorised ``locate_peak`` of N maps ``maps`` (h, w, N); returns (x, y) arrays."""
    h, w, npix = maps.shape
    flat = maps.reshape(h * w, npix)
    idx = xp.argmax(flat, axis=0)
    yi = idx // w
    xi = idx % w
    xpos = xi.astype(xp.float64)
    ypos = yi.astype(xp.float64)
    if not sub_pixel:
        return xpos, ypos
    h1, w1 = h - 1, w - 1
    rad = size // 2
    cols = xp.arange(npix)
    steps = xp.arange(size)
    if w >= size and h >= size:
        b1 = (ypos > 0) & (ypos < h1) & (xpos > 0) & (xpos < w1)
        row = xp.clip(yi - rad, 0, h - size)
        col = xp.clip(xi - rad, 0, w - size)
        if dim == 1:
            xv = maps[yi[None, :], col[None, :] + steps[:, None], cols[None, :]]
            yv = maps[row[None, :] + steps[:, None], xi[None, :], cols[None, :]]
            xn = col + sub1d(xp, xv, method, p1)
            yn = row + sub1d(xp, yv, method, p1)
        else:
            patch = maps[row[None, None, :] + steps[:, None, None],
                         col[None, None, :] + steps[None, :, None], cols[None, None, :]]
            sx, sy = sub2d(xp, patch, method, p2)
            xn = col + sx
            yn = row + sy
        xpos = xp.where(b1, xn, xpos)
        ypos = xp.where(b1, yn, ypos)
    if w >= size:
        b2 = ((ypos == 0) | (ypos == h1)) & (xpos > 0) & (xpos < w1)
        xi2 = xp.clip(xpos.astype(xp.int64), 0, w1)
        yi2 = xp.clip(ypos.astype(xp.int64), 0, h1)
        col = xp.clip(xi2 - rad, 0, w - size)
        xv = maps[yi2[None, :], col[None, :] + steps[:, None], cols[None, :]]
        xpos = xp.where(b2, col + sub1d(xp, xv, method, p1), xpos)
    if h >= size:
        b3 = ((xpos == 0) | (xpos == w1)) & (ypos > 0) & (ypos < h1)
        xi3 = xp.clip(xpos.astype(xp.int64), 0, w1)
        yi3 = xp.clip(ypos.astype(xp.int64), 0, h1)
        row = xp.clip(yi3 - rad, 0, h - size)
        yv = maps[row[None, :] + steps[:, None], xi3[None, :], cols[None, :]]
        ypos = xp.where(b3, row + sub1d(xp, yv, method, p1), ypos)
    return xpos, ypos


# --------------------------------------------------------------------------- maps
def corr_map(xp: ModuleType, ref, mat):
    """Pearson map of ``mat`` (D, h1, w1) slid over ``ref`` (D, h0, w0); float32 (h2, w2)."""
    d, h0, w0 = ref.shape
    h1, w1 = mat.shape[1:]
    h2, w2 = h0 - h1 + 1, w0 - w1 + 1
    mc = mat - mat.mean()
    ssm = float((mc * mc).sum())
    ref = ref - ref.mean()
    scale = float(xp.sqrt((ref * ref).mean()))
    if scale > 0:
        ref = ref / scale
    _, rsq = window_stats(xp, ref, h1, w1)
    if h2 * w2 <= h1 * w1:
        num = xp.empty((h2, w2))
        for i in range(h2):
            for j in range(w2):
                num[i, j] = (mc * ref[:, i:i + h1, j:j + w1]).sum()
    else:
        num = xp.zeros((h2, w2))
        for k in range(d):
            for u in range(h1):
                for v in range(w1):
                    num += mc[k, u, v] * ref[k, u:u + h2, v:v + w2]
    den = xp.sqrt(rsq * ssm)
    out = xp.where(den > 0, num / xp.where(den > 0, den, 1.0), 0.0)
    return out.astype(xp.float32)


def local2d_maps(xp: ModuleType, ref, mat, win: int, margin: int):
    """Pearson maps of all windows: (S, S, oh, ow) float32, S = 2 * margin + 1."""
    d, h, w = ref.shape
    s = 2 * margin + 1
    e = win // 2 + margin
    oh, ow = h - 2 * e, w - 2 * e
    n = d * win * win
    mc = mat[:, margin:h - margin, margin:w - margin]
    msum, msq = window_stats(xp, mc, win, win)
    rsum, rsq = window_stats(xp, ref, win, win)
    minv = _inv_sqrt(xp, msq)
    rinv = _inv_sqrt(xp, rsq)
    hq, wq = h - 2 * margin, w - 2 * margin
    maps = xp.empty((s, s, oh, ow), xp.float32)
    for a in range(s):
        for b in range(s):
            prod = (mc * ref[:, a:a + hq, b:b + wq]).sum(axis=0)
            num = box_sum(xp, prod, win, win)
            rs = rsum[a:a + oh, b:b + ow]
            maps[a, b] = (num - msum * rs / n) * minv * rinv[a:a + oh, b:b + ow]
    return maps


def local2d(xp: ModuleType, ref, mat, win: int, margin: int, method: int, size: int, p1, p2):
    """Local (x, y) shift maps of shape (H - 2e, W - 2e) (see ``shift_cpu.local2d``)."""
    maps = local2d_maps(xp, ref, mat, win, margin)
    s, _, oh, ow = maps.shape
    x, y = locate(xp, maps.reshape(s, s, oh * ow), method, 2, size, p1, p2)
    return (x - margin).reshape(oh, ow), (y - margin).reshape(oh, ow)


def local1d(xp: ModuleType, ref, mat, win: int, margin: int, method: int, size: int, p1):
    """Local x shifts of (D, win) slabs along each row; (H, W - 2e) (see ``shift_cpu``)."""
    d, h, w = ref.shape
    s = 2 * margin + 1
    e = win // 2 + margin
    ow = w - 2 * e
    n = d * win
    wq = w - 2 * margin
    mc = mat[:, :, margin:w - margin]

    def stats(img):
        sm = box_sum(xp, img.sum(axis=0)[:, None, :], 1, win)[:, 0, :]
        sq = box_sum(xp, (img * img).sum(axis=0)[:, None, :], 1, win)[:, 0, :] - sm * sm / n
        sq = xp.where(sq > FLAT * n, sq, 0.0)
        return sm, sq

    msum, msq = stats(mc)
    rsum, rsq = stats(ref)
    minv = _inv_sqrt(xp, msq)
    rinv = _inv_sqrt(xp, rsq)
    maps = xp.empty((1, s, h, ow), xp.float32)
    for b in range(s):
        prod = (mc * ref[:, :, b:b + wq]).sum(axis=0)
        num = box_sum(xp, prod[:, None, :], 1, win)[:, 0, :]
        maps[0, b] = (num - msum * rsum[:, b:b + ow] / n) * minv * rinv[:, b:b + ow]
    x, _ = locate(xp, maps.reshape(1, s, h * ow), method, 1, size, p1, None)
    return (x - margin).reshape(h, ow)


def umpa(xp: ModuleType, ref, mat, win1, margin: int, l1, l3, l2: float, l4, l6, dark: bool,
         method: int, size: int, p1, p2):
    """UMPA shifts of a chunk (see ``shift_cpu.umpa``); returns x, y, trans, dark maps."""
    d, h, w = ref.shape
    win = win1.shape[0]
    r = win // 2
    s = 2 * margin + 1
    e = r + margin
    oh, ow = h - 2 * e, w - 2 * e
    hq, wq = h - 2 * margin, w - 2 * margin
    mc = mat[:, margin:h - margin, margin:w - margin]
    w1 = xp.asarray(win1)
    t1 = l1[e:h - e, e:w - e]
    t4 = l4[e:h - e, e:w - e]
    cost = xp.empty((s, s, oh, ow))
    amp = xp.empty((s, s, oh, ow)) if dark else None
    vis = xp.empty((s, s, oh, ow)) if dark else None
    for a in range(s):
        for b in range(s):
            prod = (mc * ref[:, a:a + hq, b:b + wq]).sum(axis=0)
            tmp = w1[0] * prod[0:oh, :]
            for u in range(1, win):
                tmp = tmp + w1[u] * prod[u:u + oh, :]
            t5 = w1[0] * tmp[:, 0:ow]
            for v in range(1, win):
                t5 = t5 + w1[v] * tmp[:, v:v + ow]
            t3 = l3[r + a:r + a + oh, r + b:r + b + ow]
            if dark:
                t6 = l6[r + a:r + a + oh, r + b:r + b + ow]
                den = l2 * t3 - t6 * t6
                nz = den != 0
                safe = xp.where(nz, den, 1.0)
                kk = xp.where(nz, (l2 * t5 - t4 * t6) / safe, 0.0)
                beta = xp.where(nz, (t3 * t4 - t5 * t6) / safe, 0.0)
                am = beta + kk
                amp[a, b] = am
                vis[a, b] = xp.where(am != 0, kk / xp.where(am != 0, am, 1.0), 0.0)
                cost[a, b] = (t1 + beta * beta * l2 + kk * kk * t3 - 2.0 * beta * t4
                              - 2.0 * kk * t5 + 2.0 * beta * kk * t6)
            else:
                nz = t3 != 0
                kk = xp.where(nz, t5 / xp.where(nz, t3, 1.0), 0.0)
                cost[a, b] = t1 + kk * kk * t3 - 2.0 * kk * t5
    flat = cost.reshape(s, s, oh * ow)
    inv = flat.max(axis=(0, 1))[None, None, :] - flat
    x, y = locate(xp, inv, method, 2, size, p1, p2)
    tr = dk = None
    if dark:
        jj = xp.round(x).astype(xp.int64)
        ii = xp.round(y).astype(xp.int64)
        cols = xp.arange(oh * ow)
        tr = xp.abs(amp.reshape(s, s, -1)[ii, jj, cols]).reshape(oh, ow)
        dk = xp.abs(vis.reshape(s, s, -1)[ii, jj, cols]).reshape(oh, ow)
    return (x - margin).reshape(oh, ow), (y - margin).reshape(oh, ow), tr, dk


def to_host(a) -> np.ndarray:
    """A device array as a NumPy array (no copy for NumPy input)."""
    if a is None or isinstance(a, np.ndarray):
        return a
    return a.get()
