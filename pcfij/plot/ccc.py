"""Figures of CCC results: the correlation plot and the time-series heat map.

Colours follow the Fiji plugin: original correlation = blue circles, subtracted = green
circles, Gaussian fit = magenta filled circles; the x range is fitted to the Gaussian
(0 .. mean + 5 sigma) like the plugin's plot (the CSV holds every distance). The plot itself
is built by :func:`pcfij.ccc.present.ccc_outputs`; :func:`render_plot` draws it.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

_MARKERS = {"circle": dict(marker="o", ls="none"), "filled": dict(marker="o", ls="none"),
            "line": dict(ls="-")}


def render_plot(plot, *, xmax: float | None = None) -> Figure:
    """Draw a :class:`pcfij.outputs.OutPlot` (circles open, "filled" circles filled) with the
    x axis from 0 to ``xmax`` (default: every point)."""
    fig = Figure(figsize=(6.4, 4.4), dpi=100)
    ax = fig.add_subplot()
    top = xmax
    if top is None:
        top = max((float(np.max(x)) for _, x, _, _, _ in plot.series if len(x)), default=1.0)
    for label, x, y, shape, color in plot.series:
        sel = (x >= 0) & (x <= top)
        style = dict(_MARKERS.get(shape, _MARKERS["circle"]))
        if shape == "circle":
            style.update(mfc="none", mec=color)
        elif shape == "filled":
            style.update(mfc=color, mec=color)
        else:
            style.update(color=color)
        ax.plot(x[sel], y[sel], ms=3, label=label, rasterized=True, **style)
    ax.set_xlim(0, top if top > 0 else 1)
    ax.set_xlabel(plot.xlabel)
    ax.set_ylabel(plot.ylabel)
    ax.set_title(plot.title)
    ax.legend(loc="best", frameon=False)
    fig.tight_layout()
    return fig


def correlation_plot(result, *, full_range: bool = False) -> Figure:
    """The plugin's "Correlation of images" plot of a single-frame result (x from 0 to
    mean + 5 sigma unless ``full_range``)."""
    from pcfij.ccc.present import ccc_outputs, plot_range  # noqa: PLC0415

    shown = ccc_outputs(result, title1="image 1", title2="image 2", values={})
    if not shown.plots:
        raise ValueError("the correlation plot exists for single frames only")
    return render_plot(shown.plots[0], xmax=None if full_range else plot_range(result))


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
