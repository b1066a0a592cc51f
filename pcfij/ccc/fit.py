"""Gaussian fit of the subtracted radial profile, confidence and R-squared.

The fit follows the plugin's documented behaviour:

* **Means near zero.** The profile is zero-bounded, so points beyond twice the location of
  the profile maximum are mirrored to negative distances (``x -> 2 * peak - x``); when the
  maximum is at the first distance the mirror is at 0. This keeps a peak at or near zero
  from being fitted as a lopsided curve, without creating a double peak.
* **Noise spikes.** A fit with ``sigma <= pixel size``, ``mean < -pixel size`` or a negative
  height (or no convergence) is a fit to noise: the profile is smoothed with a moving average
  over distances ``d +- w`` (``w`` = 0.1 .. 0.5 pixel sizes) and fitted again.
* **Failure.** If no acceptable fit is found the outcome is flagged (``ok=False``) with a
  message, never an exception.

Confidence is ``sum(subtracted) / sum(original)`` over the profile points with
``mean - 3 sigma < d < mean + 3 sigma``; R-squared compares the subtracted profile with the
fitted curve over ``mean - 3 sigma <= d < mean + 3 sigma``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FAILED_MESSAGE = (
    "could not fit a Gaussian curve to the subtracted correlation profile; this suggests no "
    "spatial correlation between the images, or a mask drawn too tightly around the objects "
    "(the mask should cover every place the signal could be, e.g. the whole cell)"
)


@dataclass(frozen=True)
class GaussFit:
    """Outcome of :func:`fit_gaussian`. ``height``/``mean``/``sigma`` are NaN when ``ok`` is
    False."""

    ok: bool
    height: float
    mean: float
    sigma: float
    message: str = ""
    smoothing: float = 0.0  # moving-average half-width used (0 = raw profile)

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


def mirrored_points(distance: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fit's observations: every point, plus mirrored copies of points beyond twice the
    peak location (see module docstring)."""
    peak = 0.0
    if values.size and np.max(values) > 0:
        i = int(np.argmax(values))
        peak = float(distance[i]) if i > 0 else 0.0
    beyond = distance > 2.0 * peak
    x = np.concatenate([distance, 2.0 * peak - distance[beyond]])
    y = np.concatenate([values, values[beyond]])
    return x, y


def moving_average(distance: np.ndarray, values: np.ndarray, half_width: float):
    """Average keys and values over ``[d - w, d + w)`` around each distance (sorted input);
    windows giving the same averaged distance are merged."""
    lo = np.searchsorted(distance, distance - half_width, side="left")
    hi = np.searchsorted(distance, distance + half_width, side="left")
    hi = np.maximum(hi, lo + 1)
    cd = np.concatenate([[0.0], np.cumsum(distance)])
    cv = np.concatenate([[0.0], np.cumsum(values)])
    n = hi - lo
    keys = (cd[hi] - cd[lo]) / n
    vals = (cv[hi] - cv[lo]) / n
    keys, first = np.unique(keys, return_index=True)
    return keys, vals[first]


def _initial_guess(x: np.ndarray, y: np.ndarray, pixel: float) -> tuple[float, float, float]:
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    i = int(np.argmax(ys))
    h, c = float(ys[i]), float(xs[i])
    half = h / 2.0
    left = i
    while left > 0 and ys[left - 1] > half:
        left -= 1
    right = i
    while right < ys.size - 1 and ys[right + 1] > half:
        right += 1
    width = float(xs[right] - xs[left])
    if width <= 0:
        width = float(xs[-1] - xs[0]) / 4.0
    sigma = max(width / 2.3548200450309493, 2.0 * pixel)
    return h, c, sigma


def _fit_once(x: np.ndarray, y: np.ndarray, pixel: float, max_nfev: int):
    import lmfit  # noqa: PLC0415 - slow import, only needed here

    if x.size < 3 or not np.all(np.isfinite(y)) or np.max(y) <= 0:
        return None
    h0, c0, s0 = _initial_guess(x, y, pixel)
    params = lmfit.Parameters()
    params.add("height", value=h0)
    params.add("center", value=c0)
    params.add("sigma", value=s0)

    def residual(p):
        v = p.valuesdict()
        return gaussian(x, v["height"], v["center"], v["sigma"]) - y

    try:
        res = lmfit.minimize(residual, params, method="leastsq", max_nfev=max_nfev)
    except (ValueError, FloatingPointError, ArithmeticError):
        return None
    if not res.success:
        return None
    v = res.params.valuesdict()
    out = (float(v["height"]), float(v["center"]), abs(float(v["sigma"])))
    if not all(math.isfinite(t) for t in out):
        return None
    return out


def _acceptable(p, pixel: float) -> bool:
    return p is not None and p[2] > pixel and p[1] >= -pixel and p[0] >= 0


def fit_gaussian(distance, values, pixel_size: float, *, max_nfev: int = 2000) -> GaussFit:
    """Fit ``height * exp(-(d - mean)^2 / (2 sigma^2))`` to a radial profile.

    Parameters
    ----------
    distance, values : array (n,)
        The subtracted radial profile, distances sorted ascending.
    pixel_size : float
        The x pixel size (the plugin's noise-spike threshold: sigma must exceed it).

    Returns
    -------
    GaussFit
        ``ok=False`` with a message when no acceptable curve was found.
    """
    d = np.asarray(distance, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(all="ignore"):
        p = _fit_once(*mirrored_points(d, v), pixel_size, max_nfev)
        smoothing = 0.0
        if not _acceptable(p, pixel_size):
            for k in range(1, 6):
                if p is not None and p[2] > pixel_size and p[1] >= 0:
                    break
                w = k * pixel_size / 10.0
                dk, vk = moving_average(d, v, w)
                p = _fit_once(*mirrored_points(dk, vk), pixel_size, max_nfev // 2)
                smoothing = w
    if not _acceptable(p, pixel_size):
        return GaussFit(False, math.nan, math.nan, math.nan, FAILED_MESSAGE, smoothing)
    return GaussFit(True, p[0], p[1], p[2], "", smoothing)


def confidence(distance, subtracted, original, fit: GaussFit) -> float:
    """AUC of the subtracted over AUC of the original profile within mean +- 3 sigma."""
    if not fit.ok:
        return math.nan
    d = np.asarray(distance)
    sel = (d > fit.mean - 3 * fit.sigma) & (d < fit.mean + 3 * fit.sigma)
    den = float(np.sum(np.asarray(original)[sel]))
    if not sel.any() or den == 0:
        return math.nan
    return float(np.sum(np.asarray(subtracted)[sel])) / den


def r_squared(distance, subtracted, fit: GaussFit) -> float:
    """R-squared of the fit against the subtracted profile within mean +- 3 sigma."""
    if not fit.ok:
        return math.nan
    d = np.asarray(distance)
    sel = (d >= fit.mean - 3 * fit.sigma) & (d < fit.mean + 3 * fit.sigma)
    if not sel.any():
        return math.nan
    y = np.asarray(subtracted, dtype=np.float64)[sel]
    f = fit.curve(d[sel])
    total = float(np.sum((y - y.mean()) ** 2))
    if total == 0:
        return math.nan
    return 1.0 - float(np.sum((y - f) ** 2)) / total
