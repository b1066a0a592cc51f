"""What the Java command host and the Python worker say to each other (no Java here).

The host (``pcfij/imagej/java/pcfij/Host.java``) turns every pcfij command into an ImageJ
command. For each call it sends the worker (:mod:`pcfij.imagej.worker`) two requests, one
JSON object per line:

1. ``{"op": "prepare", "command": CLI name, "options": macro options or null,
   "titles": [open image titles]}`` -> ``{"event": "spec", "spec": {...}, "options": ...}``:
   the dialog to build (:func:`dialog_spec`) and the macro options rewritten so that ImageJ's
   ``GenericDialog`` reads them (:func:`canonical_options`: alias keys, ``key=true``
   check boxes); unknown keys, missing image titles, bad numbers and choices are an error
   here, before any dialog reads them.
2. ``{"op": "run", "id": N, "command": ..., "values": {name: value}, "images": {name:
   array description}}`` -> ``progress``/``status`` events, then ``done`` (with
   :func:`encode_outputs`), ``error`` (one line) or ``cancelled``.

``{"op": "cancel", "id": N}`` may come at any time. Pixels travel in files of a folder in
``/dev/shm`` that both sides memory-map (Java ``FileChannel.map``, NumPy ``memmap``): an array
description is ``{"path", "dtype" ("uint8" | "uint16" | "float32"), "shape" [T, Z, C, H, W]
(ImageJ's plane order: C fastest, then Z, then T), "title", "cal": {"pw", "ph", "pd",
"unit", "fi", "tunit"}, "roi": [x, y, w, h] or null}``.
"""

from __future__ import annotations

import functools
import mmap
import os
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from pcfij.errors import InputError, InputTypeError
from pcfij.imagej.dialogs import NONE, NONE_ALIASES, _digits, _format_default, uses_current_image
from pcfij.io.axes import drop_single_axes
from pcfij.io.tiff import Calibration, Image
from pcfij.outputs import OutImage, Outputs
from pcfij.params import Command, Param, _split_macro_options

IJ_ORDER = "TZCYX"
DTYPES = {"uint8": np.uint8, "uint16": np.uint16, "float32": np.float32}


def find_command(name: str) -> Command:
    """The command by CLI name (``pcf``) or ImageJ title (``pCF Analysis``)."""
    from pcfij.commands import all_commands, imagej_commands

    cmds = all_commands()
    if name in cmds and cmds[name].title:
        return cmds[name]
    titles = imagej_commands()
    if name in titles:
        return titles[name]
    raise InputError(f"unknown pcfij command {name!r}; known: {', '.join(titles)}")


def dialog_params(cmd: Command) -> list[Param]:
    single = uses_current_image(cmd)
    return [p for p in cmd.params if p.imagej and p is not single]


def dialog_spec(cmd: Command) -> dict:
    """The ``GenericDialog`` fields of a command, in order (labels give the macro keys)."""
    fields = []
    for p in dialog_params(cmd):
        default = None if p.required else p.default
        f: dict[str, Any] = {"name": p.name, "label": p.label, "key": p.macro_key}
        if p.kind == "image":
            f.update(kind="image", optional=p.optional)
        elif p.kind in ("int", "float"):
            value = 0 if default is None else default
            f.update(kind="number", default=float(value), digits=_digits(p, value))
        elif p.kind == "bool":
            f.update(kind="checkbox", default=bool(default))
        elif p.kind == "choice":
            items = [str(c) for c in p.choices]
            f.update(kind="choice", choices=items,
                     default=str(default if default is not None else items[0]))
        else:
            f.update(kind="string", default=str(_format_default(p, default) or ""))
        fields.append(f)
    single = uses_current_image(cmd)
    return {"title": cmd.title, "name": cmd.name, "summary": cmd.summary, "fields": fields,
            "current": single.name if single is not None else None,
            "images": [p.name for p in cmd.params if p.kind == "image" and p.imagej]}


def _quote(key: str, value: str) -> str:
    return f"{key}=[{value}]" if (" " in value or value == "" or "[" in value) else \
        f"{key}={value}"


def canonical_options(cmd: Command, options: str | None, titles: list[str]) -> str | None:
    """Check macro options and rewrite them the way ``GenericDialog`` reads them.

    Alias keys become the parameter's key; check boxes written ``key=true`` (as SciJava
    commands record them) become ``key``, ``key=false`` is dropped; ``*None*`` spellings of
    optional images become ``*None*``.

    Raises
    ------
    InputError
        An unknown key, an image title that is not open, a number, choice or check box
        value that is not valid (one line naming the key and what to do).
    """
    if options is None:
        return None
    tokens = _split_macro_options(options)
    by_key: dict[str, Param] = {}
    for p in dialog_params(cmd):
        by_key[p.macro_key] = p
        for a in p.aliases:
            by_key.setdefault(a.lower(), p)
    unknown = [k for k in tokens if k not in by_key]
    if unknown:
        known = " ".join(sorted({p.macro_key for p in by_key.values()}))
        raise InputError(
            f"unknown macro key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"{cmd.title} knows: {known}")
    parts: list[str] = []
    seen: set[str] = set()
    # the parameter's own key wins over an alias given too
    for key, value in sorted(tokens.items(), key=lambda kv: kv[0] != by_key[kv[0]].macro_key):
        p = by_key[key]
        if p.name in seen:
            continue
        seen.add(p.name)
        k = p.macro_key
        if p.kind == "bool":
            if value is None or value.strip().lower() == "true":
                parts.append(k)
            elif value.strip().lower() != "false":
                raise InputError(f"{key} is a check box: write {k} (or {k}=true) to switch it "
                                 f"on, leave it out to switch it off; got {key}={value}")
            continue
        if value is None:
            raise InputError(f"{key} needs a value ({key}=...)")
        if p.kind == "image":
            if p.optional and value.strip().lower() in NONE_ALIASES:
                parts.append(_quote(k, NONE))
                continue
            if value not in titles:
                raise InputError(f"{key}: no open image is titled {value!r}; open images: "
                                 + (", ".join(titles) or "none"))
            parts.append(_quote(k, value))
            continue
        if p.kind in ("int", "float"):
            try:
                float(value)
            except ValueError:
                raise InputError(f"{key} must be a number; got {value!r}") from None
        elif p.kind == "choice":
            matches = [str(c) for c in p.choices if str(c).lower() == value.lower()]
            if not matches:
                raise InputError(f"{key} must be one of {', '.join(map(str, p.choices))}; "
                                 f"got {value!r}")
            value = matches[0]
        parts.append(_quote(k, value))
    return " ".join(parts)


# ----------------------------------------------------------------------------- arrays
def _seconds(value: float, unit: str) -> float:
    u = (unit or "").strip().lower()
    factor = {"ms": 1e-3, "msec": 1e-3, "us": 1e-6, "µs": 1e-6, "min": 60.0, "h": 3600.0,
              "hr": 3600.0}.get(u, 1.0)
    return float(value) * factor


MADV_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)  # Linux >= 5.14


def _populate(data: np.memmap) -> None:
    """Map all pages of a copy-on-write input now, read-only, in one call.

    Without it every 64 KiB of the file costs a page fault when the engine first reads
    it. ``MAP_POPULATE`` would break copy-on-write for every page of a writable private
    mapping (a full copy), ``MADV_POPULATE_READ`` maps the shared pages without copying.
    Older kernels refuse it; the faults then happen as before.
    """
    mm = getattr(data, "_mmap", None)
    if mm is None or not data.size:
        return
    try:
        mm.madvise(MADV_POPULATE_READ)
    except (OSError, ValueError, AttributeError):
        pass


def read_input(desc: Mapping[str, Any]) -> Image:
    """The image an array description names (memory-mapped copy-on-write: never modified).

    Length-1 T/Z/C axes are dropped, as the ImageJ bridge does. The title becomes
    ``Image.path`` (outputs are named after it).
    """
    dtype = desc.get("dtype")
    if dtype not in DTYPES:
        raise InputTypeError(f"{desc.get('title')}: {dtype} images are not supported; "
                             "convert to 8-bit, 16-bit or 32-bit (Image > Type)")
    shape = tuple(int(s) for s in desc["shape"])
    data = np.memmap(desc["path"], DTYPES[dtype], mode="c", shape=shape)
    _populate(data)
    arr, axes = drop_single_axes(data, IJ_ORDER)
    c = desc.get("cal") or {}
    cal = Calibration(float(c.get("pw", 1.0)), float(c.get("ph", 1.0)),
                      float(c.get("pd", 1.0)), str(c.get("unit", "pixel")),
                      _seconds(c.get("fi", 0.0), str(c.get("tunit", "sec"))))
    return Image(arr, axes, cal, path=str(desc.get("title") or "image"))


def apply_selection(cmd: Command, descs: Mapping[str, Mapping[str, Any]],
                    inputs: dict[str, Image | None]) -> tuple[int, int, int, int] | None:
    """The selection rule: a selection restricts the analysis to its bounding rectangle.

    The rectangle of the input(s) that have a selection is applied to every input image of
    the command (both images of a pair and the mask), so they stay aligned. Inputs whose
    selections differ are an error. Returns the rectangle (x, y, w, h) or None.
    """
    rects = {name: tuple(int(v) for v in d["roi"]) for name, d in descs.items()
             if d and d.get("roi")}
    if not rects:
        return None
    distinct = set(rects.values())
    if len(distinct) > 1:
        text = "; ".join(f"{descs[n].get('title')}: x={r[0]} y={r[1]} {r[2]}x{r[3]}"
                         for n, r in rects.items())
        raise InputError(f"{cmd.title}: the images have different selections ({text}); "
                         "select the same rectangle in each, or none (Edit > Selection > "
                         "Select None)")
    x, y, w, h = distinct.pop()
    for img in inputs.values():
        if img is None:
            continue
        H, W = img.data.shape[-2:]
        if x + w > W or y + h > H:
            raise InputError(f"{cmd.title}: the selection x={x} y={y} {w}x{h} does not fit "
                             f"{img.path} ({W}x{H}); select a region inside every image")
        img.data = img.data[..., y : y + h, x : x + w]
        img.region = (x, y, w, h)
    return (x, y, w, h)


def _ij_array(img: OutImage) -> tuple[np.ndarray, str]:
    arr = np.asarray(img.data)
    ax = img.axes
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * np.uint8(255)
    elif arr.dtype not in (np.uint8, np.uint16, np.float32):
        arr = arr.astype(np.float32)
    for letter in IJ_ORDER:
        if letter not in ax:
            arr = arr[np.newaxis]
            ax = letter + ax
    return np.ascontiguousarray(arr.transpose([ax.index(a) for a in IJ_ORDER])), \
        str(arr.dtype)


MADV_POPULATE_WRITE = getattr(mmap, "MADV_POPULATE_WRITE", 23)  # Linux >= 5.14


@functools.lru_cache(maxsize=1)
def _libc_madvise():
    """libc's ``madvise`` through ctypes (which drops the GIL while it runs), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        fn = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return fn


def _populate_write(view: np.ndarray) -> None:
    """Fault the pages of a shared writable mapping in with one ``madvise`` call (no-op
    where the kernel or platform has no ``MADV_POPULATE_WRITE``). ctypes drops the GIL, so
    threads populate their ranges in parallel."""
    madvise = _libc_madvise()
    if madvise is None or not view.nbytes:
        return
    start = view.ctypes.data // mmap.PAGESIZE * mmap.PAGESIZE
    madvise(start, view.ctypes.data + view.nbytes - start, MADV_POPULATE_WRITE)


def _fill(mm: mmap.mmap, src: np.ndarray) -> None:
    """Copy ``src`` (uint8, 1-D) into the mapping, on up to 4 threads for 64 MB and more."""
    dst = np.frombuffer(mm, np.uint8)  # released on return: the mapping can then close
    threads = min(4, os.cpu_count() or 1) if src.size >= (64 << 20) else 1
    edges = [src.size * k // threads // mmap.PAGESIZE * mmap.PAGESIZE
             for k in range(threads)] + [src.size]

    def put(k: int) -> None:
        part = dst[edges[k]:edges[k + 1]]
        _populate_write(part)
        np.copyto(part, src[edges[k]:edges[k + 1]])

    if threads > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(put, range(threads)))
    else:
        put(0)


def write_array(arr: np.ndarray, path: str) -> None:
    """Write an array's bytes (C order) to ``path``, in place if the file exists.

    The host keeps a session's image files between calls (``Worker.clean`` in Java); writing
    over a file's existing memory pages is about twice as fast as filling fresh ones. The
    file is memory-mapped and filled by up to 4 threads, each faulting its range in with one
    ``madvise`` and copying with NumPy (both release the GIL): about twice the rate of one
    ``write()``, which holds the file's lock while it copies.
    """
    src = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.ftruncate(fd, src.size)
        if not src.size:
            return
        with mmap.mmap(fd, src.size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as mm:
            _fill(mm, src)
    finally:
        os.close(fd)


def _f64_file(arr: np.ndarray, path: str) -> dict:
    """A 1-D numeric array as a little-endian float64 file: ``{"f64": path, "n": length}``."""
    arr.astype("<f8").tofile(path)
    return {"f64": path, "n": int(arr.size)}


def encode_outputs(outputs: Outputs, folder: str, prefix: str) -> dict:
    """Outputs as JSON for the host; image pixels written to ``folder/prefix-K.raw``, numeric
    table columns to ``folder/prefix-tT-cC.raw`` and plot series to
    ``folder/prefix-pP-sS-{x,y}.raw`` (little-endian float64, ``{"f64": path, "n": length}`` in
    the JSON)."""
    images = []
    for k, img in enumerate(outputs.images):
        arr, dtype = _ij_array(img)
        path = os.path.join(folder, f"{prefix}-{k}.raw")
        write_array(arr, path)
        cal = img.calibration or Calibration()
        nplanes = int(np.prod(arr.shape[:3]))
        labels = list(img.labels) if img.labels and len(img.labels) == nplanes else None
        images.append({"path": path, "dtype": dtype, "shape": list(arr.shape),
                       "title": img.title, "labels": labels, "info": img.info or "",
                       "luts": list(img.luts) if img.luts else None,
                       "cal": {"pw": cal.pixel_width, "ph": cal.pixel_height,
                               "pd": cal.voxel_depth, "unit": cal.unit,
                               "fi": cal.frame_interval}})
    tables = []
    for t, tab in enumerate(outputs.tables):
        cols = []
        for c, (name, values) in enumerate(tab.columns.items()):
            arr = np.asarray(values)
            if arr.ndim == 1 and arr.dtype.kind in "biuf" and arr.size:
                # numbers: a float64 file the host maps (JSON would cost ~10 µs a value)
                path = os.path.join(folder, f"{prefix}-t{t}-c{c}.raw")
                cols.append([str(name), _f64_file(arr, path)])
            else:
                cols.append([str(name), [v.item() if isinstance(v, np.generic) else v
                                         for v in list(values)]])
        tables.append({"title": tab.title, "columns": cols,
                       "labels": [str(x) for x in tab.labels] if tab.labels is not None
                       else None})
    plots = []
    for q, p in enumerate(outputs.plots):
        series = []
        for s, (lab, x, y, shape, color) in enumerate(p.series):
            # float64 files as for table columns: JSON of 11,000 points cost ~50 ms a call
            xy = [_f64_file(np.asarray(v, np.float64).ravel(),
                            os.path.join(folder, f"{prefix}-p{q}-s{s}-{axis}.raw"))
                  for axis, v in (("x", x), ("y", y))]
            series.append([str(lab), xy[0], xy[1], shape, color])
        plots.append({"title": p.title, "xlabel": p.xlabel, "ylabel": p.ylabel,
                      "series": series})
    return {"images": images, "tables": tables, "plots": plots, "log": list(outputs.log)}
