"""Shapes and axes of image arrays: the frame-size parser and the axis-dropping rule.

One place for two rules every reader and adapter needs:

* :func:`parse_frame_size`: ``"64x64"`` (H x W) -> ``(64, 64)``, the frame size of raw files;
* :func:`drop_single_axes`: drop length-1 axes other than Y and X (a one-frame time axis,
  a one-channel axis), so files, ImageJ images and arrays present the same axes.
"""

from __future__ import annotations

import re

import numpy as np

from pcfij.errors import InputError


def parse_frame_size(value, *, lengths: tuple[int, ...] = (2,)) -> tuple[int, ...] | None:
    """The frame size of a raw file as a tuple of positive ints.

    Parameters
    ----------
    value : str, sequence of int or None
        ``"64x64"``, ``"64,64"``, ``"64 64"`` or ``(64, 64)``: height x width in pixels
        (with ``lengths=(2, 3)`` also T x H x W). None or ``""``: not given.
    lengths : tuple of int
        How many numbers are accepted.

    Returns
    -------
    tuple of int or None
        ``(H, W)`` (or ``(T, H, W)``), None when not given.

    Raises
    ------
    InputError
        Not numbers, the wrong count, or a size below 1 (the message names `frame_size`).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    want = "64x64 (H x W)" if lengths == (2,) else "64x64 (H x W) or 100x64x64 (T x H x W)"
    if isinstance(value, str):
        parts = [v for v in re.split(r"[,x\s]+", value.strip().lower()) if v]
        try:
            numbers = [int(v) for v in parts]
        except ValueError:
            raise InputError(f"`frame_size` must look like {want}; got {value!r}") from None
    else:
        try:
            numbers = [int(v) for v in value]
        except (TypeError, ValueError):
            raise InputError(f"`frame_size` must look like {want}; got {value!r}") from None
    if len(numbers) not in lengths:
        raise InputError(f"`frame_size` must look like {want}; got {value!r}")
    if min(numbers) < 1:
        raise InputError(f"`frame_size` must be positive numbers; got {value!r}")
    return tuple(numbers)


def drop_single_axes(data: np.ndarray, axes: str, *, keep: str = "YX") -> tuple[np.ndarray, str]:
    """Drop the length-1 axes of ``data`` other than those named in ``keep``.

    Parameters
    ----------
    data : ndarray
        The image, one axis per letter of ``axes`` (a memory map stays one: this reshapes).
    axes : str
        Axis letters (of ``TZCYX``, or others such as ``Q`` for unknown), ``len == data.ndim``.
    keep : str
        Letters whose axes stay even when of length 1.

    Returns
    -------
    (ndarray, str)
        The reshaped data (the same object when nothing is dropped) and its axes.
    """
    if len(axes) != data.ndim:
        raise ValueError(f"axes {axes!r} do not match the data's {data.ndim} dimensions")
    kept = [i for i, (n, a) in enumerate(zip(data.shape, axes)) if n > 1 or a in keep]
    if len(kept) == data.ndim:
        return data, axes
    return data.reshape([data.shape[i] for i in kept]), "".join(axes[i] for i in kept)
