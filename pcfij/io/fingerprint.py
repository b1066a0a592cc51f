"""Fingerprint of an input, so a resumed run can tell whether the data changed.

The fingerprint of a file input holds, for every file (each TIFF of a folder, the one file
of a TIFF/raw/``.npy`` input, every file inside a Zarr store), its size and modification
time, plus a SHA-256 of a sample of frames (the first, the last and evenly spaced ones, as
analysed: ROI and frame range applied). A file replaced by other data of the same size
changes its modification time; data rewritten with the old time stamp are still caught
when a sampled frame changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

#: frames hashed for the content part of the fingerprint
SAMPLE_FRAMES = 8


def _files_of(series) -> list[tuple[str, Path]]:
    """(name shown in messages, path) of every file the series reads."""
    from pcfij.io.tiff_folder import TiffFolderArray

    if not series.path:
        return []
    root = Path(series.path)
    if isinstance(series.reader, TiffFolderArray):
        return [(f"frame {t} ({name})", root / name)
                for t, name in enumerate(series.reader.files) if name is not None]
    if root.is_dir():
        out = []
        for dirpath, _, names in os.walk(root):
            for name in sorted(names):
                p = Path(dirpath) / name
                out.append((str(p.relative_to(root)), p))
        return sorted(out)
    return [(root.name, root)]


def file_stamps(series) -> dict[str, list[int]]:
    """``{name: [size, mtime_ns]}`` of every file of the input (empty for arrays)."""
    out = {}
    for name, p in _files_of(series):
        try:
            st = p.stat()
            out[name] = [int(st.st_size), int(st.st_mtime_ns)]
        except OSError:
            out[name] = [-1, -1]
    return out


def sample_hash(series, nframes: int = SAMPLE_FRAMES) -> str:
    """SHA-256 (hex, 16 digits) of ``nframes`` evenly spaced frames of the series.

    Inputs stored as rows are read frame by frame (one ``pread`` each); chunked inputs
    (HDF5, Zarr) hash a corner of up to 64 x 64 pixels of each sampled frame, so only one
    chunk per frame is read.
    """
    from pcfij.io.rows import ChunkRows, read_rows, row_reader

    t, h_, w_ = series.shape
    idx = sorted({int(round(k)) for k in np.linspace(0, t - 1, min(nframes, t))})
    rr = row_reader(series)
    if isinstance(rr, ChunkRows):  # a whole frame would decode whole time chunks
        rr = None
    h = hashlib.sha256()
    for k in idx:
        if rr is not None:
            frame = read_rows(series.subframes(k, k + 1), slice(0, h_), slice(0, w_), reader=rr)
        elif series.kind == "array":
            frame = np.ascontiguousarray(series.data[k].compute(scheduler="sync"))
        else:
            frame = np.ascontiguousarray(
                series.data[k, : min(64, h_), : min(64, w_)].compute(scheduler="sync"))
        h.update(str(k).encode())
        h.update(frame.tobytes())
    return h.hexdigest()[:16]


def input_fingerprint(series) -> dict:
    """The input's fingerprint: per-file stamps, their hash, and the sample hash."""
    stamps = file_stamps(series)
    text = json.dumps(stamps, sort_keys=True)
    return {"files": stamps, "files_hash": hashlib.sha256(text.encode()).hexdigest()[:16],
            "sample_hash": sample_hash(series)}


def describe_input_change(old: dict, new: dict, limit: int = 3) -> str:
    """Name what changed between two fingerprints ("" if nothing)."""
    parts = []
    of, nf = old.get("files") or {}, new.get("files") or {}
    changed = [k for k in nf if k in of and of[k] != nf[k]]
    added = [k for k in nf if k not in of]
    removed = [k for k in of if k not in nf]
    for what, names in (("changed (size or modification time)", changed),
                        ("new", added), ("gone", removed)):
        if names:
            shown = ", ".join(names[:limit]) + (f" and {len(names) - limit} more"
                                               if len(names) > limit else "")
            parts.append(f"input files {what}: {shown}")
    if not parts and old.get("files_hash") != new.get("files_hash"):
        parts.append("input files changed")
    if old.get("sample_hash") != new.get("sample_hash"):
        parts.append("the content of sampled frames differs")
    return "; ".join(parts)
