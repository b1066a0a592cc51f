"""What to read: one value object describing a big image time series input.

A :class:`Source` names the input (path), the dataset inside it, the region and frame
range to analyse, the frame size and sample type of raw files, and whether bad TIFF files
are filled. It travels unchanged from the adapters (CLI, Python) through the pipeline to
dask workers in other processes (it is a small frozen, picklable, JSON-able record), and
:meth:`Source.open` turns it into a lazily opened :class:`pcfij.io.readers.Series`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pcfij.io.axes import parse_frame_size


def _range_text(value, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, slice):
        return f"{'' if value.start is None else value.start}:" \
               f"{'' if value.stop is None else value.stop}"
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(s, slice) for s in value):
        return ",".join(_range_text(s, what) for s in value)
    from pcfij.errors import InputTypeError

    raise InputTypeError(f"{what} must be a 'start:stop' string or slice(s); got {value!r}")


def _frame_size(value) -> tuple[int, ...] | None:
    return parse_frame_size(value, lengths=(2, 3))


@dataclass(frozen=True)
class Source:
    """A big image time series input (see module docstring).

    Attributes
    ----------
    path : str
        Absolute path of the folder of TIFF files / TIFF / HDF5 / Zarr / ``.npy`` / raw file.
    dataset : str or None
        Dataset inside an HDF5 file or Zarr group (None: the single 3D one).
    roi : str or None
        ``"y0:y1,x0:x1"`` region in pixels (rows, then columns); None = whole image.
    frames : str or None
        ``"start:stop"`` frame range; None = all frames.
    frame_size : tuple of int or None
        (H, W) (or (T, H, W)) of the frames of a raw binary file.
    dtype : str or None
        Sample type of a raw binary file (default little-endian ``uint16``).
    skip_bad : bool
        TIFF folders: fill missing or unreadable files by interpolation instead of stopping.
    """

    path: str
    dataset: str | None = None
    roi: str | None = None
    frames: str | None = None
    frame_size: tuple[int, ...] | None = None
    dtype: str | None = None
    skip_bad: bool = False

    @classmethod
    def of(cls, path: str | os.PathLike, *, dataset: str | None = None, roi=None, frames=None,
           frame_size=None, dtype=None, skip_bad: bool = False) -> Source:
        """Build a checked Source (strings or slices for ``roi``/``frames``)."""
        return cls(str(Path(path).expanduser().absolute()), dataset, _range_text(roi, "roi"),
                   _range_text(frames, "frames"), _frame_size(frame_size),
                   None if dtype is None else str(dtype), bool(skip_bad))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["frame_size"] = list(self.frame_size) if self.frame_size else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Source:
        return cls(d["path"], d.get("dataset"), d.get("roi"), d.get("frames"),
                   tuple(d["frame_size"]) if d.get("frame_size") else None, d.get("dtype"),
                   bool(d.get("skip_bad", False)))
