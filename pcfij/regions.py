"""Region selection like the tutorial: find cells in an image, return boxes to analyse.

Steps (the tutorial's ``find_regions``, defaults included): normalise the image to [0, 1];
Gaussian smoothing (``sigma`` 4); threshold (0 means: the mean of the smoothed image);
closing of small gaps with a ``closegaps`` x ``closegaps`` square (10); clearing of
regions that touch the image border; labelling; discarding regions of ``minarea`` pixels or
fewer (64 x 64); bounding boxes expanded (centred) to multiples of ``2**pow2size`` (64)
pixels and clipped to the image; largest region first.

Deliberate differences from the notebook, which are its quirks:

* the notebook calls ``clear_border`` but discards its result, so border regions stay;
  here border clearing is applied (``clear_border=False`` restores the notebook);
* the notebook caps an expanded box at ``shape - 1`` (so it never includes the last row or
  column); here boxes may extend to the image edge ``shape``.

Arrays in, :class:`Regions` out; no files (see ``pcfij regions`` for the CLI).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pcfij.errors import InputError


@dataclass(frozen=True)
class Region:
    """A selected region: label, area in pixels, and boxes as (y0, x0, y1, x1)."""

    label: int
    area: int
    bbox: tuple[int, int, int, int]
    raw_bbox: tuple[int, int, int, int]

    @property
    def roi(self) -> str:
        """The expanded box as a ``--roi`` string ``"y0:y1,x0:x1"``."""
        y0, x0, y1, x1 = self.bbox
        return f"{y0}:{y1},{x0}:{x1}"

    @property
    def shape(self) -> tuple[int, int]:
        y0, x0, y1, x1 = self.bbox
        return y1 - y0, x1 - x0


@dataclass
class Regions:
    """Result of :func:`find_regions`: regions (largest first) and intermediate images."""

    regions: list[Region]
    threshold: float
    smoothed: np.ndarray
    binary: np.ndarray
    labels: np.ndarray
    params: dict = field(default_factory=dict)

    def rois(self) -> list[str]:
        return [r.roi for r in self.regions]


def expand_bbox(bbox, shape, modulo: int) -> tuple[int, int, int, int]:
    """Grow ``(y0, x0, y1, x1)`` symmetrically to multiples of ``modulo``, inside ``shape``.

    When the image is smaller than the rounded size the box is the whole axis.
    """
    y0, x0, y1, x1 = (int(v) for v in bbox)
    out = []
    for lo, hi, size in ((y0, y1, shape[0]), (x0, x1, shape[1])):
        extent = hi - lo
        want = -(-extent // modulo) * modulo
        want = min(want, size)
        lo = max(0, lo - (want - extent) // 2)
        hi = min(size, lo + want)
        lo = max(0, hi - want)
        out.append((lo, hi))
    (ny0, ny1), (nx0, nx1) = out
    return ny0, nx0, ny1, nx1


def find_regions(
    image: np.ndarray,
    *,
    sigma: float = 4.0,
    threshold: float = 0.0,
    closegaps: int = 10,
    minarea: int = 64 * 64,
    pow2size: int = 6,
    clear_border: bool = True,
) -> Regions:
    """Find bright regions (cells) in a 2D image and their boxes for analysis.

    Parameters
    ----------
    image : array_like, shape (H, W)
        E.g. one frame or the average of some frames.
    sigma : float
        Gaussian smoothing in pixels.
    threshold : float
        Intensity threshold on the normalised, smoothed image (0..1); 0 = its mean.
    closegaps : int
        Side of the square used to close gaps (0 = no closing).
    minarea : int
        Regions must have more than this many pixels.
    pow2size : int
        Boxes are expanded to multiples of ``2**pow2size`` pixels (0 = not expanded).
    clear_border : bool
        Drop regions touching the image border.

    Returns
    -------
    Regions
    """
    import skimage.filters
    import skimage.measure
    import skimage.morphology
    import skimage.segmentation

    img = np.asarray(image, dtype=np.float64)
    img = np.squeeze(img)
    if img.ndim != 2:
        raise InputError(f"region selection needs a 2D image; got shape {np.shape(image)}")
    if not np.isfinite(img).all():
        raise InputError("the image contains NaN or infinite values")
    if sigma < 0 or closegaps < 0 or minarea < 0 or not 0 <= pow2size <= 16:
        raise InputError("sigma, closegaps and minarea must be >= 0 and pow2size 0..16")
    img = img - img.min()
    top = img.max()
    if top > 0:
        img /= top
    smoothed = skimage.filters.gaussian(img, sigma=sigma) if sigma > 0 else img
    thr = float(smoothed.mean()) if threshold == 0.0 else float(threshold)
    binary = smoothed > thr
    if closegaps > 1:
        binary = skimage.morphology.closing(binary, np.ones((closegaps, closegaps), bool))
    if clear_border:
        binary = skimage.segmentation.clear_border(binary)
    labels = skimage.measure.label(binary)
    found = []
    for prop in skimage.measure.regionprops(labels):
        if prop.area <= minarea:
            continue
        raw = tuple(int(v) for v in prop.bbox)
        box = expand_bbox(raw, img.shape, 2**pow2size) if pow2size else raw
        found.append(Region(int(prop.label), int(prop.area), box, raw))
    found.sort(key=lambda r: (-r.area, r.label))
    params = dict(
        sigma=sigma,
        threshold=threshold,
        closegaps=closegaps,
        minarea=minarea,
        pow2size=pow2size,
        clear_border=clear_border,
    )
    return Regions(found, thr, smoothed, binary, labels, params)


def plot_regions(result: Regions, image: np.ndarray | None = None, *, ax=None, title: str = ""):
    """Draw the (smoothed) image with the region boxes (expanded: solid; raw: dotted)."""
    import matplotlib

    if ax is None:
        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(
            figsize=(8, 8 * result.smoothed.shape[0] / max(result.smoothed.shape[1], 1) + 0.5)
        )
    else:
        fig = ax.figure
    from matplotlib.patches import Rectangle

    shown = result.smoothed if image is None else np.asarray(image)
    ax.imshow(shown, cmap="gray", interpolation="nearest")
    ax.contour(result.binary, levels=[0.5], colors="yellow", linewidths=0.6)
    for k, r in enumerate(result.regions):
        y0, x0, y1, x1 = r.bbox
        ax.add_patch(
            Rectangle(
                (x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor="red", linewidth=1.5
            )
        )
        ry0, rx0, ry1, rx1 = r.raw_bbox
        ax.add_patch(
            Rectangle(
                (rx0 - 0.5, ry0 - 0.5),
                rx1 - rx0,
                ry1 - ry0,
                fill=False,
                edgecolor="orange",
                linewidth=0.8,
                linestyle=":",
            )
        )
        ax.text(x0, y0, f" {k}: {r.roi}", color="red", va="bottom", fontsize=8)
    ax.set_title(title or f"{len(result.regions)} region(s), threshold {result.threshold:.3g}")
    ax.set_axis_off()
    return fig
