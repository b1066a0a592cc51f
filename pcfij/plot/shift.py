"""Vector-field (quiver) plots of local shift maps."""

from __future__ import annotations

import os

import numpy as np

from pcfij.errors import InputError


def plot_shift_map(x_shifts, y_shifts, *, step: int | None = None, background=None,
                   scale: float | None = None, border: int | None = None, title: str = "",
                   ax=None):
    """Draw local shift maps as arrows coloured by their length.

    Parameters
    ----------
    x_shifts, y_shifts : 2D arrays
        Maps from :func:`pcfij.shift.find_local_shifts` (x = columns, y = rows).
    step : int, optional
        Draw one arrow every ``step`` pixels (default: about 32 arrows across).
    background : 2D array, optional
        Image shown under the arrows (default: the shift magnitude).
    scale : float, optional
        Arrow length factor (pixels of arrow per pixel of shift; default: automatic so the
        longest arrow is about ``step`` long).
    border : int, optional
        Width of the border without results to leave out (default: detected zeros).
    title : str
        Axes title.
    ax : matplotlib Axes, optional
        Draw into these axes; otherwise a new Figure (not registered with pyplot) is made.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    xs = np.asarray(x_shifts, dtype=np.float64)
    ys = np.asarray(y_shifts, dtype=np.float64)
    if xs.shape != ys.shape or xs.ndim != 2:
        raise InputError(f"x and y shift maps must be 2D of the same shape; got {xs.shape} "
                         f"and {ys.shape}")
    h, w = xs.shape
    if border is None:
        nz = np.argwhere((xs != 0) | (ys != 0))
        r0, c0 = nz.min(axis=0) if nz.size else (0, 0)
        r1, c1 = nz.max(axis=0) + 1 if nz.size else (h, w)
    else:
        r0, c0, r1, c1 = border, border, h - border, w - border
    if step is None:
        step = max(1, max(r1 - r0, c1 - c0) // 32)
    rows = np.arange(r0 + step // 2, r1, step)
    cols = np.arange(c0 + step // 2, c1, step)
    gy, gx = np.meshgrid(rows, cols, indexing="ij")
    u = xs[gy, gx]
    v = ys[gy, gx]
    mag = np.hypot(xs, ys)
    if ax is None:
        fig = Figure(figsize=(6.4, 6.4 * h / max(w, 1) + 0.4))
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    bg = mag if background is None else np.asarray(background)
    im = ax.imshow(bg, cmap="gray" if background is not None else "magma",
                   interpolation="nearest", origin="upper")
    longest = float(np.hypot(u, v).max()) if u.size else 0.0
    if scale is None:
        scale = 0.9 * step / longest if longest > 0 else 1.0
    # image rows grow downwards: with angles="xy" and an inverted y axis, (u, v) point
    # along +column / +row as the shifts mean
    q = ax.quiver(gx, gy, u * scale, v * scale, np.hypot(u, v), angles="xy",
                  scale_units="xy", scale=1.0, cmap="viridis", width=0.003)
    fig.colorbar(q, ax=ax, fraction=0.046, pad=0.04, label="shift (pixels)")
    if background is None:
        im.set_alpha(0.6)
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_xlabel("x (column)")
    ax.set_ylabel("y (row)")
    ax.set_title(title or f"local shifts (arrows x{scale:.3g}, every {step} px)")
    return fig


def save_shift_plot(path: str | os.PathLike, x_shifts, y_shifts, **kw) -> None:
    """Save :func:`plot_shift_map` as an image file (PNG, SVG, PDF...)."""
    fig = plot_shift_map(x_shifts, y_shifts, **kw)
    fig.savefig(path, dpi=120, bbox_inches="tight")
