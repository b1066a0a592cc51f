"""Gaussian curve fitting with the numbers of commons-math3 3.6.1's ``GaussianCurveFitter``.

The Fiji CCC plugin fits ``norm * exp(-(x - mean)^2 / (2 sigma^2))`` with
``GaussianCurveFitter.create().withMaxIterations(k).fit(points)``. This module reproduces
that fitter in Python/numba (own code, written from the library's documented algorithm):

* the start point of ``GaussianCurveFitter.ParameterGuesser``: points sorted by (x, y); the
  first highest point gives ``norm`` and ``mean``; the width is found where the profile crosses
  ``halfY = norm + (mean - norm) / 2`` (the library's formula, which mixes height and position:
  for small heights it is about ``mean / 2``), interpolating linearly on each side of the peak;
  when one side never crosses it, the width is ``max x - min x``; ``sigma = width / 2.3548...``;
* Levenberg-Marquardt as in ``LevenbergMarquardtOptimizer`` (MINPACK's lmder logic: QR with
  column pivoting, the LM parameter search, step bound ``100 * |D x|``, tolerances 1e-10,
  ranking threshold ``Double.MIN_NORMAL``), unit weights, at most ``max_iter`` outer
  iterations, no extra convergence checker; a model with ``sigma <= 0`` evaluates to +inf
  (the library's guard).

Outcomes are status codes instead of exceptions: :data:`OK`, :data:`TOO_MANY_ITERATIONS`
(``TooManyIterationsException``, which the plugin catches), :data:`CONVERGENCE`
(``ConvergenceException``: a Jacobian with Inf/NaN, or tolerances too small) and
:data:`TOO_FEW_POINTS` (``NumberIsTooSmallException``, fewer than 3 points); the plugin does
not catch the last two (it stops with an error).
"""

from __future__ import annotations

import math

import numba
import numpy as np

OK = 0
TOO_MANY_ITERATIONS = 1
CONVERGENCE = 2
TOO_FEW_POINTS = 3

STATUS_TEXT = {
    OK: "converged",
    TOO_MANY_ITERATIONS: "too many iterations",
    CONVERGENCE: "convergence exception (Jacobian with Inf/NaN or tolerance too small)",
    TOO_FEW_POINTS: "fewer than 3 points",
}

#: 2 * sqrt(2 * ln 2) as commons-math computes it (FastMath.sqrt(2 * FastMath.log(2)))
FWHM_TO_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
_SAFE_MIN = 2.2250738585072014e-308  # Double.MIN_NORMAL (Precision.SAFE_MIN)
_EPS = 1.1102230246251565e-16  # Precision.EPSILON = 2^-53
_TWO_EPS = 2 * _EPS


def sort_points(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Points sorted by x then y (the guesser's order)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    order = np.lexsort((y, x))
    return x[order], y[order]


def _interpolate_x(xs, ys, start: int, step: int, level: float):
    """x where the polyline crosses ``level`` walking from ``start`` by ``step``; None if
    it never does."""
    i = start
    n = xs.size
    while (i + step >= 0) if step < 0 else (i + step < n):
        y1, y2 = ys[i], ys[i + step]
        if (y1 <= level <= y2) or (y2 <= level <= y1):
            if step < 0:
                (px1, py1), (px2, py2) = (xs[i + step], y2), (xs[i], y1)
            else:
                (px1, py1), (px2, py2) = (xs[i], y1), (xs[i + step], y2)
            if py1 == level:
                return float(px1)
            if py2 == level:
                return float(px2)
            return float(px1 + ((level - py1) * (px2 - px1)) / (py2 - py1))
        i += step
    return None


def guess(x, y) -> np.ndarray:
    """Start point ``(norm, mean, sigma)`` of commons-math's ``ParameterGuesser``.

    Parameters
    ----------
    x, y : array (n,), n >= 3
        Observations in any order.
    """
    xs, ys = sort_points(x, y)
    i = int(np.argmax(ys))  # first of the highest points (strict '>' scan)
    n, m = float(ys[i]), float(xs[i])
    half = n + ((m - n) / 2)
    x1 = _interpolate_x(xs, ys, i, -1, half)
    x2 = _interpolate_x(xs, ys, i, 1, half) if x1 is not None else None
    fwhm = (x2 - x1) if (x1 is not None and x2 is not None) else float(xs[-1] - xs[0])
    return np.array([n, m, fwhm / FWHM_TO_SIGMA])


# ---------------------------------------------------------------------------- model
@numba.njit(cache=True)
def _evaluate(x, y, p, res, jac):  # pragma: no cover - compiled
    """Residuals ``y - f(x; p)`` and Jacobian of ``f`` (rows per point); returns the cost
    ``sqrt(sum res^2)``. ``sigma <= 0`` gives +inf values and gradients."""
    norm, mean, sigma = p[0], p[1], p[2]
    ok = sigma > 0
    i2s2 = 1.0 / (2 * sigma * sigma) if ok else 0.0
    cost2 = 0.0
    for i in range(x.size):
        if ok:
            diff = x[i] - mean
            e = math.exp(-diff * diff * i2s2)
            v = norm * e
            gm = norm * e * 2 * i2s2 * diff
            jac[i, 0] = e
            jac[i, 1] = gm
            jac[i, 2] = gm * diff / sigma
        else:
            v = math.inf
            jac[i, 0] = math.inf
            jac[i, 1] = math.inf
            jac[i, 2] = math.inf
        r = y[i] - v
        res[i] = r
        cost2 += r * r
    return math.sqrt(cost2)


# ---------------------------------------------------------------------------- QR
@numba.njit(cache=True)
def _qr(wj, perm, diag_r, jac_norm, beta, threshold):  # pragma: no cover - compiled
    """In-place QR with column pivoting of ``wj`` (= -J); returns (rank, status)."""
    nr, nc = wj.shape
    for k in range(nc):
        perm[k] = k
        s = 0.0
        for i in range(nr):
            a = wj[i, k]
            s += a * a
        jac_norm[k] = math.sqrt(s)
    for k in range(nc):
        nxt = -1
        ak2 = -math.inf
        for i in range(k, nc):
            s = 0.0
            for j in range(k, nr):
                a = wj[j, perm[i]]
                s += a * a
            if math.isinf(s) or math.isnan(s):
                return k, CONVERGENCE
            if s > ak2:
                nxt = i
                ak2 = s
        if ak2 <= threshold:
            return k, OK
        pk = perm[nxt]
        perm[nxt] = perm[k]
        perm[k] = pk
        akk = wj[k, pk]
        alpha = -math.sqrt(ak2) if akk > 0 else math.sqrt(ak2)
        betak = 1.0 / (ak2 - akk * alpha)
        beta[pk] = betak
        diag_r[pk] = alpha
        wj[k, pk] -= alpha
        for dk in range(nc - 1 - k, 0, -1):
            col = perm[k + dk]
            gamma = 0.0
            for j in range(k, nr):
                gamma += wj[j, pk] * wj[j, col]
            gamma *= betak
            for j in range(k, nr):
                wj[j, col] -= gamma * wj[j, pk]
    return nc, OK


@numba.njit(cache=True)
def _qty(y, wj, perm, beta):  # pragma: no cover - compiled
    nr, nc = wj.shape
    for k in range(nc):
        pk = perm[k]
        gamma = 0.0
        for i in range(k, nr):
            gamma += wj[i, pk] * y[i]
        gamma *= beta[pk]
        for i in range(k, nr):
            y[i] -= gamma * wj[i, pk]


# ---------------------------------------------------------------------------- LM pieces
@numba.njit(cache=True)
def _lm_direction(qy, diag, lm_diag, wj, perm, diag_r, solved, work, lm_dir):  # pragma: no cover
    for j in range(solved):
        pj = perm[j]
        for i in range(j + 1, solved):
            wj[i, pj] = wj[j, perm[i]]
        lm_dir[j] = diag_r[pj]
        work[j] = qy[j]
    for j in range(solved):
        pj = perm[j]
        dpj = diag[pj]
        if dpj != 0:
            for t in range(j + 1, lm_diag.size):
                lm_diag[t] = 0.0
        lm_diag[j] = dpj
        qtbpj = 0.0
        for k in range(j, solved):
            pk = perm[k]
            if lm_diag[k] != 0:
                rkk = wj[k, pk]
                if abs(rkk) < abs(lm_diag[k]):
                    cotan = rkk / lm_diag[k]
                    sin = 1.0 / math.sqrt(1.0 + cotan * cotan)
                    cos = sin * cotan
                else:
                    tan = lm_diag[k] / rkk
                    cos = 1.0 / math.sqrt(1.0 + tan * tan)
                    sin = cos * tan
                wj[k, pk] = cos * rkk + sin * lm_diag[k]
                temp = cos * work[k] + sin * qtbpj
                qtbpj = -sin * work[k] + cos * qtbpj
                work[k] = temp
                for i in range(k + 1, solved):
                    rik = wj[i, pk]
                    temp2 = cos * rik + sin * lm_diag[i]
                    lm_diag[i] = -sin * rik + cos * lm_diag[i]
                    wj[i, pk] = temp2
        lm_diag[j] = wj[j, perm[j]]
        wj[j, perm[j]] = lm_dir[j]
    nsing = solved
    for j in range(solved):
        if lm_diag[j] == 0 and nsing == solved:
            nsing = j
        if nsing < solved:
            work[j] = 0.0
    if nsing > 0:
        for j in range(nsing - 1, -1, -1):
            pj = perm[j]
            s = 0.0
            for i in range(j + 1, nsing):
                s += wj[i, pj] * work[i]
            work[j] = (work[j] - s) / lm_diag[j]
    for j in range(lm_dir.size):
        lm_dir[perm[j]] = work[j]


@numba.njit(cache=True)
def _scaled_norm(diag, v, perm, n, out):  # pragma: no cover - compiled
    """``out[perm[j]] = diag * v`` for the first ``n`` permuted columns; returns its norm."""
    total = 0.0
    for j in range(n):
        pj = perm[j]
        s = diag[pj] * v[pj]
        out[pj] = s
        total += s * s
    return math.sqrt(total)


@numba.njit(cache=True)
def _lm_parameter(qy, delta, diag, wj, perm, rank, diag_r, solved, work1, work2, work3,
                  lm_dir, lm_par):  # pragma: no cover - compiled
    nc = wj.shape[1]
    for j in range(rank):
        lm_dir[perm[j]] = qy[j]
    for j in range(rank, nc):
        lm_dir[perm[j]] = 0.0
    for k in range(rank - 1, -1, -1):
        pk = perm[k]
        ypk = lm_dir[pk] / diag_r[pk]
        for i in range(k):
            lm_dir[perm[i]] -= ypk * wj[i, pk]
        lm_dir[pk] = ypk
    dx_norm = _scaled_norm(diag, lm_dir, perm, solved, work1)
    fp = dx_norm - delta
    if fp <= 0.1 * delta:
        return 0.0
    parl = 0.0
    if rank == solved:
        for j in range(solved):
            pj = perm[j]
            work1[pj] *= diag[pj] / dx_norm
        sum2 = 0.0
        for j in range(solved):
            pj = perm[j]
            s = 0.0
            for i in range(j):
                s += wj[i, pj] * work1[perm[i]]
            v = (work1[pj] - s) / diag_r[pj]
            work1[pj] = v
            sum2 += v * v
        parl = fp / (delta * sum2)
    sum2 = 0.0
    for j in range(solved):
        pj = perm[j]
        s = 0.0
        for i in range(j + 1):
            s += wj[i, pj] * qy[i]
        s /= diag[pj]
        sum2 += s * s
    g_norm = math.sqrt(sum2)
    paru = g_norm / delta
    if paru == 0:
        paru = _SAFE_MIN / min(delta, 0.1)
    lm_par = min(paru, max(lm_par, parl))
    if lm_par == 0:
        lm_par = g_norm / dx_norm
    for _countdown in range(10, -1, -1):
        if lm_par == 0:
            lm_par = max(_SAFE_MIN, 0.001 * paru)
        s_par = math.sqrt(lm_par)
        for j in range(solved):
            pj = perm[j]
            work1[pj] = s_par * diag[pj]
        _lm_direction(qy, work1, work2, wj, perm, diag_r, solved, work3, lm_dir)
        dx_norm = _scaled_norm(diag, lm_dir, perm, solved, work3)
        previous_fp = fp
        fp = dx_norm - delta
        if abs(fp) <= 0.1 * delta or (parl == 0 and fp <= previous_fp and previous_fp < 0):
            return lm_par
        for j in range(solved):
            pj = perm[j]
            work1[pj] = work3[pj] * diag[pj] / dx_norm
        for j in range(solved):
            pj = perm[j]
            work1[pj] /= work2[j]
            tmp = work1[pj]
            for i in range(j + 1, solved):
                work1[perm[i]] -= wj[i, pj] * tmp
        sum2 = 0.0
        for j in range(solved):
            s = work1[perm[j]]
            sum2 += s * s
        correction = fp / (delta * sum2)
        if fp > 0:
            parl = max(parl, lm_par)
        elif fp < 0:
            paru = min(paru, lm_par)
        lm_par = max(parl, lm_par + correction)
    return lm_par


@numba.njit(cache=True)
def _optimize(x, y, start, max_iter, out):  # pragma: no cover - compiled
    """Levenberg-Marquardt; writes the optimum into ``out``; returns (status, iterations)."""
    nr = x.size
    nc = 3
    solved = min(nr, nc)
    lm_dir = np.zeros(nc)
    lm_par = 0.0
    delta = 0.0
    x_norm = 0.0
    diag = np.zeros(nc)
    old_x = np.zeros(nc)
    qtf = np.zeros(nr)
    work1 = np.zeros(nc)
    work2 = np.zeros(nc)
    work3 = np.zeros(nc)
    perm = np.zeros(nc, dtype=np.int64)
    diag_r = np.zeros(nc)
    jac_norm = np.zeros(nc)
    beta = np.zeros(nc)
    point = start.copy()
    res = np.zeros(nr)
    jac = np.zeros((nr, nc))
    cost = _evaluate(x, y, point, res, jac)
    # the accepted evaluation (point, residuals, jacobian, cost)
    cur_jac = jac.copy()
    cur_res = res.copy()
    cur_point = point.copy()
    iterations = 0
    first = True
    while True:
        iterations += 1
        if iterations > max_iter:
            out[:] = cur_point
            return TOO_MANY_ITERATIONS, iterations - 1
        prev_point = cur_point.copy()
        prev_res = cur_res.copy()
        prev_jac = cur_jac.copy()
        wj = -cur_jac
        rank, status = _qr(wj, perm, diag_r, jac_norm, beta, _SAFE_MIN)
        if status != OK:
            out[:] = cur_point
            return status, iterations
        for i in range(nr):
            qtf[i] = cur_res[i]
        _qty(qtf, wj, perm, beta)
        for k in range(solved):
            pk = perm[k]
            wj[k, pk] = diag_r[pk]
        if first:
            x_norm = 0.0
            for k in range(nc):
                dk = jac_norm[k]
                if dk == 0:
                    dk = 1.0
                xk = dk * cur_point[k]
                x_norm += xk * xk
                diag[k] = dk
            x_norm = math.sqrt(x_norm)
            delta = 100.0 if x_norm == 0 else 100.0 * x_norm
        max_cosine = 0.0
        if cost != 0:
            for j in range(solved):
                pj = perm[j]
                s = jac_norm[pj]
                if s != 0:
                    acc = 0.0
                    for i in range(j + 1):
                        acc += wj[i, pj] * qtf[i]
                    max_cosine = max(max_cosine, abs(acc) / (s * cost))
        if max_cosine <= 1e-10:
            out[:] = cur_point
            return OK, iterations
        for j in range(nc):
            diag[j] = max(diag[j], jac_norm[j])
        ratio = 0.0
        while ratio < 1.0e-4:
            for j in range(solved):
                pj = perm[j]
                old_x[pj] = cur_point[pj]
            previous_cost = cost
            lm_par = _lm_parameter(qtf, delta, diag, wj, perm, rank, diag_r, solved,
                                   work1, work2, work3, lm_dir, lm_par)
            lm_norm = 0.0
            trial = cur_point.copy()
            for j in range(solved):
                pj = perm[j]
                lm_dir[pj] = -lm_dir[pj]
                trial[pj] = old_x[pj] + lm_dir[pj]
                s = diag[pj] * lm_dir[pj]
                lm_norm += s * s
            lm_norm = math.sqrt(lm_norm)
            if first:
                delta = min(delta, lm_norm)
            new_cost = _evaluate(x, y, trial, res, jac)
            act_red = -1.0
            if 0.1 * new_cost < previous_cost:
                r = new_cost / previous_cost
                act_red = 1.0 - r * r
            for j in range(solved):
                pj = perm[j]
                dir_j = lm_dir[pj]
                work1[j] = 0.0
                for i in range(j + 1):
                    work1[i] += wj[i, pj] * dir_j
            coeff1 = 0.0
            for j in range(solved):
                coeff1 += work1[j] * work1[j]
            pc2 = previous_cost * previous_cost
            coeff1 /= pc2
            coeff2 = lm_par * lm_norm * lm_norm / pc2
            pre_red = coeff1 + 2 * coeff2
            dir_der = -(coeff1 + coeff2)
            ratio = 0.0 if pre_red == 0 else act_red / pre_red
            if ratio <= 0.25:
                tmp = (0.5 * dir_der / (dir_der + 0.5 * act_red)) if act_red < 0 else 0.5
                if 0.1 * new_cost >= previous_cost or tmp < 0.1:
                    tmp = 0.1
                delta = tmp * min(delta, 10.0 * lm_norm)
                lm_par /= tmp
            elif lm_par == 0 or ratio >= 0.75:
                delta = 2 * lm_norm
                lm_par *= 0.5
            if ratio >= 1.0e-4:
                first = False
                cur_point = trial
                cur_res = res.copy()
                cur_jac = jac.copy()
                cost = new_cost
                x_norm = 0.0
                for k in range(nc):
                    xk = diag[k] * cur_point[k]
                    x_norm += xk * xk
                x_norm = math.sqrt(x_norm)
            else:
                cost = previous_cost
                cur_point = prev_point.copy()
                cur_res = prev_res.copy()
                cur_jac = prev_jac.copy()
            if ((abs(act_red) <= 1e-10 and pre_red <= 1e-10 and ratio <= 2.0)
                    or delta <= 1e-10 * x_norm):
                out[:] = cur_point
                return OK, iterations
            if abs(act_red) <= _TWO_EPS and pre_red <= _TWO_EPS and ratio <= 2.0:
                out[:] = cur_point
                return CONVERGENCE, iterations
            if delta <= _TWO_EPS * x_norm:
                out[:] = cur_point
                return CONVERGENCE, iterations
            if max_cosine <= _TWO_EPS:
                out[:] = cur_point
                return CONVERGENCE, iterations


def fit(x, y, max_iter: int, start=None) -> tuple[np.ndarray | None, int]:
    """``GaussianCurveFitter.create().withMaxIterations(max_iter).fit(points)``.

    Parameters
    ----------
    x, y : array (n,)
        Observations (unit weights), in the order they were added.
    max_iter : int
        Outer Levenberg-Marquardt iterations allowed.
    start : array (3,), optional
        Start point (default: :func:`guess`).

    Returns
    -------
    params, status
        ``(norm, mean, sigma)`` (None unless ``status == OK``) and one of the status codes.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if x.size < 3:
        return None, TOO_FEW_POINTS
    p0 = guess(x, y) if start is None else np.asarray(start, dtype=np.float64)
    out = np.empty(3)
    status, _ = _optimize(x, y, p0, int(max_iter), out)
    return (out if status == OK else None), int(status)
