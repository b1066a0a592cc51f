"""Checking and normalising the inputs of the CCC functions (clear messages, no copies)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from pcfij.errors import InputError, InputTypeError


@dataclass
class Inputs:
    """Checked inputs, time first.

    ``image1``/``image2`` have shape ``(T,) + frame_shape`` (views of the caller's arrays,
    ``T = 1`` without a time axis); ``mask`` is None, frame-shaped (one mask for all frames)
    or ``(T,) + frame_shape``.
    """

    image1: np.ndarray
    image2: np.ndarray
    mask: np.ndarray | None
    frame_shape: tuple[int, ...]
    spacing: tuple[float, ...]  # pixel size per array axis of a frame: (z,) y, x
    scale: tuple[float, ...]  # the same in the user's order: x, y(, z)
    time_axis: int | None
    n_frames: int

    def frame(self, t: int):
        """``(image1, image2, mask)`` of frame ``t`` (views)."""
        m = self.mask
        if m is not None and m.ndim > len(self.frame_shape):
            m = m[t]
        return self.image1[t], self.image2[t], m


def as_array(name: str, value, *, mask: bool = False) -> np.ndarray:
    """Return ``value`` as a real numeric ndarray (no copy when it already is one)."""
    if value is None:
        raise InputError(f"{name} must be given (an image array)")
    if isinstance(value, (str, bytes)):
        raise InputTypeError(
            f"{name} must be an image array, not a string; read files with "
            "pcfij.io.tiff.read_image(path).data"
        )
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists etc.
        raise InputTypeError(f"{name} cannot be read as an image array: {exc}") from None
    kind = arr.dtype.kind
    if kind == "c":
        raise InputTypeError(f"{name} is complex; CCC needs real-valued images")
    if kind not in "biuf" or (kind == "b" and not mask):
        raise InputTypeError(
            f"{name} has data type {arr.dtype}; CCC needs numeric (integer or float) images"
        )
    if arr.size == 0:
        raise InputError(f"{name} is empty (shape {arr.shape}); give a non-empty image")
    return arr


def scale_to_spacing(scale, ndim: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Turn a user scale (None, a number, or x,y[,z]) into (spacing in array order, scale)."""
    if scale is None:
        values = (1.0,) * ndim
    elif isinstance(scale, numbers.Real) and not isinstance(scale, bool):
        values = (float(scale),) * ndim
    else:
        try:
            values = tuple(float(v) for v in scale)
        except (TypeError, ValueError):
            raise InputError(
                f"scale must be a pixel size or x,y[,z] pixel sizes; got {scale!r}"
            ) from None
    if len(values) == 1:
        values = values * ndim
    if len(values) != ndim:
        axes = "x,y" if ndim == 2 else "x,y,z"
        raise InputError(
            f"scale has {len(values)} values but the images are {ndim}-D; give {ndim} pixel "
            f"sizes ({axes})"
        )
    for v in values:
        if not math.isfinite(v) or v <= 0:
            raise InputError(
                f"scale must be positive finite pixel sizes (x,y[,z]); got {scale!r}"
            )
    return tuple(reversed(values)), values


def check_inputs(image1, image2, mask=None, *, scale=None, time_axis=None) -> Inputs:
    """Check types, shapes, mask and scale; return :class:`Inputs` (views, time first)."""
    a = as_array("image1", image1)
    b = as_array("image2", image2)
    if a.shape != b.shape:
        raise InputError(
            f"image1 and image2 have different shapes {a.shape} and {b.shape}; both images "
            "must have the same size (and the same number of frames)"
        )
    if time_axis is None:
        if a.ndim not in (2, 3):
            hint = (
                "for a time series pass time_axis=<axis>; for a multi-channel image split the "
                "channels and pass one channel as image1 and one as image2"
                if a.ndim > 3 else "CCC needs 2D or 3D images"
            )
            raise InputError(
                f"image1 has {a.ndim} dimension(s) {a.shape}; CCC analyses single-channel "
                f"2D or 3D images: {hint}"
            )
        a, b = a[np.newaxis], b[np.newaxis]
        t_axis = None
    else:
        if isinstance(time_axis, bool) or not isinstance(time_axis, numbers.Integral):
            raise InputTypeError(f"time_axis must be an integer axis index; got {time_axis!r}")
        t_axis = int(time_axis)
        if not -a.ndim <= t_axis < a.ndim:
            raise InputError(
                f"time_axis {time_axis} is out of range for images with {a.ndim} dimensions"
            )
        t_axis %= a.ndim
        if a.ndim - 1 not in (2, 3):
            raise InputError(
                f"image1 has {a.ndim} dimensions {a.shape}; with a time axis CCC takes 3-D "
                "(t,y,x) or 4-D (t,z,y,x) single-channel series; split multi-channel images "
                "into one channel per image"
            )
        a, b = np.moveaxis(a, t_axis, 0), np.moveaxis(b, t_axis, 0)
    frame_shape = a.shape[1:]
    small = [n for n in frame_shape if n < 2]
    if small:
        raise InputError(
            f"the images have an axis of size 1 (frame shape {frame_shape}); drop it "
            "(e.g. image[0]) or pass a 2D image"
        )
    m = None
    if mask is not None:
        m = as_array("mask", mask, mask=True)
        if m.shape == frame_shape:
            pass
        elif t_axis is not None and m.ndim == a.ndim and np.moveaxis(m, t_axis, 0).shape == a.shape:
            m = np.moveaxis(m, t_axis, 0)
        else:
            want = f"{frame_shape}" + (
                f" (one frame) or {image1.shape if hasattr(image1, 'shape') else a.shape}"
                if t_axis is not None else ""
            )
            raise InputError(
                f"mask shape {m.shape} does not match the images; it must be {want}"
            )
    spacing, user_scale = scale_to_spacing(scale, len(frame_shape))
    return Inputs(a, b, m, frame_shape, spacing, user_scale, t_axis, a.shape[0])


def mask_statistics(image1, image2, mask, rows: int) -> tuple[float, int]:
    """Mean of image 1 inside the mask and the mask's pixel count, checking that both
    images are finite inside the mask; reads the frame slab by slab (no full-size copies)."""
    total = 0.0
    count = 0
    for start in range(0, image1.shape[0], rows):
        sl = slice(start, start + rows)
        a = np.asarray(image1[sl])
        m = None if mask is None else (np.asarray(mask[sl]) != 0)
        for name, x in (("image1", a), ("image2", np.asarray(image2[sl]))):
            if x.dtype.kind == "f":
                bad = ~np.isfinite(x)
                if m is not None:
                    bad &= m
                if bad.any():
                    where = "inside the mask" if m is not None else ""
                    raise InputError(
                        f"{name} has NaN or infinite values {where}; replace them "
                        "(e.g. numpy.nan_to_num) or leave them out of the mask".replace("  ", " ")
                    )
        if m is None:
            total += float(a.sum(dtype=np.float64))
            count += a.size
        else:
            total += float(a[m].sum(dtype=np.float64))
            count += int(m.sum())
    if count == 0:
        raise InputError(
            "the mask is empty (no non-zero pixels); give a mask covering the region to analyse"
        )
    return total / count, count
