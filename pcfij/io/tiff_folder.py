"""A folder of single-image TIFF files read lazily as one (T, H, W) array.

Files are ordered by natural sort (``img_2.tif`` before ``img_10.tif``). When the names
share a template in which one number counts the frames (µManager:
``img_000001000_Default_000.tif``), gaps in that number are reported as missing frames.

Every file's header is scanned once (a small TIFF header parser, ~20 µs a file, falling
back to tifffile for anything unusual) to check image size, sample type and that the
image data lie inside the file (truncated files). Uncompressed files are then read row
range by row range with ``os.pread`` so a spatial block reads only its rows; compressed
files are decoded whole by tifffile.

With ``skip_bad=True`` missing, truncated, unreadable and mismatching files do not stop the
run: their frames are linearly interpolated from the nearest good frames before and after
(integer data cannot hold NaN, and a NaN frame would make every trace's FFT NaN), and
:attr:`TiffFolderArray.skipped` lists them.
"""

from __future__ import annotations

import os
import re
import struct
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pcfij.errors import InputError
from pcfij.io.rows import hint_ranges, pread_range

TIFF_SUFFIXES = (".tif", ".tiff", ".btf", ".tf8", ".tf2")


def natural_key(name: str) -> list:
    """Sort key ordering embedded numbers numerically (``a2`` < ``a10``)."""
    return [(0, int(t), t) if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", name)]


def list_tiff_files(folder: str | os.PathLike) -> list[Path]:
    """Return the TIFF files of a folder in natural order (hidden files ignored)."""
    folder = Path(folder)
    files = [
        p
        for p in folder.iterdir()
        if p.name.lower().endswith(TIFF_SUFFIXES) and not p.name.startswith(".") and p.is_file()
    ]
    files.sort(key=lambda p: natural_key(p.name))
    return files


def frame_slots(names: list[str]) -> tuple[list[str | None], list[str]]:
    """Place files on a frame axis, detecting gaps in a frame-counting number.

    Returns
    -------
    slots : list of (str or None)
        One entry per frame: the file name, or None for a missing file.
    expected : list of str
        For each None slot (in order), the file name that was expected there.
    """
    if len(names) < 3:
        return list(names), []
    parts = [re.split(r"(\d+)", n) for n in names]
    if len({len(p) for p in parts}) != 1:
        return list(names), []
    ntok = len(parts[0])
    # non-digit parts must agree; exactly one digit field may vary
    for i in range(0, ntok, 2):
        if len({p[i] for p in parts}) != 1:
            return list(names), []
    varying = [i for i in range(1, ntok, 2) if len({p[i] for p in parts}) > 1]
    if len(varying) != 1:
        return list(names), []
    field = varying[0]
    numbers = [int(p[field]) for p in parts]
    diffs = Counter(b - a for a, b in zip(numbers, numbers[1:]))
    step = diffs.most_common(1)[0][0]
    if step <= 0 or any(d <= 0 or d % step for d in diffs):
        return list(names), []
    widths = {len(p[field]) for p in parts}
    width = widths.pop() if len(widths) == 1 else 0
    slots: list[str | None] = []
    expected: list[str] = []
    for k, name in enumerate(names):
        if k:
            for missing in range(numbers[k - 1] + step, numbers[k], step):
                tokens = list(parts[k])
                tokens[field] = str(missing).zfill(width)
                slots.append(None)
                expected.append("".join(tokens))
        slots.append(name)
    return slots, expected


# --------------------------------------------------------------------------- header scan
@dataclass(frozen=True)
class FileInfo:
    """What the header scan learned about one file."""

    shape: tuple[int, int] | None = None
    dtype: str = ""  # with byte order, e.g. ">u2"
    offset: int = -1  # start of contiguous uncompressed image data, -1 if not contiguous
    error: str = ""  # why the file cannot be used ("" = fine)


_TYPES = {1: ("B", 1), 3: ("H", 2), 4: ("I", 4), 16: ("Q", 8)}
_SAMPLE = {
    (1, 8): "u1",
    (1, 16): "u2",
    (1, 32): "u4",
    (2, 8): "i1",
    (2, 16): "i2",
    (2, 32): "i4",
    (3, 32): "f4",
    (3, 64): "f8",
}


def _fast_header(path: str) -> FileInfo | None:
    """Parse the first IFD of a plain single-sample TIFF; None when tifffile should decide."""
    with open(path, "rb") as fh:
        if hasattr(os, "posix_fadvise"):  # the header only, not the read-ahead of the image
            os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_RANDOM)
        head = fh.read(16)
        if len(head) < 8:
            return FileInfo(error="file is empty or truncated (no TIFF header)")
        bo = {b"II": "<", b"MM": ">"}.get(head[:2])
        if bo is None:
            return FileInfo(error="not a TIFF file (bad header)")
        version = struct.unpack(bo + "H", head[2:4])[0]
        if version == 42:
            ifd = struct.unpack(bo + "I", head[4:8])[0]
            cnt_fmt, entry_size, val_size = "H", 12, 4
        elif version == 43 and len(head) >= 16:
            ifd = struct.unpack(bo + "Q", head[8:16])[0]
            cnt_fmt, entry_size, val_size = "Q", 20, 8
        else:
            return None
        size = os.fstat(fh.fileno()).st_size
        fh.seek(ifd)
        raw = fh.read(struct.calcsize(cnt_fmt))
        if len(raw) < struct.calcsize(cnt_fmt):
            return FileInfo(error="file is truncated (first image directory missing)")
        (count,) = struct.unpack(bo + cnt_fmt, raw)
        entries = fh.read(count * entry_size)
        if len(entries) < count * entry_size:
            return FileInfo(error="file is truncated (image directory cut off)")
        tags: dict[int, tuple[int, ...]] = {}
        for k in range(count):
            e = entries[k * entry_size : (k + 1) * entry_size]
            tag, typ = struct.unpack(bo + "HH", e[:4])
            cfmt = "I" if val_size == 4 else "Q"
            (n,) = struct.unpack(bo + cfmt, e[4 : 4 + val_size])
            if typ not in _TYPES:
                continue
            code, isz = _TYPES[typ]
            payload = e[4 + val_size : 4 + 2 * val_size]
            if n * isz <= val_size:
                vals = struct.unpack(bo + code * n, payload[: n * isz])
            else:
                if n > 1_000_000:
                    return None
                (ptr,) = struct.unpack(bo + cfmt, payload)
                here = fh.tell()
                fh.seek(ptr)
                data = fh.read(n * isz)
                fh.seek(here)
                if len(data) < n * isz:
                    return FileInfo(error="file is truncated (tag values cut off)")
                vals = struct.unpack(bo + code * n, data)
            tags[tag] = vals
    width, height = tags.get(256, (0,))[0], tags.get(257, (0,))[0]
    bits = tags.get(258, (1,))
    if (
        tags.get(259, (1,))[0] != 1
        or tags.get(277, (1,))[0] != 1
        or len(set(bits)) != 1
        or 273 not in tags
        or 279 not in tags
        or width == 0
        or height == 0
    ):
        return None  # compressed, RGB, tiled ...: let tifffile decide
    fmt = _SAMPLE.get((tags.get(339, (1,))[0], bits[0]))
    if fmt is None:
        return None
    offsets, counts = tags[273], tags[279]
    itemsize = bits[0] // 8
    need = width * height * itemsize
    pos = offsets[0]
    for o, c in zip(offsets, counts):
        if o != pos:
            return None  # strips not contiguous
        pos += c
    if pos - offsets[0] < need:
        return None
    if offsets[0] + need > size:
        return FileInfo(
            shape=(height, width),
            dtype=bo + fmt,
            error=f"file is truncated ({size} bytes, image data need {offsets[0] + need})",
        )
    return FileInfo(shape=(height, width), dtype=bo + fmt, offset=offsets[0])


def scan_file(path: str) -> FileInfo:
    """Return the :class:`FileInfo` of one TIFF file (never raises)."""
    try:
        info = _fast_header(path)
        if info is not None:
            return info
    except Exception:  # noqa: BLE001 - fall back to tifffile
        pass
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            shape = tuple(int(s) for s in page.shape)
            if len(shape) != 2:
                return FileInfo(error=f"image has shape {shape}; need one 2D grey image per file")
            dtype = np.dtype(page.dtype).newbyteorder(tif.byteorder).str
            contiguous = page.is_contiguous
            offset = int(contiguous[0]) if contiguous and page.compression == 1 else -1
            if offset >= 0:
                size = os.path.getsize(path)
                need = offset + shape[0] * shape[1] * np.dtype(dtype).itemsize
                if need > size:
                    return FileInfo(
                        shape=shape,
                        dtype=dtype,
                        error=f"file is truncated ({size} bytes, image data need {need})",
                    )
            return FileInfo(shape=shape, dtype=dtype, offset=offset)
    except Exception as exc:  # noqa: BLE001 - report, never raise
        return FileInfo(error=f"cannot read: {' '.join(str(exc).split()) or type(exc).__name__}")


# --------------------------------------------------------------------------- array-like
class TiffFolderArray:
    """Array-like ``(T, H, W)`` view of a folder of single-image TIFF files.

    Indexing with a tuple of slices/ints reads only the needed files and rows.
    Picklable (for dask.distributed workers): it holds file names and offsets only.
    """

    def __init__(self, folder: str | os.PathLike, *, skip_bad: bool = False, workers: int = 8):
        folder = Path(folder)
        if not folder.is_dir():
            raise InputError(f"input folder {folder} does not exist")
        files = list_tiff_files(folder)
        if not files:
            raise InputError(
                f"folder {folder} contains no TIFF files (*.tif, *.tiff); give a folder of "
                "single-image TIFF files, a TIFF/HDF5/Zarr file, or a raw .bin file"
            )
        self.folder = str(folder)
        slots, expected = frame_slots([p.name for p in files])
        names = [s for s in slots if s is not None]
        with ThreadPoolExecutor(max(1, workers)) as pool:
            infos = dict(zip(names, pool.map(lambda n: scan_file(os.path.join(folder, n)), names)))
        good = [
            (infos[n].shape, np.dtype(infos[n].dtype).newbyteorder("=").str)
            for n in names
            if not infos[n].error
        ]
        if not good:
            first = names[0]
            raise InputError(
                f"cannot read any TIFF file in {folder}; e.g. {first}: {infos[first].error}"
            )
        (shape, dtype), nref = Counter(good).most_common(1)[0]
        ref_name = next(n for n in names if not infos[n].error and infos[n].shape == shape)
        problems: list[tuple[int, str, str]] = []  # (frame, file, why)
        missing = iter(expected)
        self._files: list[str | None] = []
        self._offsets: list[int] = []
        self._dtypes: list[str] = []
        for t, name in enumerate(slots):
            if name is None:
                problems.append((t, next(missing), "file is missing (gap in the file numbering)"))
                self._files.append(None)
                self._offsets.append(-1)
                self._dtypes.append("")
                continue
            info = infos[name]
            why = info.error
            if not why and (
                info.shape != shape or np.dtype(info.dtype).newbyteorder("=").str != dtype
            ):
                h, w = info.shape
                what = ("image sizes" if info.shape != shape else "sample types (dtypes)")
                why = (
                    f"image is {w}x{h} {np.dtype(info.dtype).name} but {ref_name} and "
                    f"{nref - 1} other files are {shape[1]}x{shape[0]} {np.dtype(dtype).name} "
                    f"(mixed {what} in the folder)"
                )
            if why:
                problems.append((t, name, why))
                self._files.append(None)
            else:
                self._files.append(name)
            self._offsets.append(info.offset)
            self._dtypes.append(info.dtype)
        if problems and not skip_bad:
            t, name, why = problems[0]
            more = f" ({len(problems) - 1} more bad or missing files)" if len(problems) > 1 else ""
            raise InputError(
                f"{os.path.join(folder, name)} (frame {t}): {why}{more}; fix or remove it, or "
                "pass `skip_bad=True` to fill bad frames by interpolation"
            )
        self.skipped = [f"{name} (frame {t}): {why}" for t, name, why in problems]
        self._runtime_bad: list[str] = []
        self._lock = threading.Lock()
        self.skip_bad = skip_bad
        self.shape = (len(slots), int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        self.ndim = 3
        self.contiguous = all(o >= 0 for f, o in zip(self._files, self._offsets) if f)

    def __len__(self) -> int:
        return self.shape[0]

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def files(self) -> list[str | None]:
        """File name of each frame (None where bad or missing)."""
        return list(self._files)

    def __array__(self, dtype=None, copy=None):
        out = self[:, :, :]
        return out if dtype is None else out.astype(dtype)

    def __getitem__(self, key) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key,)
        key = key + (slice(None),) * (3 - len(key))
        if len(key) != 3 or any(k is Ellipsis for k in key):
            raise IndexError("index with up to three slices/ints")
        squeeze = [isinstance(k, (int, np.integer)) for k in key]
        sl = [slice(int(k), int(k) + 1) if s else k for k, s in zip(key, squeeze)]
        for k in sl:
            if not isinstance(k, slice):
                raise IndexError("TiffFolderArray supports slices and integers only")
        tr = range(*sl[0].indices(self.shape[0]))
        y0, y1, ys = sl[1].indices(self.shape[1])
        x_sl = sl[2]
        rows = (y0, max(y0, y1)) if ys == 1 else (0, self.shape[1])
        ncols = len(range(*x_sl.indices(self.shape[2])))
        # only the selected columns are kept: a block of a wide frame allocates and copies
        # its own width, not whole rows (reading itself is one pread of the rows per file)
        out = np.empty((len(tr), rows[1] - rows[0], ncols), self.dtype)
        for i, t in enumerate(tr):
            out[i] = self._frame_rows(t, *rows)[:, x_sl]
        if ys != 1:
            out = out[:, sl[1]]
        idx = tuple(0 if s else slice(None) for s in squeeze)
        return out[idx]

    def read_into(self, out: np.ndarray, t0: int, y0: int, y1: int, x0: int, x1: int) -> None:
        """Fill ``out`` (n, y1 - y0, x1 - x0) with frames ``t0 .. t0 + n - 1``, rows and columns.

        The fast path of block reading: the rows of each file are read into one reused
        buffer and only the block's columns are copied (bad files: as :meth:`_frame_rows`).
        """
        buf = bytearray((y1 - y0) * self.shape[2] * 8)
        w = self.shape[2]
        hint_ranges(
            (os.path.join(self.folder, self._files[t]),
             self._offsets[t] + y0 * w * np.dtype(self._dtypes[t]).itemsize,
             (y1 - y0) * w * np.dtype(self._dtypes[t]).itemsize)
            for t in range(t0, t0 + out.shape[0])
            if self._files[t] is not None and self._offsets[t] >= 0
        )
        for i in range(out.shape[0]):
            out[i] = self._frame_rows(t0 + i, y0, y1, buf)[:, x0:x1]

    def _read_rows(self, t: int, y0: int, y1: int, buf: bytearray | None = None) -> np.ndarray:
        """Rows ``y0:y1`` of frame ``t``; uncompressed files are read into ``buf`` when given
        (the result is then a view of it, valid until the next read into ``buf``)."""
        name = self._files[t]
        path = os.path.join(self.folder, name)
        dtype = np.dtype(self._dtypes[t])
        w = self.shape[2]
        off = self._offsets[t]
        if off >= 0:
            n = (y1 - y0) * w * dtype.itemsize
            if buf is None:
                buf = bytearray(n)
            fd = os.open(path, os.O_RDONLY)
            try:  # no kernel read-ahead beyond the rows (see pcfij.io.rows)
                got = pread_range(fd, memoryview(buf)[:n], off + y0 * w * dtype.itemsize)
            finally:
                os.close(fd)
            if got != n:
                raise OSError(f"file is truncated (read {got} of {n} bytes)")
            a = np.frombuffer(buf, dtype, count=(y1 - y0) * w).reshape(y1 - y0, w)
        else:
            import tifffile

            a = tifffile.imread(path, key=0)[y0:y1]
            if a.shape != (y1 - y0, w):
                raise OSError(f"image has shape {a.shape[:2]}, expected {self.shape[1:]}")
        return a.astype(self.dtype, copy=False)

    def _frame_rows(self, t: int, y0: int, y1: int, buf: bytearray | None = None) -> np.ndarray:
        if self._files[t] is not None:
            try:
                return self._read_rows(t, y0, y1, buf)
            except Exception as exc:  # noqa: BLE001 - decode errors of all kinds
                name = self._files[t]
                why = " ".join(str(exc).split()) or type(exc).__name__
                if not self.skip_bad:
                    raise InputError(
                        f"{os.path.join(self.folder, name)} (frame {t}): cannot read: {why}; "
                        "fix or remove it, or pass `skip_bad=True` to fill bad frames by "
                        "interpolation"
                    ) from exc
                with self._lock:
                    msg = f"{name} (frame {t}): cannot read: {why}"
                    if msg not in self._runtime_bad:
                        self._runtime_bad.append(msg)
        return self._interpolate(t, y0, y1)

    def _neighbour(self, t: int, step: int, y0: int, y1: int):
        k = t + step
        while 0 <= k < self.shape[0]:
            if self._files[k] is not None:
                try:
                    return k, self._read_rows(k, y0, y1)
                except Exception:  # noqa: BLE001 - also bad; look further
                    pass
            k += step
        return None, None

    def _interpolate(self, t: int, y0: int, y1: int) -> np.ndarray:
        kb, before = self._neighbour(t, -1, y0, y1)
        ka, after = self._neighbour(t, 1, y0, y1)
        if before is None and after is None:
            raise InputError(f"no readable frame in {self.folder} to fill frame {t} from")
        if before is None:
            return after
        if after is None:
            return before
        f = (t - kb) / (ka - kb)
        val = before.astype(np.float64) * (1.0 - f) + after.astype(np.float64) * f
        if self.dtype.kind in "ui":
            val = np.rint(val)
        return val.astype(self.dtype)

    @property
    def runtime_skipped(self) -> list[str]:
        """Files that scanned fine but failed to decode (with ``skip_bad``), in this process."""
        return list(self._runtime_bad)
