"""Figures of ipCF results (matplotlib; the Agg backend is used when no display is set).

* :func:`plot_pixel_curves` -- all pCF curves of one pixel: ``"lines"``, ``"carpet"``
  (points x delay image) or ``"polar"`` (direction x delay);
* :func:`plot_pcf_image` -- the image of pCF values for one circle point and delay bin;
* :func:`plot_max_delay_map` -- per direction, the delay at which the pCF peaks (fast flow:
  short delays; blocked: no peak).

``result`` is what :func:`pcfij.pcf.ipcf` returns; with an :class:`~pcfij.pcf.IPCFResult` the
delay ``bins`` and circle ``coords`` come from the result and may be left out.
"""

from __future__ import annotations

import os

import numpy as np

from pcfij.errors import InputError
from pcfij.pcf.basics import bin_delays
from pcfij.pcf.result import IPCFResult


def _pyplot():
    import matplotlib

    if not os.environ.get("DISPLAY") and matplotlib.get_backend().lower() != "agg":
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _given_or_from_result(result, value, attr: str, what: str) -> np.ndarray:
    """``value``, or attribute ``attr`` of an IPCFResult ``result`` (``what`` names it)."""
    if value is not None:
        return np.asarray(value)
    if isinstance(result, IPCFResult):
        return getattr(result, attr)
    raise InputError(f"pass the {what} with a plain pCF array, or the IPCFResult that "
                     "pcfij.pcf.ipcf returned")


def _bins(result, bins) -> np.ndarray:
    return _given_or_from_result(result, bins, "bins", "delay bins (pcfij.pcf.ipcf_bins)")


def _coords(result, coords) -> np.ndarray:
    return _given_or_from_result(result, coords, "circle", "circle offsets (pcfij.pcf.circle)")


def plot_pixel_curves(result, y: int, x: int, bins=None, coords=None, *, style: str = "lines",
                      ax=None):
    """Plot the pCF curves of result pixel ``(y, x)`` for every circle point.

    Parameters
    ----------
    result : IPCFResult or ndarray, shape (H', W', npoints, nbins)
        Output of :func:`pcfij.pcf.ipcf`.
    y, x : int
        Result pixel (row, column) -- image pixel ``(y + radius, x + radius)``.
    bins : ndarray, shape (nbins,), optional
        Delay bins (:func:`pcfij.pcf.ipcf_bins`); default those of an IPCFResult.
    coords : ndarray, shape (npoints, 2), optional
        Circle offsets (:func:`pcfij.pcf.circle`); default those of an IPCFResult.
    style : {"lines", "carpet", "polar"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    bins, coords = _bins(result, bins), _coords(result, coords)
    curves = np.asarray(result[y, x], dtype=np.float64)
    delays = np.maximum(bin_delays(bins), 0.5)
    npoints = curves.shape[0]
    if style == "polar":
        fig = plt.figure(figsize=(5, 5)) if ax is None else ax.figure
        ax = ax or fig.add_subplot(projection="polar")
        angles = np.arctan2(coords[:, 1], coords[:, 0])
        order = np.argsort(angles)
        theta = np.append(angles[order], angles[order][0] + 2 * np.pi)
        rr = np.log10(delays)
        values = curves[order]
        values = np.vstack([values, values[:1]])
        mesh = ax.pcolormesh(theta, rr, values.T,
                             shading="nearest", cmap="viridis")
        ax.set_title(f"pCF at pixel ({y}, {x}); radius = log10(delay / frames)")
        fig.colorbar(mesh, ax=ax, shrink=0.7, label="G")
        return fig
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.5))
    else:
        fig = ax.figure
    if style == "carpet":
        im = ax.imshow(curves, aspect="auto", cmap="viridis", interpolation="nearest",
                       extent=(-0.5, curves.shape[1] - 0.5, npoints - 0.5, -0.5))
        ax.set_xlabel("delay bin")
        ax.set_ylabel("circle point")
        fig.colorbar(im, ax=ax, label="G")
    elif style == "lines":
        cmap = plt.get_cmap("hsv")
        for i in range(npoints):
            ax.semilogx(delays, curves[i], color=cmap(i / npoints), lw=1)
        ax.set_xlabel("delay (frames)")
        ax.set_ylabel("G")
    else:
        raise InputError(f"style must be 'lines', 'carpet' or 'polar'; got {style!r}")
    ax.set_title(f"pCF curves at result pixel ({y}, {x})")
    return fig


def plot_pcf_image(result, point: int, bin_index: int, *, ax=None, title: str | None = None):
    """Show the pCF value of every pixel for one circle point and delay bin."""
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 4.5))
    else:
        fig = ax.figure
    img = np.asarray(result[:, :, point, bin_index], dtype=np.float32)
    finite = img[np.isfinite(img)]
    vmin, vmax = (np.percentile(finite, [1, 99]) if finite.size else (0, 1))
    im = ax.imshow(img, cmap="magma", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_title(title or f"pCF, circle point {point}, delay bin {bin_index}")
    fig.colorbar(im, ax=ax, label="G")
    return fig


def max_delay_map(result, bins=None, *, min_amplitude: float = 0.0) -> np.ndarray:
    """Return the delay (frames) of each curve's maximum, NaN where it does not exceed
    ``min_amplitude`` (no correlated flow).

    Returns
    -------
    ndarray, shape (H', W', npoints), float32
    """
    delays = bin_delays(_bins(result, bins)).astype(np.float32)
    res = np.asarray(result)
    filled = np.where(np.isfinite(res), res, -np.inf)
    k = filled[..., 1:].argmax(axis=-1) + 1  # bin 0 is the smoothed copy of bin 1
    peak = np.take_along_axis(filled, k[..., None], axis=-1)[..., 0]
    out = delays[k]
    out[~(peak > min_amplitude)] = np.nan
    return out


def plot_max_delay_map(
    result, bins=None, coords=None, *, min_amplitude: float | None = None,
    average_pixels: int = 5,
):
    """Maps of the delay of the pCF maximum for up to 8 directions around the circle.

    Single-pixel curves are noisy; the curves are first averaged over
    ``average_pixels x average_pixels`` neighbourhoods (1 = no averaging).
    """
    from scipy import ndimage

    plt = _pyplot()
    bins, coords = _bins(result, bins), _coords(result, coords)
    res = np.asarray(result, dtype=np.float32)
    if average_pixels > 1:
        res = ndimage.uniform_filter(res, size=(average_pixels, average_pixels, 1, 1),
                                     mode="nearest")
    if min_amplitude is None:
        finite = res[np.isfinite(res)]
        min_amplitude = float(np.percentile(finite, 75)) if finite.size else 0.0
    delays = max_delay_map(res, bins, min_amplitude=min_amplitude)
    npoints = res.shape[2]
    picks = np.unique(np.linspace(0, npoints, min(8, npoints), endpoint=False).astype(int))
    ncol = min(4, len(picks))
    nrow = int(np.ceil(len(picks) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 3.0 * nrow), squeeze=False)
    finite = delays[np.isfinite(delays)]
    vmax = float(np.log10(finite.max())) if finite.size else 1.0
    for ax, i in zip(axes.flat, picks):
        im = ax.imshow(np.log10(delays[:, :, i]), cmap="viridis_r", vmin=0, vmax=vmax,
                       interpolation="nearest")
        u, v = coords[i]
        ax.set_title(f"point {i} (dx={u}, dy={v})", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(picks):]:
        ax.axis("off")
    fig.colorbar(im, ax=axes, shrink=0.8, label="log10(delay of maximum / frames)")
    fig.suptitle("Delay of the pCF maximum per direction (blank: no correlated flow)")
    return fig
