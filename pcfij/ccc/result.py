"""The result of a CCC analysis and its tables."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pcfij.ccc import timeseries


def round_significant(value, digits: int | None):
    """Round to ``digits`` significant digits (None/0: unchanged); NaN/None pass through."""
    if value is None or not digits:
        return value
    v = float(value)
    if not math.isfinite(v) or v == 0:
        return v
    return float(f"{v:.{int(digits)}g}")


@dataclass
class CCCResult:
    """Outcome of :func:`pcfij.ccc.ccc` or :func:`pcfij.ccc.cross_correlation_profile`.

    For a single image the statistics are floats; for a time series they are arrays with one
    value per frame. Failed fits give NaN statistics and ``fit_ok`` False (the plugin writes
    -1 for confidence and R-squared instead).

    Attributes
    ----------
    mean, sigma, height : float or ndarray
        Gaussian fit of the subtracted profile (calibrated units): mean distance, standard
        deviation, peak height. NaN where the fit failed; None for ``xcorr``.
    confidence : float or ndarray or None
        AUC(subtracted) / AUC(original) within mean +- 3 sigma; None without confidence.
    r_squared : float or ndarray or None
        R-squared of the fit within mean +- 3 sigma.
    fit_ok : bool or ndarray
        Whether a Gaussian could be fitted.
    message : str
        Warnings (failed fit, low confidence ...), one per line.
    distance : ndarray (n,)
        Distances of the radial profiles (calibrated units, increasing, from 0).
    original, subtracted, fit : ndarray or None
        Radial profiles ``(n,)`` or ``(frames, n)``: the original correlation, the correlation
        after subtraction of the low spatial frequency component, the fitted curve.
    original_image, subtracted_image, gaussian_modified_image : ndarray or None
        Correlation images (zero shift at index ``n // 2`` per axis), when asked for.
    contribution1, contribution2 : ndarray or None
        Contribution images of image 1 and image 2, when asked for.
    best_frame : int or None
        For a time series: the frame with the highest confidence (smallest sigma without
        confidence).
    method : str
        "plugin" or "unbiased".
    distance_ci : ndarray (2,) or (frames, 2) or None
        Unbiased method: 95 % confidence interval of the distance (``mean``).
    sigma_z : float or ndarray or None
        Unbiased method, 3D: the axial width of the blur (``sigma`` is the lateral one).
    frame_interval, time_unit : float, str or None
        Time between frames and its unit (tables of a time series).
    """

    command: str
    distance: np.ndarray
    scale: tuple[float, ...]
    unit: str = "pixel"
    mean: float | np.ndarray | None = None
    sigma: float | np.ndarray | None = None
    height: float | np.ndarray | None = None
    confidence: float | np.ndarray | None = None
    r_squared: float | np.ndarray | None = None
    fit_ok: bool | np.ndarray = False
    message: str = ""
    original: np.ndarray | None = None
    subtracted: np.ndarray | None = None
    fit: np.ndarray | None = None
    original_image: np.ndarray | None = None
    subtracted_image: np.ndarray | None = None
    gaussian_modified_image: np.ndarray | None = None
    contribution1: np.ndarray | None = None
    contribution2: np.ndarray | None = None
    n_frames: int | None = None
    time_axis: int | None = None
    best_frame: int | None = None
    mask_volume: float | np.ndarray = 0.0
    significant_digits: int | None = None
    device: str = "cpu"
    method: str = "plugin"
    distance_ci: np.ndarray | None = None
    sigma_z: float | np.ndarray | None = None
    frame_interval: float = 0.0
    time_unit: str | None = None
    extra: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ views
    @property
    def is_series(self) -> bool:
        return self.n_frames is not None

    @property
    def has_fit(self) -> bool:
        return self.command != "xcorr"

    def frame_values(self, frame: int | None = None) -> dict:
        """Statistics of one frame (default: the best frame of a series)."""
        if not self.is_series:
            keys = ("mean", "sigma", "height", "confidence", "r_squared", "fit_ok")
            return {k: getattr(self, k) for k in keys}
        t = self._frame(frame)
        out = {}
        for k in ("mean", "sigma", "height", "confidence", "r_squared", "fit_ok"):
            v = getattr(self, k)
            out[k] = None if v is None else v[t].item()
        return out

    def _frame(self, frame: int | None) -> int:
        if frame is not None:
            return int(frame)
        return self.best_frame if self.best_frame is not None else 0

    @property
    def heatmap(self) -> np.ndarray | None:
        """Profiles over time as a ``(channel, distance, time)`` float32 image (series only);
        channels: Gaussian fit, subtracted, original (those computed)."""
        if not self.is_series:
            return None
        return timeseries.heatmap(self.fit, self.subtracted, self.original)[0]

    @property
    def heatmap_channels(self) -> tuple[str, ...]:
        return timeseries.heatmap(
            None if self.fit is None else self.fit[:, :1],
            None if self.subtracted is None else self.subtracted[:, :1],
            None if self.original is None else self.original[:, :1],
        )[1] if self.is_series else ()

    # ------------------------------------------------------------------ tables
    def _r(self, v):
        return round_significant(v, self.significant_digits)

    def results_table(self, frame_interval: float = 0.0, time_unit: str = "s") -> list[tuple]:
        """The plugin's "CC Results" table as ``(name, value)`` rows (best frame of a series)."""
        if not self.has_fit:
            return []
        unit = self.unit
        vals = self.frame_values()
        rows: list[tuple] = []
        if self.is_series:
            t = self.best_frame
            if frame_interval:
                rows.append((f"Time of best CC ({time_unit})", self._r(t * frame_interval)))
            else:
                rows.append(("Frame of best CC", t))
        rows.append((f"Mean ({unit})", self._r(vals["mean"])))
        rows.append((f"StDev ({unit})", self._r(vals["sigma"])))
        if vals["confidence"] is not None:
            rows.append(("Confidence", self._r(vals["confidence"])))
        rows.append(("R-squared", self._r(vals["r_squared"])))
        rows.append(("Gaussian Height", self._r(vals["height"])))
        rows.append(("Fit", "ok" if vals["fit_ok"] else "failed"))
        return rows

    def frames_table(self, frame_interval: float = 0.0, time_unit: str = "s") -> dict:
        """Per-frame Gaussian fits of a series as columns (``{name: list}``)."""
        if not self.is_series or not self.has_fit:
            return {}
        n = self.n_frames
        cols: dict = {"Frame": list(range(n))}
        if frame_interval:
            cols[f"Time ({time_unit})"] = [self._r(t * frame_interval) for t in range(n)]
        cols["Mean"] = [self._r(v) for v in self.mean]
        cols["SD"] = [self._r(v) for v in self.sigma]
        if self.confidence is not None:
            cols["Confidence"] = [self._r(v) for v in self.confidence]
        cols["R-squared"] = [self._r(v) for v in self.r_squared]
        cols["Gaussian height"] = [self._r(v) for v in self.height]
        cols["Fit"] = ["ok" if ok else "failed" for ok in self.fit_ok]
        return cols

    def profile_table(self, frame: int | None = None) -> dict:
        """The correlation plot's data as columns: distance, original, subtracted, fit."""
        def pick(p):
            if p is None:
                return None
            return p if p.ndim == 1 else p[self._frame(frame)]

        cols = {f"Distance ({self.unit})": self.distance}
        for name, p in (("Original CC", self.original), ("Subtracted CC", self.subtracted),
                        ("Gaussian fit", self.fit)):
            q = pick(p)
            if q is not None:
                cols[name] = q
        return cols

    def summary(self) -> str:
        """A short text summary (the plugin's Summary.txt)."""
        what = f"time series of {self.n_frames} frames" if self.is_series else "single frame"
        sizes = ", ".join(f"{s:g}" for s in self.scale)
        lines = [f"pcfij {self.command}: {what}",
                 f"pixel size (x,y[,z]): {sizes} {self.unit}",
                 f"device: {self.device}"]
        for name, value in self.results_table():
            lines.append(f"{name}: {value}")
        if self.message:
            lines.append("")
            lines.append(self.message)
        return "\n".join(lines) + "\n"
