"""Reading and writing single TIFF/NumPy/raw image files with their calibration.

ImageJ hyperstack TIFFs carry calibration in their ImageJ metadata (``spacing`` for the
voxel depth, ``finterval`` for the frame interval, ``unit``) and in the X/Y resolution tags
(pixels per unit); OME-TIFF carries ``PhysicalSizeX/Y/Z``. Both are read into
:class:`Calibration`; results are written as ImageJ hyperstacks with the same calibration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pcfij.calibration import Calibration
from pcfij.errors import InputError


@dataclass
class Image:
    """An image array with its axes (a string of ``TZCYX``) and calibration."""

    data: np.ndarray
    axes: str
    calibration: Calibration
    path: str = ""


def read_image(path: str | os.PathLike, *, raw_shape=None, raw_dtype="uint16") -> Image:
    """Read a TIFF (ImageJ, OME, plain), ``.npy`` or raw ``.bin`` file.

    Parameters
    ----------
    path : path
        The file.
    raw_shape : tuple of int, optional
        For raw ``.bin`` files (e.g. SimFCS): the frame shape ``(H, W)``; the number of
        frames follows from the file size.
    raw_dtype : str
        For raw files: the sample type (SimFCS: little-endian ``uint16``).

    Raises
    ------
    InputError
        Missing, unreadable or truncated file, with the file named.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"input file {p} does not exist")
    if p.is_dir():
        raise InputError(f"{p} is a folder; give an image file")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            data = np.load(p, mmap_mode="r", allow_pickle=False)
            axes = {2: "YX", 3: "TYX", 4: "TZYX"}.get(data.ndim, "Q" * data.ndim)
            if data.size == 0:
                empty = [f"{a}={n}" for a, n in zip(axes, data.shape) if n == 0]
                raise InputError(
                    f"{p} holds no image data (shape {data.shape}, axes {axes}: "
                    f"{', '.join(empty)}); give a file with at least one frame"
                )
            return Image(np.asarray(data), axes, Calibration(), str(p))
        if suffix in (".bin", ".raw"):
            return _read_raw(p, raw_shape, raw_dtype)
        return _read_tiff(p)
    except InputError:
        raise
    except Exception as exc:  # tifffile raises many kinds; report the file and the reason
        raise InputError(f"cannot read {p}: {exc}") from exc


def _read_raw(p: Path, raw_shape, raw_dtype) -> Image:
    dtype = np.dtype(raw_dtype).newbyteorder("<")
    size = p.stat().st_size
    if raw_shape is None:  # never guessed: a wrong guess gives scrambled frames, no error
        raise InputError(
            f"raw file {p} does not store its frame size: give it as `frame_size` (H x W "
            "pixels, e.g. 64x64)"
        )
    h, w = (int(v) for v in raw_shape)
    frame = h * w * dtype.itemsize
    if size == 0 or size % frame:
        raise InputError(
            f"raw file {p} has {size} bytes, not a whole number of {h}x{w} {dtype.name} "
            "frames; the file is truncated or the frame size is wrong"
        )
    data = np.memmap(p, dtype=dtype, mode="r", shape=(size // frame, h, w))
    return Image(np.asarray(data), "TYX", Calibration(), str(p))


def _read_tiff(p: Path) -> Image:
    import logging

    import tifffile

    logger = logging.getLogger("tifffile")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # damaged files are reported by our own error
    try:
        return _read_tiff_quiet(p, tifffile)
    except Exception as exc:
        raise InputError(f"cannot read {p} (damaged or truncated TIFF file?): {exc}") from exc
    finally:
        logger.setLevel(level)


def _read_tiff_quiet(p: Path, tifffile) -> Image:
    with tifffile.TiffFile(p) as tif:
        series = tif.series[0]
        axes = series.axes.upper().replace("I", "T").replace("S", "C")
        data = series.asarray()
        cal = Calibration()
        page = tif.pages.first
        ij = tif.imagej_metadata or {}
        if ij:
            cal.unit = str(ij.get("unit", cal.unit)).replace("\\u00B5", "µ") or "pixel"
            cal.voxel_depth = float(ij.get("spacing", 1.0))
            cal.frame_interval = float(ij.get("finterval", 0.0))
        xres = page.tags.get("XResolution")
        yres = page.tags.get("YResolution")
        if xres is not None and ij:
            num, den = xres.value
            if num:
                cal.pixel_width = den / num
            num, den = (yres or xres).value
            if num:
                cal.pixel_height = den / num
        if tif.is_ome and tif.ome_metadata:
            _ome_calibration(tif.ome_metadata, cal)
    if data.ndim >= 2 and data.shape[-1] in (3, 4) and axes.endswith("C") and "YX" not in axes[-2:]:
        pass
    return Image(data, axes, cal, str(p))


def _ome_calibration(xml: str, cal: Calibration) -> None:
    import re

    for key, attr in (("PhysicalSizeX", "pixel_width"), ("PhysicalSizeY", "pixel_height"),
                      ("PhysicalSizeZ", "voxel_depth"), ("TimeIncrement", "frame_interval")):
        m = re.search(rf'{key}="([0-9.eE+-]+)"', xml)
        if m:
            setattr(cal, attr, float(m.group(1)))
            if key == "PhysicalSizeX":
                u = re.search(r'PhysicalSizeXUnit="([^"]+)"', xml)
                cal.unit = u.group(1) if u else "µm"


def write_imagej_tiff(
    path: str | os.PathLike,
    data: np.ndarray,
    axes: str,
    calibration: Calibration | None = None,
    *,
    labels: list[str] | None = None,
    extra_metadata: dict | None = None,
) -> None:
    """Write an ImageJ hyperstack TIFF with calibration.

    Parameters
    ----------
    data : ndarray
        Array whose axes are a subsequence of ``TZCYX`` (ImageJ's order), e.g. ``"ZCYX"``.
    axes : str
        The axes of ``data``.
    calibration : Calibration, optional
        Pixel size/unit, voxel depth, frame interval.
    labels : list of str, optional
        Slice labels, one per plane.
    """
    import tifffile

    cal = calibration or Calibration()
    data = np.asarray(data)
    if data.dtype not in (np.uint8, np.uint16, np.float32):
        data = data.astype(np.float32)
    meta: dict = {"axes": axes, "unit": cal.unit}
    if cal.voxel_depth != 1.0:
        meta["spacing"] = cal.voxel_depth
    if cal.frame_interval:
        meta["finterval"] = cal.frame_interval
    if labels:
        meta["Labels"] = list(labels)
    if extra_metadata:
        meta.update(extra_metadata)
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(1.0 / cal.pixel_width, 1.0 / cal.pixel_height),
        metadata=meta,
    )
