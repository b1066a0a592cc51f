"""Time-series helpers: best frame, heat map of profiles over time, per-frame table."""

from __future__ import annotations

import numpy as np

HEATMAP_CHANNELS = ("Gaussian fit", "Subtracted CC", "Original CC")


def best_frame(confidence, sigma) -> int | None:
    """The plugin's "best" frame: highest confidence, or smallest sigma when there is no
    confidence (frames whose fit failed are never best unless all failed)."""
    if confidence is not None:
        c = np.asarray(confidence, dtype=np.float64)
        if np.all(np.isnan(c)):
            return 0
        return int(np.nanargmax(c))
    s = np.asarray(sigma, dtype=np.float64)
    if np.all(np.isnan(s)):
        return 0
    return int(np.nanargmin(s))


def heatmap(fit, subtracted, original) -> tuple[np.ndarray, tuple[str, ...]]:
    """Stack profiles over time into a float32 image ``(channel, distance, time)``.

    Rows are the distances in increasing order (0 at the top), columns the frames; the
    channels are the Gaussian fit, the subtracted and the original profiles (those that
    exist). Frames whose fit failed have zeros in the fit channel.
    """
    planes, names = [], []
    for name, prof in zip(HEATMAP_CHANNELS, (fit, subtracted, original)):
        if prof is None:
            continue
        p = np.asarray(prof, dtype=np.float32)
        if p.ndim == 1:
            p = p[np.newaxis]
        planes.append(np.nan_to_num(p, nan=0.0).T)
        names.append(name)
    return np.stack(planes), tuple(names)
