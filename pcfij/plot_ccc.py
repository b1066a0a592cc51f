"""Figures of CCC results: the correlation plot and the time-series heat map.

Colours follow the Fiji plugin: original correlation = blue circles, subtracted = green
circles, Gaussian fit = magenta filled circles; the x range is fitted to the Gaussian
(0 .. mean + 5 sigma) like the plugin's plot (the CSV holds every distance).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure


def correlation_plot(result, frame: int | None = None, *, full_range: bool = False) -> Figure:
    """The correlation plot of a result (for a series: the best frame, or ``frame``).

    ``full_range`` shows every distance instead of the range around the fitted Gaussian.
    """
    cols = result.profile_table(frame)
    d = np.asarray(cols[f"Distance ({result.unit})"])
    fig = Figure(figsize=(6.4, 4.4), dpi=100)
    ax = fig.add_subplot()
    vals = result.frame_values(frame) if result.has_fit else {}
    ok = bool(vals.get("fit_ok"))
    xmax = d[-1]
    if ok and not full_range:
        xmax = max(vals["mean"] + 5 * vals["sigma"], 0.01)
    sel = d <= xmax
    styles = (
        ("Original CC", dict(marker="o", mfc="none", mec="blue", ls="none")),
        ("Subtracted CC", dict(marker="o", mfc="none", mec="green", ls="none")),
        ("Gaussian fit", dict(marker="o", mfc="#ff00ff", mec="#ff00ff", ls="none")),
    )
    for name, style in styles:
        if name in cols and not (name == "Gaussian fit" and not ok):
            ax.plot(d[sel], np.asarray(cols[name])[sel], ms=3, label=name, rasterized=True,
                    **style)
    ax.set_xlim(0, xmax if xmax > 0 else 1)
    ax.set_xlabel(f"Distance ({result.unit})")
    ax.set_ylabel("Cross correlation")
    title = "Correlation of images"
    if result.is_series:
        title += f" (frame {result._frame(frame)})"
    ax.set_title(title)
    ax.legend(loc="best", frameon=False)
    fig.tight_layout()
    return fig


def heatmap_figure(result, *, max_distance: float | None = None) -> Figure:
    """The time-series heat map as an RGB composite (magenta = Gaussian fit, green =
    subtracted, blue = original), x = time, y = distance with 0 at the top; each frame's
    profiles are scaled to 0..1 (the TIFF heat map keeps the values)."""
    hm = result.heatmap
    if hm is None:
        raise ValueError("heat maps exist for time series only")
    names = result.heatmap_channels
    d = result.distance
    if max_distance is None:
        if result.has_fit and np.any(result.fit_ok):
            ok = np.asarray(result.fit_ok)
            max_distance = float(np.nanmax(result.mean[ok] + 5 * result.sigma[ok]))
        else:
            max_distance = float(d[-1])
    grid = np.linspace(float(d[0]), max(max_distance, float(d[1])), 256)
    colours = {"Gaussian fit": (1, 0, 1), "Subtracted CC": (0, 1, 0), "Original CC": (0, 0, 1)}
    rgb = np.zeros((grid.size, hm.shape[2], 3))
    for plane, name in zip(hm, names):
        # resample each frame onto a uniform distance grid, scale each frame to 0..1
        cols = np.stack([np.interp(grid, d, plane[:, t]) for t in range(plane.shape[1])], 1)
        lo, hi = cols.min(axis=0), cols.max(axis=0)
        norm = (cols - lo) / np.where(hi > lo, hi - lo, 1.0)
        rgb += norm[..., None] * np.array(colours[name])
    rgb = np.clip(rgb, 0, 1)
    fig = Figure(figsize=(6.4, 4.8), dpi=100)
    ax = fig.add_subplot()
    ax.imshow(rgb, aspect="auto", interpolation="nearest",
              extent=(-0.5, hm.shape[2] - 0.5, grid[-1], grid[0]))
    ax.set_xlabel("Frame")
    ax.set_ylabel(f"Distance ({result.unit})")
    words = {"Gaussian fit": "magenta", "Subtracted CC": "green", "Original CC": "blue"}
    ax.set_title("Correlation over time: " + ", ".join(f"{n} ({words[n]})" for n in names),
                 fontsize=8)
    fig.tight_layout()
    return fig
