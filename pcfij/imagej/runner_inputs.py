"""Helpers every ImageJ runner shares: output names from input images, warnings to the Log,
checked time series and masks.

Kept below :mod:`pcfij.imagej.runners` and :mod:`pcfij.imagej.runners_shift` so neither
imports the other for them.
"""

from __future__ import annotations

import numpy as np

from pcfij.errors import InputError
from pcfij.io.tiff import Image
from pcfij.outputs import Outputs


def stem(img: Image) -> str:
    """The image's name without folder and image-file extension (outputs are named after it)."""
    name = title(img)
    for ext in (".ome.tiff", ".ome.tif", ".tiff", ".tif", ".npy"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def title(img: Image) -> str:
    """The image's ImageJ title (a file's name without its folder), as the plugin names outputs."""
    return str(img.path or "image").replace("\\", "/").rsplit("/", 1)[-1]


def warnings_to_log(caught: list, out: Outputs) -> None:
    """Append recorded warnings (``warnings.catch_warnings(record=True)``) to the Log lines."""
    for w in caught:
        out.log.append(f"pcfij: {w.message}")


def time_series(img: Image, what: str) -> np.ndarray:
    """A (T, H, W) time series from an image: T frames, or Z slices of a plain stack."""
    ax, data = img.axes, img.data
    if "C" in ax:
        raise InputError(f"{what} has {data.shape[ax.index('C')]} channels; pCF needs one "
                         "channel (Image > Color > Split Channels)")
    if "T" in ax and "Z" in ax:
        raise InputError(f"{what} has both slices and frames; pCF needs a single-plane time "
                         "series (Image > Hyperstacks > Reduce Dimensionality)")
    if ax in ("TYX", "ZYX"):  # a plain ImageJ stack is a time series here
        return data
    if ax == "YX":
        raise InputError(f"{what} is a single image; pCF needs a time series (a stack of "
                         "at least 32 frames)")
    raise InputError(f"{what} has axes {ax}; give a time series of 2D frames")


def mask_plane(img: Image | None, shape: tuple[int, int], what: str) -> np.ndarray | None:
    """A boolean (H, W) mask from a 2D image of the frame size ``shape`` (None: no mask)."""
    if img is None:
        return None
    data = img.data
    if data.ndim != 2:
        raise InputError(f"{what} must be a single 2D image; got {data.ndim} dimensions "
                         f"({img.axes})")
    if data.shape != tuple(shape):
        raise InputError(f"{what} is {data.shape[1]}x{data.shape[0]} pixels but the image is "
                         f"{shape[1]}x{shape[0]}; use a mask of the same size")
    return data != 0
