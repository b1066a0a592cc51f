"""The Fiji plugin's Gaussian fit of the subtracted radial profile, confidence and R-squared.

Rules (from the plugin's ``RadialProfiler.CurveFit``; the fitter is
:mod:`pcfij.ccc.cmfit`, commons-math3's ``GaussianCurveFitter``):

1. **Mirroring.** ``peak`` = the first distance whose value beats all earlier ones, starting
   from a maximum of 0 (so a profile that is never positive has ``peak = 0``); a peak at the
   first distance counts as 0. Every point ``(d, v)`` is an observation and, when
   ``d > 2 peak``, so is ``(2 peak - d, v)`` (right after it).
2. **Fit** with at most 100 Levenberg-Marquardt iterations (too many = no fit).
3. **Rejection.** No fit, ``sigma <= x pixel size``, ``mean < -(x pixel size)`` or a negative
   height: the profile is replaced by its moving average over keys in ``[d - w, d + w)`` (keys
   and values averaged), mirrored again and refitted (50 iterations), for ``w = s/10,
   s/10 + s/10, ...`` while ``w <= s/2`` (``s`` = x pixel size, sums accumulated like the
   plugin) and while the last fit is missing, has ``sigma <= s`` or ``mean < 0``. A refit that
   runs out of iterations keeps the previous fit.
4. **Failure.** If the final fit is still rejected by rule 3, the fit failed: the result keeps
   NaN and ``ok=False``; the plugin's tables show confidence = R-squared = -1 and mean =
   StDev = the last distance (see :func:`failed_table_values`).

Confidence is ``sum(subtracted) / sum(original)`` over the profile points with
``mean - 3 sigma < d < mean + 3 sigma`` (signed mean); R-squared compares the subtracted
profile with ``height * exp(-(d - |mean|)^2 / (2 sigma^2))`` over
``mean - 3 sigma <= d < mean + 3 sigma``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from pcfij.ccc import cmfit

FAILED_MESSAGE = (
    "could not fit a Gaussian curve to the subtracted correlation profile; this suggests no "
    "spatial correlation between the images, or a mask drawn too tightly around the objects "
    "(the mask should cover every place the signal could be, e.g. the whole cell)"
)

FIRST_ITERATIONS = 100
REFIT_ITERATIONS = 50


@dataclass(frozen=True)
class GaussFit:
    """Outcome of :func:`fit_gaussian`. ``height``/``mean``/``sigma`` are NaN when ``ok`` is
    False.

    ``smoothing`` is the moving-average half-width of the accepted fit (0 = raw profile);
    ``plugin_error`` names the exception with which the Fiji plugin would stop (a fit it
    does not catch), else "".
    """

    ok: bool
    height: float
    mean: float
    sigma: float
    message: str = ""
    smoothing: float = 0.0
    plugin_error: str = ""

    def curve(self, distance) -> np.ndarray:
        """The fitted curve at ``distance`` (centred at ``|mean|`` like the plugin); NaN when
        the fit failed."""
        d = np.asarray(distance, dtype=np.float64)
        if not self.ok:
            return np.full(d.shape, np.nan)
        return gaussian(d, self.height, abs(self.mean), self.sigma)

    @property
    def peak_height(self) -> float:
        """The reported Gaussian height: the curve's value at ``mean``."""
        if not self.ok:
            return math.nan
        return float(gaussian(self.mean, self.height, abs(self.mean), self.sigma))


def gaussian(x, height, center, sigma):
    """``height * exp(-(x - center)**2 / (2 sigma**2))``."""
    return height * np.exp(-((np.asarray(x) - center) ** 2) / (2.0 * sigma * sigma))


def failed_table_values(distance) -> dict:
    """What the plugin's tables show for a failed fit: mean = StDev = the last distance,
    confidence = R-squared = -1, and its placeholder curve ``exp(-(d + 1)^2 / 2)`` (the
    plugin's ``Gaussian(1, -1, 1)``), whose value at the mean is the "Gaussian Height"."""
    last = float(np.asarray(distance)[-1])
    return {"mean": last, "sigma": last, "confidence": -1.0, "r_squared": -1.0,
            "height": math.exp(-((last + 1.0) ** 2) * 0.5)}


def failed_curve(distance) -> np.ndarray:
    """The plugin's placeholder "Gaussian fit" column of a failed fit."""
    d = np.asarray(distance, dtype=np.float64)
    return np.exp(-((d + 1.0) ** 2) * 0.5)


def mirrored_points(distance: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The plugin's observations: every point, each followed by its mirror image
    ``2 peak - d`` when ``d > 2 peak`` (rule 1 of the module docstring)."""
    d = np.asarray(distance, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    peak = 0.0
    best = 0.0
    for i in range(d.size):  # first strict maximum above 0
        if v[i] > best:
            best = v[i]
            peak = float(d[i])
    if d.size and peak == d[0]:
        peak = 0.0
    far = d > 2 * peak
    nx = d.size + int(far.sum())
    x = np.empty(nx)
    y = np.empty(nx)
    pos = np.arange(d.size) + np.concatenate([[0], np.cumsum(far)[:-1]])
    x[pos] = d
    y[pos] = v
    mpos = pos[far] + 1
    x[mpos] = (2 * peak) - d[far]
    y[mpos] = v[far]
    return x, y


@numba.njit(cache=True)
def _window_means(keys, values, lo, hi, out_k, out_v):  # pragma: no cover - compiled
    # compensated (Kahan) sums, like Java's DoubleStream.average()
    for i in range(keys.size):
        for src, dst in ((keys, out_k), (values, out_v)):
            s = 0.0
            c = 0.0
            for j in range(lo[i], hi[i]):
                t = src[j] - c
                vel = s + t
                c = (vel - s) - t
                s = vel
            dst[i] = (s - c) / (hi[i] - lo[i])


def moving_average(distance, values, half_width: float) -> tuple[np.ndarray, np.ndarray]:
    """The plugin's ``MovingAverage.averagedMap``: for every key ``d`` the mean of the keys and
    of the values in ``[d - w, d + w)``; the means become the new (sorted, distinct) keys."""
    d = np.ascontiguousarray(distance, dtype=np.float64)
    v = np.ascontiguousarray(values, dtype=np.float64)
    lo = np.searchsorted(d, d - half_width, side="left")
    hi = np.searchsorted(d, d + half_width, side="left")
    hi = np.maximum(hi, lo + 1)
    keys = np.empty(d.size)
    vals = np.empty(d.size)
    _window_means(d, v, lo, hi, keys, vals)
    keys, first = np.unique(keys, return_index=True)
    return keys, vals[first]


def _rejected(p, pixel: float) -> bool:
    return p is None or p[2] <= pixel or p[1] < -pixel or p[0] < 0


def fit_gaussian(distance, values, pixel_size: float) -> GaussFit:
    """Fit ``height * exp(-(d - mean)^2 / (2 sigma^2))`` to a radial profile, with the
    plugin's mirroring, rejection and moving-average refits (module docstring).

    Parameters
    ----------
    distance, values : array (n,)
        The subtracted radial profile, distances sorted ascending (calibrated units).
    pixel_size : float
        The x pixel size (calibrated units).

    Returns
    -------
    GaussFit
        ``ok=False`` with a message when no acceptable curve was found.
    """
    d = np.asarray(distance, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    px = float(pixel_size)
    error = ""

    def attempt(dd, vv, iterations):
        nonlocal error
        p, status = cmfit.fit(*mirrored_points(dd, vv), iterations)
        if status in (cmfit.CONVERGENCE, cmfit.TOO_FEW_POINTS) and not error:
            error = cmfit.STATUS_TEXT[status]
        return p, status

    with np.errstate(all="ignore"):
        p, _ = attempt(d, v, FIRST_ITERATIONS)
        smoothing = 0.0
        if _rejected(p, px):
            w = px / 10
            while (p is None or p[2] <= px or p[1] < 0) and w <= px / 2:
                dk, vk = moving_average(d, v, w)
                q, status = attempt(dk, vk, REFIT_ITERATIONS)
                if status != cmfit.TOO_MANY_ITERATIONS:
                    p = q
                    smoothing = w
                w += px / 10
    plugin_error = (f"the Fiji plugin stops with an error here ({error})" if error else "")
    if _rejected(p, px) or not all(math.isfinite(t) for t in p):
        msg = FAILED_MESSAGE + (f"; {plugin_error}" if plugin_error else "")
        return GaussFit(False, math.nan, math.nan, math.nan, msg, smoothing, plugin_error)
    return GaussFit(True, float(p[0]), float(p[1]), float(p[2]), "", smoothing, plugin_error)


def confidence(distance, subtracted, original, fit: GaussFit) -> float:
    """AUC of the subtracted over AUC of the original profile within mean +- 3 sigma."""
    if not fit.ok:
        return math.nan
    d = np.asarray(distance)
    sel = (d > fit.mean - 3 * fit.sigma) & (d < fit.mean + 3 * fit.sigma)
    den = float(np.sum(np.asarray(original, dtype=np.float64)[sel]))
    if not sel.any() or den == 0:
        return math.nan
    return float(np.sum(np.asarray(subtracted, dtype=np.float64)[sel])) / den


def r_squared(distance, subtracted, fit: GaussFit, curve=None) -> float:
    """R-squared of the fit against the subtracted profile within mean +- 3 sigma.

    ``curve`` (same length as ``distance``) replaces the Gaussian (the unbiased method's
    model)."""
    if not fit.ok:
        return math.nan
    d = np.asarray(distance)
    sel = (d >= fit.mean - 3 * fit.sigma) & (d < fit.mean + 3 * fit.sigma)
    if not sel.any():
        return math.nan
    y = np.asarray(subtracted, dtype=np.float64)[sel]
    f = fit.curve(d[sel]) if curve is None else np.asarray(curve, dtype=np.float64)[sel]
    total = float(np.sum((y - y.mean()) ** 2))
    if total == 0:
        return math.nan
    return 1.0 - float(np.sum((y - f) ** 2)) / total
