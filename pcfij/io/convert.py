"""Convert a big image time series (e.g. a folder of TIFF files) to chunked Zarr or HDF5.

The output holds one dataset ``data`` (T, H, W) in the input's sample type with
time-contiguous chunks (default Zarr: 1024 x 32 x 32, HDF5: 512 x 16 x 16 as in the
tutorial), so that later spatial blocks read few, long chunks. Frames are read in slabs of
whole time chunks by dask's threaded scheduler (many files at once) and written slab by
slab; memory use is about two slabs. The output is written under ``NAME.partial`` and
renamed at the end, so an interrupted conversion leaves nothing that looks complete.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np

from pcfij.errors import InputError


def _parse_chunks(chunks, fmt: str, shape) -> tuple[int, int, int]:
    if chunks is None:
        chunks = (1024, 32, 32) if fmt == "zarr" else (512, 16, 16)
    elif isinstance(chunks, str):
        try:
            chunks = tuple(int(v) for v in chunks.replace("x", ",").split(","))
        except ValueError:
            raise InputError(f"chunks must look like 1024,32,32 (T,Y,X); got {chunks!r}") from None
    if len(chunks) != 3 or min(chunks) < 1:
        raise InputError(f"chunks must be three positive numbers (T,Y,X); got {chunks!r}")
    return tuple(int(min(c, s)) for c, s in zip(chunks, shape))


def convert_series(
    source,
    output,
    *,
    roi=None,
    frames=None,
    dataset: str | None = None,
    raw_shape=None,
    raw_dtype=None,
    chunks=None,
    memory_limit="2GB",
    overwrite: bool = False,
    skip_bad: bool = False,
    progress: bool = True,
    workers: int | None = None,
) -> dict:
    """Write ``source[frames, roi]`` to ``output`` (``.zarr`` or ``.h5``/``.hdf5``).

    Returns a summary dict: ``output``, ``shape``, ``dtype``, ``chunks``, ``seconds``,
    ``bytes``, ``mb_per_s``, ``skipped_files``.
    """
    from pcfij.blocks.plan import format_bytes, parse_memory
    from pcfij.io.readers import format_roi, open_source

    target = Path(output).expanduser().absolute()
    name = target.name.lower()
    if name.endswith(".zarr"):
        fmt = "zarr"
    elif name.endswith((".h5", ".hdf5")):
        fmt = "hdf5"
    else:
        raise InputError(f"output {target} must end with .zarr, .h5 or .hdf5")
    if not target.parent.is_dir():
        raise InputError(f"cannot write output {target}: folder {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write output {target}: folder {target.parent} is not writable")
    if target.exists() and not overwrite:
        raise InputError(
            f"output {target} exists; choose another `output` path or pass `overwrite=True`")
    series = open_source(
        source,
        dataset=dataset,
        roi=roi,
        frames=frames,
        raw_shape=raw_shape,
        raw_dtype=raw_dtype,
        skip_bad=skip_bad,
    )
    shape, dtype = series.shape, series.dtype
    ck = _parse_chunks(chunks, fmt, shape)
    limit = parse_memory(memory_limit)
    frame_bytes = shape[1] * shape[2] * dtype.itemsize
    per_chunk = ck[0] * frame_bytes
    if 2 * per_chunk > limit:
        raise InputError(
            f"memory limit {format_bytes(limit)} is too small for time chunks of {ck[0]} frames "
            f"of {shape[1]}x{shape[2]} pixels ({format_bytes(per_chunk)} each, two in flight); "
            "use a larger `memory_limit` or smaller `chunks`"
        )
    slab = max(ck[0], (limit // 2 // frame_bytes) // ck[0] * ck[0])
    slab = min(slab, 8 * ck[0], shape[0]) or shape[0]
    need = shape[0] * frame_bytes
    free = shutil.disk_usage(target.parent).free
    if need > free:
        raise InputError(
            f"not enough disk space for {target}: need {format_bytes(need)}, "
            f"{format_bytes(free)} free"
        )
    partial = target.with_name(target.name + ".partial")
    if partial.is_dir():
        shutil.rmtree(partial)
    elif partial.exists():
        partial.unlink()
    attrs = {
        "source": str(source) if isinstance(source, (str, os.PathLike)) else "array",
        "roi": format_roi(series.roi),
        "frames": f"{series.frames.start}:{series.frames.stop}",
        "axes": "TYX",
        "skipped_files": list(series.skipped),
    }
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=shape[0], unit="frame", desc="convert", smoothing=0.1)
    start = time.perf_counter()
    workers = workers or min(32, 4 * (os.cpu_count() or 1))
    try:
        if fmt == "zarr":
            import zarr

            group = zarr.open_group(str(partial), mode="w", zarr_format=2)
            arr = group.create_array("data", shape=shape, chunks=ck, dtype=dtype, compressors=None)
            arr.attrs["_ARRAY_DIMENSIONS"] = ["t", "y", "x"]
            writer, closer = arr, None
        else:
            import h5py

            fh = h5py.File(partial, "w")
            writer = fh.create_dataset("data", shape=shape, chunks=ck, dtype=dtype)
            closer = fh
        try:
            for t0 in range(0, shape[0], slab):
                t1 = min(shape[0], t0 + slab)
                block = series.data[t0:t1].compute(scheduler="threads", num_workers=workers)
                writer[t0:t1] = np.asarray(block)
                if bar is not None:
                    bar.update(t1 - t0)
            skipped = list(series.skipped) + list(getattr(series.reader, "runtime_skipped", []))
            attrs["skipped_files"] = skipped
            if fmt == "zarr":
                group.attrs["pcfij"] = attrs
            else:
                import json

                for k, v in attrs.items():
                    writer.attrs[k] = json.dumps(v) if isinstance(v, list) else v
        finally:
            if closer is not None:
                closer.close()
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True) if partial.is_dir() else partial.unlink(
            missing_ok=True
        )
        from pcfij.blocks.store import write_error

        raise write_error(exc, partial) from exc
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True) if partial.is_dir() else partial.unlink(
            missing_ok=True
        )
        raise
    finally:
        if bar is not None:
            bar.close()
    if target.exists():
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    os.replace(partial, target)
    seconds = time.perf_counter() - start
    return {
        "output": str(target),
        "shape": shape,
        "dtype": str(dtype),
        "chunks": ck,
        "seconds": seconds,
        "bytes": need,
        "mb_per_s": need / 1e6 / max(seconds, 1e-9),
        "skipped_files": attrs["skipped_files"],
    }
