"""The result of a CCC analysis (what users see of it, tables and names, is built by
:func:`pcfij.ccc.present.ccc_outputs`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pcfij.ccc import timeseries


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
