"""numpy <-> ImagePlus and columns <-> ResultsTable, with calibration, in bulk.

Axis order is explicit. NumPy arrays carry an ``axes`` string made of ``T``, ``Z``, ``C``,
``Y``, ``X`` (any order; ``Y`` and ``X`` required). ImageJ stores a hyperstack as planes in
XYCZT order: the plane of channel ``c``, slice ``z``, frame ``t`` (0-based) is stack index
``c + z*C + t*C*Z`` (1-based in ImageJ). :func:`to_imageplus` transposes to ``TZCYX`` (the
NumPy view of XYCZT) and copies plane by plane through one direct NIO buffer (no per-pixel
Python work); :func:`from_imageplus` reverses it.

Pixel types: ``uint8`` -> 8-bit, ``uint16`` -> 16-bit, ``float32`` -> 32-bit. ``bool`` becomes
8-bit 0/255 (an ImageJ mask); other numeric types are converted to ``float32``; complex
data are refused.

Calibration (:class:`pcfij.io.tiff.Calibration`) maps to ``ij.measure.Calibration``:
``pixel_width``/``pixel_height``/``voxel_depth`` <-> ``pixelWidth``/``pixelHeight``/
``pixelDepth``, ``unit`` <-> ``getUnit()``, ``frame_interval`` (seconds) <-> ``frameInterval``
(with time unit ``sec``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np

from pcfij.errors import InputError, InputTypeError
from pcfij.io.axes import drop_single_axes
from pcfij.io.tiff import Calibration, Image

IJ_ORDER = "TZCYX"
DEFAULT_AXES = {2: "YX", 3: "ZYX", 4: "ZCYX", 5: "TZCYX"}


@cache
def jclass(name: str):
    """Return a Java class (``ij.ImagePlus`` ...) from the running JVM."""
    import jpype

    if not jpype.isJVMStarted():
        raise RuntimeError(
            "Java is not running; call pcfij.imagej.start_imagej() first"
        )
    return jpype.JClass(name)


# --------------------------------------------------------------------------- arrays
def normalize_axes(data: np.ndarray, axes: str | None) -> str:
    """Check ``axes`` against ``data`` (default: :data:`DEFAULT_AXES` by dimension)."""
    if axes is None:
        if data.ndim not in DEFAULT_AXES:
            raise InputError(
                f"cannot convert a {data.ndim}-D array to an ImageJ image; give 2 to 5 "
                "dimensions with axes made of T, Z, C, Y, X"
            )
        return DEFAULT_AXES[data.ndim]
    ax = axes.upper()
    if len(ax) != data.ndim:
        raise InputError(f"axes {axes!r} has {len(ax)} letters but the array has {data.ndim} "
                         "dimensions")
    if set(ax) - set(IJ_ORDER) or len(set(ax)) != len(ax) or "Y" not in ax or "X" not in ax:
        raise InputError(f"axes {axes!r} must use each of T, Z, C at most once and include Y "
                         "and X")
    return ax


def _ij_dtype(data: np.ndarray) -> np.ndarray:
    if data.dtype == np.bool_:
        return data.astype(np.uint8) * np.uint8(255)
    if data.dtype in (np.uint8, np.uint16, np.float32):
        return data
    if np.issubdtype(data.dtype, np.complexfloating) or not np.issubdtype(
        data.dtype, np.number
    ):
        raise InputTypeError(
            f"cannot make an ImageJ image from {data.dtype} data; give real numbers "
            "(uint8, uint16 or float32)"
        )
    return data.astype(np.float32)


def to_imageplus(
    data: np.ndarray,
    axes: str | None = None,
    calibration: Calibration | None = None,
    *,
    title: str = "image",
    labels: Sequence[str] | None = None,
    info: str | None = None,
    composite: bool | None = None,
) -> Any:
    """Make an ``ij.ImagePlus`` from an array (2D to 5D hyperstack).

    Parameters
    ----------
    data : ndarray
        The pixels.
    axes : str, optional
        Axis letters of ``data`` from ``TZCYX`` (default by dimension: ``YX``, ``ZYX``,
        ``ZCYX``, ``TZCYX``).
    calibration : Calibration, optional
        Pixel size/unit, voxel depth, frame interval.
    title : str
        Image title.
    labels : list of str, optional
        One slice label per plane, in ImageJ's plane order (C fastest, then Z, then T).
    info : str, optional
        Text for *Image > Show Info* (the ``Info`` property).
    composite : bool, optional
        Make a ``CompositeImage`` (default: when there is more than one channel).

    Returns
    -------
    ij.ImagePlus
    """
    import jpype
    import jpype.nio

    arr = np.asarray(data)
    ax = normalize_axes(arr, axes)
    arr = _ij_dtype(arr)
    # insert missing axes and transpose to TZCYX
    for letter in IJ_ORDER:
        if letter not in ax:
            arr = arr[np.newaxis]
            ax = letter + ax
    arr = np.ascontiguousarray(arr.transpose([ax.index(a) for a in IJ_ORDER]))
    nt, nz, nc, h, w = arr.shape
    if h * w == 0 or nt * nz * nc == 0:
        raise InputError(f"cannot make an ImageJ image of shape {data.shape}: it is empty")
    if h * w > 2**31 - 1:
        raise InputError(f"a {h}x{w} plane is too large for ImageJ (2^31 pixels at most)")
    nplanes = nt * nz * nc
    if labels is not None and len(labels) != nplanes:
        raise InputError(f"{len(labels)} slice labels given for {nplanes} planes")
    ImageStack = jclass("ij.ImageStack")
    ImagePlus = jclass("ij.ImagePlus")
    ByteOrder = jclass("java.nio.ByteOrder")
    if arr.dtype == np.float32:
        jtype, view = jpype.JFloat, "asFloatBuffer"
    elif arr.dtype == np.uint16:
        jtype, view = jpype.JShort, "asShortBuffer"
    else:
        jtype, view = jpype.JByte, None
    flat = arr.reshape(-1).view(np.uint8)
    buf = jpype.nio.convertToDirectBuffer(flat).order(ByteOrder.nativeOrder())
    buf = getattr(buf, view)() if view else buf
    stack = ImageStack(w, h)
    npix = h * w
    for i in range(nplanes):
        plane = jpype.JArray(jtype)(npix)
        buf.get(plane)
        stack.addSlice(labels[i] if labels is not None else None, plane)
    del buf, flat
    imp = ImagePlus(title, stack)
    imp.setDimensions(nc, nz, nt)
    if sum(n > 1 for n in (nc, nz, nt)) > 1 or (nc > 1):
        imp.setOpenAsHyperStack(True)
    if composite is None:
        composite = nc > 1
    if composite and nc > 1:
        CompositeImage = jclass("ij.CompositeImage")
        imp = CompositeImage(imp, CompositeImage.COLOR)
    if calibration is not None:
        set_calibration(imp, calibration)
    if info:
        imp.setProperty("Info", info)
    if arr.dtype != np.uint8:
        imp.resetDisplayRange()
    return imp


def from_imageplus(imp: Any, *, squeeze: bool = True) -> Image:
    """Copy an ``ij.ImagePlus`` into a NumPy array with its axes and calibration.

    Parameters
    ----------
    imp : ij.ImagePlus
    squeeze : bool
        Drop the T, Z, C axes of length 1 (default), so a time series comes back as
        ``TYX`` and a single plane as ``YX``; False always gives ``TZCYX``.

    Returns
    -------
    pcfij.io.tiff.Image
        ``data`` (uint8, uint16 or float32; RGB images come back as uint8 with a C axis of
        3), ``axes``, ``calibration`` and ``path`` (the file the image came from, if known).
    """
    if imp is None:
        raise InputError("no image")
    w, h = int(imp.getWidth()), int(imp.getHeight())
    nc, nz, nt = int(imp.getNChannels()), int(imp.getNSlices()), int(imp.getNFrames())
    stack = imp.getStack()
    nplanes = int(stack.getSize())
    if nc * nz * nt != nplanes:  # inconsistent dimensions: treat as a plain stack
        nc, nz, nt = 1, nplanes, 1
    bitdepth = int(imp.getBitDepth())
    if bitdepth == 24:
        out = np.empty((nt, nz, nc, 3, h, w), np.uint8)
        planes = out.reshape(nplanes, 3, h, w)
        for i in range(nplanes):
            rgb = np.frombuffer(memoryview(stack.getPixels(i + 1)), np.int32).reshape(h, w)
            planes[i, 0] = (rgb >> 16) & 255
            planes[i, 1] = (rgb >> 8) & 255
            planes[i, 2] = rgb & 255
        out = out.transpose(0, 1, 2, 3, 4, 5).reshape(nt, nz, nc * 3, h, w)
        nc *= 3
    else:
        dtype = {8: np.uint8, 16: np.uint16, 32: np.float32}[bitdepth]
        src = {8: np.int8, 16: np.int16, 32: np.float32}[bitdepth]
        out = np.empty((nt, nz, nc, h, w), dtype)
        planes = out.reshape(nplanes, h, w)
        for i in range(nplanes):
            pix = np.frombuffer(memoryview(stack.getPixels(i + 1)), src)
            planes[i] = pix.view(dtype).reshape(h, w)
    axes = IJ_ORDER
    if squeeze:
        out, axes = drop_single_axes(out, IJ_ORDER)
    cal = get_calibration(imp)
    path = ""
    fi = imp.getOriginalFileInfo()
    if fi is not None and fi.directory is not None and fi.fileName is not None:
        path = str(fi.directory) + str(fi.fileName)
    return Image(out, axes, cal, path)


# --------------------------------------------------------------------------- calibration
def get_calibration(imp: Any) -> Calibration:
    """Read an ImagePlus's calibration."""
    jc = imp.getCalibration()
    unit = str(jc.getUnit())
    fi = float(jc.frameInterval)
    tunit = str(jc.getTimeUnit()).lower()
    scale = {"ms": 1e-3, "msec": 1e-3, "us": 1e-6, "µs": 1e-6, "usec": 1e-6, "min": 60.0,
             "h": 3600.0, "hour": 3600.0, "hr": 3600.0}.get(tunit, 1.0)
    cal = Calibration(
        pixel_width=float(jc.pixelWidth), pixel_height=float(jc.pixelHeight),
        voxel_depth=float(jc.pixelDepth), unit=unit, frame_interval=fi * scale,
    )
    return cal


def set_calibration(imp: Any, cal: Calibration) -> None:
    """Write a :class:`Calibration` into an ImagePlus."""
    jc = imp.getCalibration().copy()
    jc.pixelWidth = float(cal.pixel_width)
    jc.pixelHeight = float(cal.pixel_height)
    jc.pixelDepth = float(cal.voxel_depth)
    jc.setUnit(cal.unit or "pixel")
    jc.frameInterval = float(cal.frame_interval or 0.0)
    if cal.frame_interval:
        jc.setTimeUnit("sec")
    imp.setCalibration(jc)


# --------------------------------------------------------------------------- tables
def to_results_table(
    columns: Mapping[str, Sequence | np.ndarray],
    table: Any = None,
    *,
    labels: Sequence[str] | None = None,
    precision: int | None = None,
) -> Any:
    """Fill an ``ij.measure.ResultsTable`` from columns (numbers or strings).

    Parameters
    ----------
    columns : mapping
        ``{heading: values}``; all columns have the same length. Numeric columns are
        copied in one call per column (``setValues``); text columns cell by cell.
    table : ResultsTable, optional
        A table to reset and fill (e.g. ``ResultsTable.getResultsTable()``, the table a
        macro sees as ``nResults``/``getResult``); default a new table.
    labels : list of str, optional
        Row labels (ImageJ's ``Label`` column).
    """
    import jpype

    RT = jclass("ij.measure.ResultsTable")
    rt = table if table is not None else RT()
    rt.reset()
    cols = {str(k): v for k, v in columns.items()}
    lengths = {len(v) for v in cols.values()}
    if labels is not None:
        lengths.add(len(labels))
    if len(lengths) > 1:
        raise InputError(f"table columns have different lengths: {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    for _ in range(n):
        rt.incrementCounter()
    if labels is not None:
        for i, lab in enumerate(labels):
            rt.setLabel(str(lab), i)
    for name, values in cols.items():
        arr = np.asarray(values)
        if arr.dtype.kind in "biuf":
            rt.setValues(name, jpype.JArray(jpype.JDouble)(
                np.ascontiguousarray(arr, dtype=np.float64)))
        else:
            for i, v in enumerate(values):
                rt.setValue(name, i, str(v))
    if precision is not None:
        rt.setPrecision(int(precision))
    return rt


def from_results_table(rt: Any) -> dict[str, np.ndarray | list[str]]:
    """Read a ResultsTable into ``{heading: values}`` (float64 arrays; text as lists)."""
    out: dict[str, np.ndarray | list[str]] = {}
    n = int(rt.size())
    for heading in rt.getHeadings():
        name = str(heading)
        if name in (" ",):  # row numbers
            continue
        if name == "Label":
            out[name] = [str(rt.getLabel(i)) for i in range(n)]
            continue
        col = rt.getColumn(name)
        values = np.array(col, dtype=np.float64) if col is not None else np.full(n, np.nan)
        if n and np.isnan(values).any():
            texts = [str(rt.getStringValue(name, i)) for i in range(n)]
            if any(_is_text(texts[i]) for i in np.flatnonzero(np.isnan(values))):
                out[name] = ["" if t in ("0", "NaN") and not np.isnan(values[i]) else t
                             for i, t in enumerate(texts)]
                continue
        out[name] = values
    return out


def _is_text(t: str) -> bool:
    try:
        float(t)
    except ValueError:
        return t != ""
    return False
