"""One lazy interface to big image time series: ``open_series(path) -> dask array (T, H, W)``.

Sources
-------
* a folder of single-image TIFF files (natural sort, µManager names, big-endian files),
  see :mod:`pcfij.io.tiff_folder`;
* a multi-page / BigTIFF / OME-TIFF / ImageJ hyperstack TIFF (memory-mapped when the image
  data are contiguous and uncompressed, else decoded page by page);
* an HDF5 dataset (``dataset`` names it; else the file's single 3D dataset);
* a Zarr array or group (v2 or v3; OME-Zarr: the full-resolution level);
* a raw binary file (``.bin``/``.raw``) with ``raw_shape`` (H, W) and ``raw_dtype``;
* a ``.npy`` file (memory-mapped);
* an array-like already in memory (NumPy, dask, h5py, zarr).

Nothing is read until the dask array is computed. Data come out in native byte order.
Singleton axes are dropped; the one remaining non-image axis is time (T, Z, I, Q, C,
whichever is present), and anything with two non-singleton extra axes is refused with a
message naming the axes.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pcfij.errors import InputError, InputTypeError

#: target bytes of one dask chunk when the source does not dictate chunking
CHUNK_BYTES = 32 * 2**20

HDF5_SUFFIXES = (".h5", ".hdf5", ".he5", ".hdf")
RAW_SUFFIXES = (".bin", ".raw")


@dataclass
class Series:
    """A lazily opened image time series.

    Attributes
    ----------
    data : dask.array.Array
        Shape (T, H, W), native byte order, ROI and frame range applied.
    kind : str
        ``tiff-folder``, ``tiff``, ``hdf5``, ``zarr``, ``raw``, ``npy`` or ``array``.
    path : str
        The source ("" for arrays).
    full_shape : tuple
        (T, H, W) of the whole source before ROI/frames.
    roi : tuple of slice
        The (y, x) slices applied, in source pixel coordinates.
    frames : slice
        The frame range applied.
    skipped : list of str
        Bad or missing files that were filled (``skip_bad``), one line each.
    blockable : bool
        True when a spatial block can be read without decoding whole frames (memory-mapped,
        chunked, or uncompressed TIFF files). Otherwise convert first (``pcfij convert``).
    reader : object
        The array-like under the dask array (e.g. :class:`TiffFolderArray`).
    """

    data: Any
    kind: str
    path: str
    full_shape: tuple[int, int, int]
    roi: tuple[slice, slice]
    frames: slice
    skipped: list[str] = field(default_factory=list)
    blockable: bool = True
    reader: Any = None
    info: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.data.dtype)

    def subframes(self, a: int, b: int) -> Series:
        """The same series restricted to its frames ``a:b`` (for row readers; ``data`` is
        sliced lazily)."""
        ft = self.frames
        return Series(self.data[a:b], self.kind, self.path, self.full_shape, self.roi,
                      slice(ft.start + a, ft.start + b), self.skipped, self.blockable,
                      self.reader, self.info)


# --------------------------------------------------------------------------- parsing
def _parse_range(text: str, size: int, what: str, example: str) -> slice:
    text = text.strip()
    m = re.fullmatch(r"\s*(-?\d*)\s*:\s*(-?\d*)\s*", text)
    if not m:
        raise InputError(f"{what} must look like {example}; got {text!r}")
    a = int(m.group(1)) if m.group(1) else 0
    b = int(m.group(2)) if m.group(2) else size
    return slice(a, b)


def _check_slice(s: slice, size: int, what: str, hint: str) -> slice:
    if s.step not in (None, 1):
        raise InputError(f"{what} must be a contiguous range (no step)")
    start = 0 if s.start is None else int(s.start)
    stop = size if s.stop is None else int(s.stop)
    if start < 0 or stop > size or start >= stop:
        raise InputError(f"{what} {start}:{stop} lies outside 0:{size} {hint}")
    return slice(start, stop)


def parse_roi(roi, shape_hw: tuple[int, int]) -> tuple[slice, slice]:
    """Turn ``"y0:y1,x0:x1"`` (or a pair of slices) into checked slices within (H, W).

    Empty bounds mean the image edge (``":,100:300"``).
    """
    h, w = shape_hw
    if roi is None:
        return slice(0, h), slice(0, w)
    if isinstance(roi, str):
        parts = roi.split(",")
        if len(parts) != 2:
            raise InputError(f"ROI must look like y0:y1,x0:x1 (rows, then columns); got {roi!r}")
        ys = _parse_range(parts[0], h, "ROI", "y0:y1,x0:x1")
        xs = _parse_range(parts[1], w, "ROI", "y0:y1,x0:x1")
    else:
        try:
            ys, xs = roi
        except (TypeError, ValueError):
            raise InputTypeError("roi must be 'y0:y1,x0:x1' or a tuple of two slices") from None
        if not isinstance(ys, slice) or not isinstance(xs, slice):
            raise InputTypeError("roi must be 'y0:y1,x0:x1' or a tuple of two slices")
    hint = f"(the image is {h} rows x {w} columns; ROI is y0:y1,x0:x1)"
    return (_check_slice(ys, h, "ROI rows", hint), _check_slice(xs, w, "ROI columns", hint))


def parse_frames(frames, nframes: int) -> slice:
    """Turn ``"start:stop"`` (or a slice) into a checked slice within ``nframes``."""
    if frames is None:
        return slice(0, nframes)
    if isinstance(frames, str):
        frames = _parse_range(frames, nframes, "frames", "start:stop")
    if not isinstance(frames, slice):
        raise InputTypeError("frames must be 'start:stop' or a slice")
    return _check_slice(frames, nframes, "frames", f"(the series has {nframes} frames)")


def format_roi(roi: tuple[slice, slice]) -> str:
    return f"{roi[0].start}:{roi[0].stop},{roi[1].start}:{roi[1].stop}"


# --------------------------------------------------------------------------- helpers
def _native(dtype) -> np.dtype:
    return np.dtype(dtype).newbyteorder("=")


def _time_chunk(frame_bytes: int) -> int:
    return int(max(1, min(1024, CHUNK_BYTES // max(frame_bytes, 1))))


def _squeeze_axes(shape: tuple[int, ...], axes: str, where: str) -> tuple[tuple, str]:
    """Return an index selecting (T, Y, X) from an array of ``shape`` with ``axes``.

    ``axes`` ends with ``YX``; extra axes of length 1 are dropped.
    """
    axes = axes.upper()
    if len(axes) != len(shape) or not axes.endswith("YX"):
        if len(shape) == 2:
            return (None, slice(None), slice(None)), "TYX"
        if len(shape) == 3:
            return (slice(None),) * 3, "TYX"
        raise InputError(
            f"{where} has shape {shape} and axes {axes or '?'}; pcfij needs a single-channel "
            "time series (T, Y, X); save one channel/plane as its own file"
        )
    extra = [(i, a, n) for i, (a, n) in enumerate(zip(axes[:-2], shape[:-2])) if n > 1]
    if len(extra) > 1:
        desc = ", ".join(f"{a}={n}" for _, a, n in extra)
        raise InputError(
            f"{where} has more than one non-image axis ({desc}; axes {axes}, shape {shape}); "
            "pcfij needs a single-channel time series (T, Y, X): save one channel/plane"
        )
    index: list = [0] * (len(shape) - 2) + [slice(None), slice(None)]
    if extra:
        index[extra[0][0]] = slice(None)
        tax = extra[0][1]
    else:
        index[len(shape) - 3 if len(shape) > 2 else 0] = slice(None) if len(shape) > 2 else 0
        tax = "T"
    if len(shape) == 2:
        return (None, slice(None), slice(None)), "TYX"
    return tuple(index), tax + "YX"


class _LazyFile:
    """Picklable array-like over an HDF5 dataset / TIFF pages, opened lazily per process."""

    def __init__(self, opener, shape, dtype, index):
        self._opener = opener
        self._index = index
        self.shape = shape
        self.dtype = _native(dtype)
        self.ndim = len(shape)
        self._obj = None
        self._lock = threading.Lock()

    def __getstate__(self):
        d = self.__dict__.copy()
        d["_obj"] = None
        del d["_lock"]
        return d

    def __setstate__(self, d):
        self.__dict__.update(d)
        self._lock = threading.Lock()

    def __getitem__(self, key):
        with self._lock:
            if self._obj is None:
                self._obj = self._opener()
            return self._obj(self._index, key).astype(self.dtype, copy=False)


def _hdf5_opener(path, name):
    def open_():
        import h5py

        ds = h5py.File(path, "r")[name]

        def get(index, key):
            return _index_then_key(ds, index, key)

        return get

    return open_


def _index_then_key(arr, index, key):
    """Read ``arr[index][key]`` where ``index`` selects (T, Y, X) (may add a time axis)."""
    if not isinstance(key, tuple):
        key = (key,)
    key = key + (slice(None),) * (3 - len(key))
    full: list = []
    k = iter(key)
    added_time = False
    for ix in index:
        if ix is None:
            added_time = True
            next(k)
        elif isinstance(ix, slice):
            full.append(next(k))
        else:
            full.append(ix)
    out = np.asarray(arr[tuple(full)])
    if added_time:
        out = out[None][key[0]] if isinstance(key[0], slice) else out
    return out


class _LazyArray:
    """Array-like view of an ndarray (or memmap) that dask slices chunk by chunk, lazily.

    ``dask.array.from_array`` copies every chunk of a NumPy array up front, which would read
    a whole memory-mapped file (``.npy``, raw, multi-page TIFF) into memory when it is
    opened, and double an in-memory array. Through this wrapper each chunk is sliced only
    when a task needs it.
    """

    def __init__(self, arr: np.ndarray):
        self._arr = arr
        self.shape = arr.shape
        self.dtype = arr.dtype
        self.ndim = arr.ndim

    def __getitem__(self, key) -> np.ndarray:
        return np.asarray(self._arr[key])


def _from_arraylike(arr, chunks) -> Any:
    import dask.array as da

    is_ndarray = isinstance(arr, np.ndarray)
    return da.from_array(
        _LazyArray(arr) if is_ndarray else arr,
        chunks=chunks,
        asarray=True,
        lock=False,
        fancy=False,
        name=False if is_ndarray else None,
    )


def _chunks_for(shape, dtype, src_chunks=None, rows=None):
    t, h, w = shape
    itemsize = np.dtype(dtype).itemsize
    if src_chunks is not None:
        ct, cy, cx = (max(1, int(c)) for c in src_chunks)
        # grow the time chunk to a multiple of the source chunk up to CHUNK_BYTES
        per = max(cy * cx * itemsize, 1)
        ct = max(ct, (CHUNK_BYTES // per) // ct * ct)
        return (min(ct, t), min(cy, h), min(cx, w))
    rows = rows or h
    return (_time_chunk(rows * w * itemsize), min(rows, h), w)


# --------------------------------------------------------------------------- sources
def _open_tiff_folder(path: Path, skip_bad: bool):
    from pcfij.io.tiff_folder import TiffFolderArray

    arr = TiffFolderArray(path, skip_bad=skip_bad)
    # row chunks let a spatial block read only its rows from uncompressed files
    rows = 32 if arr.contiguous else arr.shape[1]
    d = _from_arraylike(arr, _chunks_for(arr.shape, arr.dtype, rows=rows))
    return d, arr, list(arr.skipped), arr.contiguous, {"files": len(arr)}


def _open_tiff(path: Path):
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape = tuple(int(s) for s in series.shape)
            axes = series.axes.upper()
            dtype = np.dtype(series.dtype).newbyteorder(tif.byteorder)
            offset = series.dataoffset
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot read TIFF file {path}: {' '.join(str(exc).split())}") from exc
    index, _ = _squeeze_axes(shape, axes, f"TIFF file {path}")
    info = {"axes": axes}
    if offset is not None:
        # contiguous, uncompressed (also ImageJ hyperstacks > 4 GB): memory-map
        mm = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
        sel = mm[tuple(slice(None) if ix is None else ix for ix in index)]
        if index[0] is None:
            sel = sel[None]
        d = _from_arraylike(sel, _chunks_for(sel.shape, dtype))
        if sel.dtype != _native(dtype):
            d = d.astype(_native(dtype))
        return d, sel, [], True, info
    out_shape = _selected_shape(shape, index)
    reader = _LazyFile(_tiff_opener(str(path)), out_shape, dtype, None)
    chunks = (_time_chunk(out_shape[1] * out_shape[2] * dtype.itemsize), *out_shape[1:])
    return _from_arraylike(reader, chunks), reader, [], False, info


def _tiff_opener(path):
    def open_():
        import tifffile

        tif = tifffile.TiffFile(path)
        pages = tif.series[0].pages

        def get(_index, key):
            if not isinstance(key, tuple):
                key = (key,)
            key = key + (slice(None),) * (3 - len(key))
            tsel = key[0]
            idx = range(len(pages))[tsel] if isinstance(tsel, slice) else [tsel]
            frames = (
                np.stack([pages[i].asarray() for i in idx])
                if len(idx)
                else np.empty((0, *pages[0].shape), pages[0].dtype)
            )
            out = frames[:, key[1], key[2]]
            return out if isinstance(tsel, slice) else out[0]

        return get

    return open_


def _hdf5_datasets(path: Path):
    import h5py

    found = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.ndim >= 2:
            found.append((name, tuple(obj.shape), obj.dtype))

    try:
        with h5py.File(path, "r") as f:
            f.visititems(visit)
    except OSError as exc:
        raise InputError(f"cannot read HDF5 file {path}: {exc}") from exc
    return found


def _open_hdf5(path: Path, dataset: str | None):
    import h5py

    found = _hdf5_datasets(path)
    listing = "; ".join(f"{n} {s} {np.dtype(d).name}" for n, s, d in found) or "none"
    if dataset is None:
        cands = [f for f in found if sum(1 for n in f[1] if n > 1) == 3 or len(f[1]) == 3]
        if len(cands) != 1:
            raise InputError(
                f"HDF5 file {path} has {len(cands) or 'no'} 3D datasets ({listing}); "
                "name the one to use with `dataset`"
            )
        dataset = cands[0][0]
    try:
        with h5py.File(path, "r") as f:
            if dataset not in f or not isinstance(f[dataset], h5py.Dataset):
                raise InputError(f"HDF5 file {path} has no dataset {dataset!r}; it has: {listing}")
            ds = f[dataset]
            shape, dtype, chunks = tuple(ds.shape), ds.dtype, ds.chunks
            axes = ds.attrs.get("axes", "")
            axes = axes.decode() if isinstance(axes, bytes) else str(axes)
    except OSError as exc:
        raise InputError(f"cannot read HDF5 file {path}: {exc}") from exc
    if dtype.kind not in "uif":
        raise InputError(f"HDF5 dataset {dataset!r} in {path} has type {dtype}; need numbers")
    index, _ = _squeeze_axes(shape, axes if axes else "", f"HDF5 dataset {dataset!r} in {path}")
    out_shape = _selected_shape(shape, index)
    reader = _LazyFile(_hdf5_opener(str(path), dataset), out_shape, dtype, index)
    src_chunks = _selected_shape(chunks, index) if chunks else None
    d = _from_arraylike(reader, _chunks_for(out_shape, dtype, src_chunks))
    return d, reader, [], chunks is not None, {"dataset": dataset, "chunks": chunks,
                                               "chunks3": src_chunks}


def _selected_shape(shape, index) -> tuple[int, int, int]:
    out = [1] if index[0] is None else []
    out += [n for n, ix in zip(shape, [i for i in index if i is not None]) if isinstance(ix, slice)]
    return tuple(int(n) for n in out)


def _open_zarr(path: Path, dataset: str | None):
    import zarr

    try:
        node = zarr.open(str(path), mode="r")
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot open Zarr store {path}: {' '.join(str(exc).split())}") from exc
    axes = ""
    if isinstance(node, zarr.Group):
        attrs = dict(node.attrs)
        ms = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
        if dataset is None and ms:
            dataset = ms[0]["datasets"][0]["path"]
            axes = "".join(
                (a["name"] if isinstance(a, dict) else str(a))[0].upper()
                for a in ms[0].get("axes", [])
            )
        if dataset is None:
            arrays = [(name, a) for name, a in node.arrays() if a.ndim >= 3]
            if len(arrays) != 1:
                listing = "; ".join(f"{n} {a.shape}" for n, a in node.arrays()) or "none"
                raise InputError(
                    f"Zarr group {path} has {len(arrays) or 'no'} 3D arrays at its top level "
                    f"({listing}); name the one to use with `dataset`"
                )
            dataset = arrays[0][0]
        try:
            node = node[dataset]
        except KeyError:
            raise InputError(f"Zarr group {path} has no array {dataset!r}") from None
    arr = node
    shape = tuple(int(s) for s in arr.shape)
    if not axes:
        dims = arr.attrs.get("_ARRAY_DIMENSIONS") or getattr(arr.metadata, "dimension_names", None)
        if dims and all(dims):
            axes = "".join(str(d)[0].upper() for d in dims)
    index, _ = _squeeze_axes(shape, axes, f"Zarr array {path}")
    out_shape = _selected_shape(shape, index)
    reader = _LazyFile(_zarr_opener(str(path), dataset), out_shape, arr.dtype, index)
    src = _selected_shape(tuple(arr.chunks), index)
    d = _from_arraylike(reader, _chunks_for(out_shape, arr.dtype, src))
    return d, reader, [], True, {"dataset": dataset, "chunks": tuple(arr.chunks),
                                 "chunks3": src}


def _zarr_opener(path, dataset):
    def open_():
        import zarr

        node = zarr.open(path, mode="r")
        arr = node[dataset] if dataset else node

        def get(index, key):
            return _index_then_key(arr, index, key)

        return get

    return open_


def _open_raw(path: Path, raw_shape, raw_dtype):
    dtype = np.dtype(raw_dtype or "uint16")
    if dtype.byteorder == "=" and dtype.itemsize > 1:
        dtype = dtype.newbyteorder("<")
    size = path.stat().st_size
    if raw_shape is None:
        raise InputError(
            f"raw file {path} does not store its frame size: give it as `frame_size` (H x W "
            "pixels, e.g. 64x64)"
        )
    if isinstance(raw_shape, str):
        raw_shape = [int(v) for v in re.split(r"[,x\s]+", raw_shape.strip()) if v]
    raw_shape = tuple(int(v) for v in raw_shape)
    if len(raw_shape) not in (2, 3) or min(raw_shape) < 1:
        raise InputError(f"`frame_size` must be (H, W) or (T, H, W); got {raw_shape}")
    h, w = raw_shape[-2:]
    frame = h * w * dtype.itemsize
    if size == 0 or size % frame:
        raise InputError(
            f"raw file {path} has {size} bytes, not a whole number of {h}x{w} {dtype.name} "
            "frames; the file is truncated or `frame_size`/`dtype` are wrong"
        )
    t = size // frame
    if len(raw_shape) == 3 and raw_shape[0] != t:
        raise InputError(
            f"raw file {path} holds {t} frames of {h}x{w} {dtype.name}, not {raw_shape[0]}"
        )
    mm = np.memmap(path, dtype=dtype, mode="r", shape=(t, h, w))
    d = _from_arraylike(mm, _chunks_for(mm.shape, dtype))
    if dtype != _native(dtype):
        d = d.astype(_native(dtype))
    return d, mm, [], True, {}


def _open_npy(path: Path):
    try:
        mm = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot read {path}: {exc}") from exc
    index, _ = _squeeze_axes(mm.shape, "", f"NumPy file {path}")
    sel = mm[tuple(slice(None) if ix is None else ix for ix in index)]
    if index[0] is None:
        sel = sel[None]
    d = _from_arraylike(sel, _chunks_for(sel.shape, sel.dtype))
    if sel.dtype != _native(sel.dtype):
        d = d.astype(_native(sel.dtype))
    return d, sel, [], True, {}


def _open_array(obj):
    import dask.array as da

    if isinstance(obj, da.Array):
        d = obj
    else:
        if not hasattr(obj, "shape") or not hasattr(obj, "dtype"):
            obj = np.asarray(obj)
        if np.dtype(obj.dtype).kind not in "uif":
            raise InputTypeError(f"image data must be numbers; got {obj.dtype}")
        chunks = _chunks_for(tuple(obj.shape), obj.dtype) if obj.ndim == 3 else "auto"
        d = _from_arraylike(obj, chunks)
    if d.ndim == 2:
        d = d[None]
    if d.ndim != 3:
        raise InputError(f"image data must be (T, H, W); got shape {tuple(d.shape)}")
    if np.dtype(d.dtype) != _native(d.dtype):
        d = d.astype(_native(d.dtype))
    return d, obj, [], True, {}


def source_kind(path: str | os.PathLike) -> str:
    """Classify a path: ``tiff-folder``, ``zarr``, ``hdf5``, ``tiff``, ``raw`` or ``npy``."""
    p = Path(path)
    name = p.name.lower()
    if p.is_dir():
        if name.endswith(".zarr") or any(
            (p / m).exists() for m in (".zgroup", ".zarray", "zarr.json")
        ):
            return "zarr"
        return "tiff-folder"
    if name.endswith(HDF5_SUFFIXES):
        return "hdf5"
    if name.endswith(RAW_SUFFIXES):
        return "raw"
    if name.endswith(".npy"):
        return "npy"
    if name.endswith((".tif", ".tiff", ".btf", ".tf8", ".tf2")):
        return "tiff"
    return "unknown"


def open_source(
    source,
    *,
    dataset: str | None = None,
    roi=None,
    frames=None,
    raw_shape=None,
    raw_dtype=None,
    skip_bad: bool = False,
) -> Series:
    """Open a big image time series lazily; see :func:`open_series` for the parameters.

    ``source`` is a :class:`pcfij.io.source.Source` (then the keywords are ignored), a path
    or an array-like. Returns a :class:`Series` (the dask array plus what was skipped and
    where it came from).
    """
    from pcfij.io.source import Source

    if isinstance(source, (str, os.PathLike)):
        source = Source.of(source, dataset=dataset, roi=roi, frames=frames,
                           frame_size=raw_shape, dtype=raw_dtype, skip_bad=skip_bad)
    if isinstance(source, Source):
        p = Path(source.path)
        roi, frames = source.roi, source.frames
        if not p.exists():
            raise InputError(f"input {p} does not exist")
        kind = source_kind(p)
        if kind == "tiff-folder":
            d, reader, skipped, blockable, info = _open_tiff_folder(p, source.skip_bad)
        elif kind == "zarr":
            d, reader, skipped, blockable, info = _open_zarr(p, source.dataset)
        elif kind == "hdf5":
            d, reader, skipped, blockable, info = _open_hdf5(p, source.dataset)
        elif kind == "raw":
            d, reader, skipped, blockable, info = _open_raw(p, source.frame_size, source.dtype)
        elif kind == "npy":
            d, reader, skipped, blockable, info = _open_npy(p)
        elif kind == "tiff":
            d, reader, skipped, blockable, info = _open_tiff(p)
        else:
            raise InputError(
                f"do not know how to read {p}: give a folder of TIFF files, a .tif, .h5/.hdf5, "
                ".zarr, .npy, or a raw .bin file with its `frame_size`"
            )
        path = str(p)
    else:
        kind, path = "array", ""
        d, reader, skipped, blockable, info = _open_array(source)
    if np.dtype(d.dtype).kind not in "uif":
        raise InputError(
            f"{path or 'input'} has sample type {d.dtype}; need integer or float images"
        )
    full = tuple(int(s) for s in d.shape)
    if full[0] == 0:
        raise InputError(f"{path or 'input'} holds no frames (shape {full}); give a time series")
    ys, xs = parse_roi(roi, full[1:])
    ts = parse_frames(frames, full[0])
    if (ys, xs, ts) != (slice(0, full[1]), slice(0, full[2]), slice(0, full[0])):
        d = d[ts, ys, xs]
    return Series(d, kind, path, full, (ys, xs), ts, skipped, blockable, reader, info)


def open_series(
    path,
    *,
    dataset: str | None = None,
    roi=None,
    frames=None,
    raw_shape=None,
    raw_dtype=None,
    skip_bad: bool = False,
):
    """Open an image time series lazily as a dask array of shape (T, H, W).

    Parameters
    ----------
    path : path or array-like
        A folder of TIFF files, a TIFF / HDF5 / Zarr / ``.npy`` / raw ``.bin`` file, or an
        array (NumPy, dask, h5py, zarr).
    dataset : str, optional
        HDF5 dataset or Zarr array inside a group (default: the single 3D one; OME-Zarr:
        the full-resolution level).
    roi : str or (slice, slice), optional
        ``"y0:y1,x0:x1"`` region of interest in pixels (rows, then columns).
    frames : str or slice, optional
        ``"start:stop"`` frame range.
    raw_shape : (H, W) or (T, H, W), optional
        Frame size of a raw binary file (required for raw files).
    raw_dtype : str, optional
        Sample type of a raw file (default little-endian ``uint16``).
    skip_bad : bool
        TIFF folders: fill missing, truncated, unreadable or mismatching files by
        interpolating neighbouring frames instead of stopping (see :class:`Series.skipped`).

    Raises
    ------
    InputError
        Missing input, unknown format, bad/missing/mismatching files (naming them), ROI or
        frame range outside the data.
    """
    return open_source(
        path,
        dataset=dataset,
        roi=roi,
        frames=frames,
        raw_shape=raw_shape,
        raw_dtype=raw_dtype,
        skip_bad=skip_bad,
    ).data
