"""Out-of-core, resumable ipCF of big image time series on overlapping blocks.

:func:`run_blocked_ipcf` opens the input lazily (:func:`pcfij.io.readers.open_source`),
chooses blocks from the memory limit (:mod:`pcfij.blocks.plan`), and lets dask schedule one
task per block: read the block with its ``radius`` halo (all frames), run
:func:`pcfij.pcf.ipcf` on it (which does the bleaching correction), write the block's
result into its own chunk of a Zarr array, record the block as done
(:mod:`pcfij.blocks.store`). The default scheduler is dask's threaded scheduler in this
process, one block at a time (the ipCF kernel itself uses all cores); with a
dask.distributed scheduler address or ``Client`` every worker process computes blocks and
writes them directly (the input and output paths must be visible to the workers).

Running the same call again after a crash, SIGKILL or Ctrl-C computes only the blocks not
yet recorded; the result is the same as that of an uninterrupted run because each block is
computed independently with the same block plan (stored with the run).
"""

from __future__ import annotations

import json
import mmap
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from pcfij.blocks.plan import Block, Plan, format_bytes, make_plan, parse_memory, tile_budget
from pcfij.blocks.store import (
    ARRAY,
    FORMAT,
    ResultStore,
    describe_differences,
    fingerprint,
    mark_done,
    read_result_attrs,
    write_error,
)
from pcfij.errors import InputError, InputTypeError
from pcfij.io.readers import Series, format_roi, open_source

MIN_FRAMES = 32
#: memory kept free besides the blocks (dask, tqdm, Python objects)
RESERVE = 64 * 2**20
#: assumed resident memory of a fresh dask.distributed worker process
WORKER_BASELINE = 250 * 2**20

_SERIES_CACHE: dict[str, Series] = {}
_CACHE_LOCK = threading.Lock()
_KERNEL_LOCK = threading.Lock()  # numba's parallel layer: one ipcf at a time per process


def current_rss() -> int:
    """Resident memory of this process in bytes."""
    import psutil

    return int(psutil.Process().memory_info().rss)


def _check_params(**values) -> dict:
    from pcfij.pcf.commands import PCF

    out = {}
    for name, value in values.items():
        out[name] = PCF.param(name).coerce(value)
    return out


def _source_spec(source, dataset, roi, frames, raw_shape, raw_dtype, skip_bad) -> dict:
    return {
        "path": str(Path(source).expanduser().absolute()),
        "dataset": dataset,
        "roi": roi if isinstance(roi, str) or roi is None else format_roi(roi),
        "frames": frames if isinstance(frames, str) or frames is None
        else f"{frames.start}:{frames.stop}",
        "raw_shape": list(raw_shape) if isinstance(raw_shape, (tuple, list)) else raw_shape,
        "raw_dtype": raw_dtype,
        "skip_bad": bool(skip_bad),
    }


def _series_for(spec: dict) -> Series:
    """Open (once per process) the series a job reads from."""
    key = json.dumps(spec, sort_keys=True)
    with _CACHE_LOCK:
        series = _SERIES_CACHE.get(key)
        if series is None:
            series = open_source(spec["path"], dataset=spec["dataset"], roi=spec["roi"],
                                 frames=spec["frames"], raw_shape=spec["raw_shape"],
                                 raw_dtype=spec["raw_dtype"], skip_bad=spec["skip_bad"])
            _SERIES_CACHE[key] = series
        return series


def read_block(series: Series, ys: slice, xs: slice) -> np.ndarray:
    """Read all frames of ``series[:, ys, xs]`` into memory, multi-threaded.

    Folders of uncompressed TIFF files are read directly (one ``pread`` of the block's rows
    per file, files spread over threads); everything else through the dask array with
    dask's threaded scheduler.
    """
    from pcfij.io.tiff_folder import TiffFolderArray

    reader = series.reader
    if isinstance(reader, TiffFolderArray) and reader.contiguous:
        from concurrent.futures import ThreadPoolExecutor

        (ry, rx), ft = series.roi, series.frames
        yy = slice(ry.start + ys.start, ry.start + ys.stop)
        xx = slice(rx.start + xs.start, rx.start + xs.stop)
        n = ft.stop - ft.start
        out = np.empty((n, yy.stop - yy.start, xx.stop - xx.start), reader.dtype)

        def work(a: int) -> None:
            b = min(n, a + 64)
            reader.read_into(out[a:b], ft.start + a, yy.start, yy.stop, xx.start, xx.stop)

        # one thread per core: more only add GIL hand-offs when files come from the cache
        with ThreadPoolExecutor(min(16, max(2, os.cpu_count() or 1))) as pool:
            list(pool.map(work, range(0, n, 64)))
        return out
    out = np.ascontiguousarray(series.data[:, ys, xs].compute(scheduler="threads"))
    _release_mapped_pages(reader)
    return out


def _release_mapped_pages(reader) -> None:
    """Unmap the pages a memory-mapped input (.npy, raw, TIFF) touched for the last block.

    They stay in the page cache, but would otherwise count towards this process's resident
    memory (up to the whole file) and eat the memory limit block by block.
    """
    mm = getattr(reader, "_mmap", None)
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if mm is not None and advice is not None and hasattr(mm, "madvise"):
        try:
            mm.madvise(advice)
        except (OSError, ValueError):
            pass


def compute_block(job: dict) -> dict:
    """Read, analyse, write and record one block (a dask task; runs in any process)."""
    from pcfij.pcf import ipcf

    b = Block(**job["block"])
    r = job["params"]["radius"]
    t0 = time.perf_counter()
    if job.get("data") is not None:
        data = job["data"]
    else:
        key = job["source_key"]
        series = _SERIES_CACHE.get(key) if key else None
        if series is None:
            series = _series_for(job["source"])
        ys, xs = b.input_slices(r)
        data = read_block(series, ys, xs)
    t_read = time.perf_counter() - t0
    with _KERNEL_LOCK:
        t1 = time.perf_counter()  # compute time excludes waiting for the other block
        result = ipcf(data, **job["params"], progress=False)
    nbytes = data.nbytes
    del data
    t2 = time.perf_counter()
    import zarr

    try:
        arr = zarr.open_array(job["array_path"], mode="r+")
        arr[b.y0 : b.y1, b.x0 : b.x1] = result
        mark_done(Path(job["done_dir"]), b.index,
                  {"seconds": t2 - t0, "run": job["run_id"]})
    except OSError as exc:
        raise write_error(exc, Path(job["array_path"]).parent.parent) from exc
    return {"index": b.index, "read_seconds": t_read, "compute_seconds": t2 - t1,
            "write_seconds": time.perf_counter() - t2, "bytes_read": nbytes,
            "pairs": b.pixels * job["params"]["npoints"]}


# --------------------------------------------------------------------------- schedulers
def _is_distributed(scheduler) -> bool:
    if scheduler is None:
        return False
    if isinstance(scheduler, str):
        return scheduler not in ("threads", "threading", "sync", "synchronous", "local")
    return True


def _client_for(scheduler):
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - distributed is a dependency
        raise InputError("a dask scheduler address needs the 'distributed' package") from exc
    if isinstance(scheduler, Client):
        return scheduler, False
    if not isinstance(scheduler, str):
        raise InputTypeError("scheduler must be None, 'threads', an address or a Client")
    try:
        return Client(scheduler, timeout="20s", set_as_default=False), True
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError ...
        raise InputError(
            f"cannot connect to the dask scheduler at {scheduler}: {exc}; start one with "
            "'dask scheduler' and 'dask worker ADDRESS' or leave --scheduler out"
        ) from exc


def _worker_budget(client, limit: int) -> tuple[int, int]:
    """Per-block budget on the cluster's workers, and the number of worker threads."""
    workers = client.scheduler_info().get("workers", {})
    if not workers:
        raise InputError("the dask cluster has no workers; start some with 'dask worker ADDRESS'")
    budgets, threads = [], 0
    for w in workers.values():
        nthreads = max(1, int(w.get("nthreads", 1)))
        threads += nthreads
        wl = int(w.get("memory_limit") or 0) or limit
        budgets.append(min(limit, wl) // nthreads - WORKER_BASELINE)
    return min(budgets), threads


def _run_threads(jobs, on_done, workers: int) -> None:
    import dask
    from dask.callbacks import Callback

    class _Progress(Callback):
        def _posttask(self, key, result, dsk, state, worker_id):
            if isinstance(result, dict) and "index" in result:
                on_done(result)

    tasks = [dask.delayed(compute_block, pure=False)(job) for job in jobs]
    with _Progress():
        dask.compute(*tasks, scheduler="threads", num_workers=workers)


def _run_distributed(client, jobs, on_done, run_id: str) -> None:
    from distributed import as_completed

    futures = [
        client.submit(compute_block, job, key=f"pcfij-block-{run_id}-{job['block']['index']}",
                      pure=False, retries=1)
        for job in jobs
    ]
    try:
        for fut in as_completed(futures):
            on_done(fut.result())
    finally:
        for fut in futures:
            if not fut.done():
                fut.cancel()


# --------------------------------------------------------------------------- main entry
def run_blocked_ipcf(
    source,
    output,
    *,
    radius: int = 6,
    npoints: int = 32,
    nbins: int = 32,
    pow2: bool = False,
    bleach_filter: int = 0,
    smooth: bool = True,
    device: str = "auto",
    roi=None,
    frames=None,
    memory_limit="4GB",
    scheduler=None,
    overwrite: bool = False,
    skip_bad: bool = False,
    progress: bool = True,
    dataset: str | None = None,
    raw_shape=None,
    raw_dtype=None,
    block_shape: tuple[int, int] | None = None,
) -> dict:
    """Compute the ipCF of a big image time series block by block, resumably.

    Parameters
    ----------
    source : path or array-like
        TIFF folder, multi-page TIFF, ``.h5``/``.hdf5``, ``.zarr``, ``.npy``, raw ``.bin``
        (with ``raw_shape``), or an array (T, H, W).
    output : path
        ``*.zarr`` (default choice) or ``*.h5``/``*.hdf5``. Array ``"pcf"`` of shape
        ``(H - 2r, W - 2r, npoints, nbins)`` float32 with the parameters in its attributes.
    radius, npoints, nbins, pow2, bleach_filter, smooth, device
        As for :func:`pcfij.pcf.ipcf`.
    roi : str or (slice, slice), optional
        ``"y0:y1,x0:x1"`` region of the input to analyse (the result is 2r smaller).
    frames : str or slice, optional
        ``"start:stop"`` frames to analyse (before bleaching correction).
    memory_limit : str or int
        Peak memory for this process (threaded scheduler) or for each worker process
        (distributed); blocks are sized to fit (e.g. ``"4GB"``).
    scheduler : None, "threads", str or distributed.Client
        None/"threads": dask's threaded scheduler here; an address (``tcp://host:8786``) or
        a ``Client``: a dask.distributed cluster.
    overwrite : bool
        Replace an existing output / unfinished run made with other parameters.
    skip_bad : bool
        TIFF folders: interpolate bad or missing frames instead of stopping.
    progress : bool
        Show a progress bar with ETA on stderr.
    dataset : str, optional
        Dataset inside an HDF5/Zarr input.
    raw_shape, raw_dtype
        Frame size and sample type of a raw binary input.
    block_shape : (by, bx), optional
        Force the output tile of a block (tuning, tests); normally chosen from the limit.

    Returns
    -------
    dict
        ``output``, ``shape``, ``blocks``, ``blocks_computed``, ``blocks_skipped``,
        ``computed_blocks`` (indices), ``block_shape``, ``pairs`` (pair correlations
        computed in this run), ``seconds``, ``read_seconds``, ``bytes_read``,
        ``skipped_files``, ``memory_limit``, ``scheduler``, ``complete``.

    Raises
    ------
    InputError
        Bad input (named), ROI outside the image, memory limit too small for one block,
        output not writable, disk full, an existing output made with other parameters.
    """
    start = time.perf_counter()
    p = _check_params(radius=radius, npoints=npoints, nbins=nbins, pow2=pow2,
                      bleach_filter=bleach_filter, smooth=smooth, device=device)
    limit = parse_memory(memory_limit)
    store = ResultStore(output)
    store.check_writable()

    # ---- input
    is_path = isinstance(source, (str, os.PathLike))
    series = open_source(source, dataset=dataset, roi=roi, frames=frames, raw_shape=raw_shape,
                         raw_dtype=raw_dtype, skip_bad=skip_bad)
    t0, h, w = series.shape
    nframes = t0 - 2 * p["bleach_filter"]
    if nframes < MIN_FRAMES:
        raise InputError(
            f"{t0} frames minus 2 x bleach filter {p['bleach_filter']} leaves {nframes}; at "
            f"least {MIN_FRAMES} are needed: use a smaller --bleach-filter or more frames"
        )
    from pcfij.pcf import circle, ipcf_bins, pow2_frames

    if p["pow2"]:
        nframes = pow2_frames(nframes)
    bins = ipcf_bins(nframes, p["nbins"])
    if h - 2 * p["radius"] < 1 or w - 2 * p["radius"] < 1:
        raise InputError(
            f"radius {p['radius']} is too large for the {h}x{w} pixel input (ROI); it needs at "
            f"least {2 * p['radius'] + 1}x{2 * p['radius'] + 1} pixels"
        )

    # ---- identity of the result
    from dask.base import tokenize

    identity = {
        "format": FORMAT,
        "radius": p["radius"], "npoints": p["npoints"], "nbins": p["nbins"], "pow2": p["pow2"],
        "bleach_filter": p["bleach_filter"], "smooth": p["smooth"],
        "source": str(Path(source).expanduser().absolute()) if is_path
        else "array:" + tokenize(source),
        "dataset": series.info.get("dataset"),
        "source_shape": list(series.full_shape), "dtype": str(series.dtype),
        "roi": format_roi(series.roi), "frames": f"{series.frames.start}:{series.frames.stop}",
        "skipped_files": list(series.skipped),
    }
    fp = fingerprint(identity)
    out_shape = (h - 2 * p["radius"], w - 2 * p["radius"], p["npoints"], len(bins))
    attrs = dict(identity, fingerprint=fp, axes="YXPB", shape=list(out_shape),
                 bins=[int(b) for b in bins], circle=circle(p["radius"], p["npoints"]).tolist(),
                 frames_used=int(nframes),
                 origin=[series.roi[0].start + p["radius"], series.roi[1].start + p["radius"]],
                 source_kind=series.kind, device=p["device"])
    from pcfij import __version__

    attrs["version"] = __version__

    # ---- an existing result?
    if store.target.exists() and not overwrite:
        old = read_result_attrs(store.target)
        if old is None:
            raise InputError(
                f"output {store.target} exists and is not a finished pcfij result; choose "
                "another -o path or pass --overwrite"
            )
        if old.get("fingerprint") != fp:
            raise InputError(
                f"output {store.target} was made with other parameters or input: "
                f"{describe_differences({k: old.get(k) for k in identity}, identity)}; choose "
                "another -o path or pass --overwrite to replace it"
            )
        return _summary(store, out_shape, Plan.from_dict(old["plan"]) if "plan" in old else None,
                        [], start, {}, limit, scheduler, series, already=True)

    # ---- scheduler and memory budget
    client, own_client = (None, False)
    if _is_distributed(scheduler):
        client, own_client = _client_for(scheduler)
    try:
        if client is not None:
            budget, _ = _worker_budget(client, limit)
        else:
            budget = limit - current_rss() - RESERVE
        limit_text = format_bytes(limit)
        if budget <= 0:
            raise InputError(
                f"memory limit {limit_text} is too small: this program already uses "
                f"{format_bytes(current_rss())}; give --memory-limit of at least "
                f"{format_bytes(current_rss() + 256 * 2**20)} (a few GB gives bigger blocks)"
            )
        plan_kw = dict(radius=p["radius"], frames=nframes, itemsize=series.dtype.itemsize,
                       npoints=p["npoints"], nbins=len(bins), bleach=p["bleach_filter"] > 0,
                       budget=budget, limit_text=limit_text,
                       row_reads=series.kind == "tiff-folder")

        # ---- resume or start
        run = store.existing_run()
        if run is not None and (overwrite or run.get("fingerprint") != fp):
            if not overwrite:
                raise InputError(
                    f"an unfinished run with other parameters or input is in {store.work} "
                    f"({describe_differences(run.get('identity', {}), identity)}); run the "
                    "same command as before to resume it, or pass --overwrite to start over"
                )
            run = None
        if run is not None:
            plan = Plan.from_dict(run["plan"])
            if plan.block_bytes > budget and block_shape is None:
                raise InputError(
                    f"the unfinished run in {store.work} uses blocks of {plan.by}x{plan.bx} "
                    f"pixels needing about {format_bytes(plan.block_bytes)}, more than the "
                    f"memory limit {limit_text} allows; resume with a larger --memory-limit "
                    "or pass --overwrite to start over with smaller blocks"
                )
            done = store.done()
        else:
            plan = make_plan((t0, h, w), block_shape=block_shape, **plan_kw)
            if block_shape is not None and plan.block_bytes > budget:
                raise InputError(
                    f"memory limit {limit_text} is too small for blocks of "
                    f"{plan.by}x{plan.bx} pixels (about {format_bytes(plan.block_bytes)})"
                )
            run = {"fingerprint": fp, "identity": identity, "plan": plan.to_dict(),
                   "created": time.time()}
            _check_disk(store, out_shape, plan.blocks(), set())
            store.create(run, out_shape, (plan.by, plan.bx, *out_shape[2:]),
                         dict(attrs, plan=plan.to_dict()))
            done = set()
        attrs["plan"] = plan.to_dict()
        blocks = plan.blocks()
        todo = [b for b in blocks if b.index not in done]
        _check_disk(store, out_shape, todo, done)
        run_id = f"{os.getpid()}-{int(time.time() * 1000)}"
        store.log(event="start", run=run_id, todo=[b.index for b in todo], done=sorted(done),
                  scheduler=str(scheduler or "threads"), memory_limit=limit)

        # ---- jobs
        source_key = ""
        src_spec = None
        if is_path:
            src_spec = _source_spec(source, dataset, roi, frames, raw_shape, raw_dtype, skip_bad)
            if client is None:
                source_key = json.dumps(src_spec, sort_keys=True)
                with _CACHE_LOCK:
                    _SERIES_CACHE[source_key] = series
        elif client is None:
            source_key = f"array:{id(series)}"
            with _CACHE_LOCK:
                _SERIES_CACHE[source_key] = series
        params = dict(radius=p["radius"], npoints=p["npoints"], nbins=p["nbins"], pow2=p["pow2"],
                      bleach_filter=p["bleach_filter"], smooth=p["smooth"], device=p["device"])
        if plan.tile:  # the plan's ipcf tile (see pcfij.blocks.plan)
            params["memory_budget"] = tile_budget(plan.tile, p["radius"], nframes)
        jobs = []
        for b in todo:
            job = {"block": b.__dict__, "params": params, "source": src_spec,
                   "source_key": source_key, "array_path": str(store.data_path / ARRAY),
                   "done_dir": str(store.done_dir), "run_id": run_id, "data": None}
            if not is_path and client is not None:
                ys, xs = b.input_slices(p["radius"])
                job["data"] = read_block(series, ys, xs)  # arrays in memory travel with jobs
            jobs.append(job)

        stats = {"read_seconds": 0.0, "compute_seconds": 0.0, "bytes_read": 0, "computed": []}
        bar = _progress_bar(progress, sum(b.pixels * p["npoints"] for b in todo), len(blocks),
                            len(done))

        def on_done(res: dict) -> None:
            stats["read_seconds"] += res["read_seconds"]
            stats["compute_seconds"] += res["compute_seconds"]
            stats["bytes_read"] += res["bytes_read"]
            stats["computed"].append(res["index"])
            store.log(event="block", run=run_id, index=res["index"],
                      seconds=res["read_seconds"] + res["compute_seconds"])
            if bar is not None:
                bar.update(res["pairs"])
                bar.set_postfix_str(f"block {len(done) + len(stats['computed'])}/{len(blocks)}")

        try:
            if todo:
                if client is None:
                    # two workers: one reads the next block while the other computes (the
                    # kernel lock keeps one ipcf at a time; the plan budgets two inputs)
                    _run_threads(jobs, on_done, 2 if len(jobs) > 1 else 1)
                else:
                    _run_distributed(client, jobs, on_done, run_id)
        except OSError as exc:
            raise write_error(exc, store.work) from exc
        finally:
            if bar is not None:
                bar.close()
            with _CACHE_LOCK:
                _SERIES_CACHE.pop(source_key, None)
            store.log(event="stop", run=run_id, computed=len(stats["computed"]))
    finally:
        if own_client:
            client.close()

    missing = {b.index for b in blocks} - store.done()
    if missing:  # pragma: no cover - defensive: every task records its block
        raise InputError(f"{len(missing)} blocks were not recorded; run the command again")
    attrs["skipped_files"] = list(series.skipped) + _runtime_skipped(series)
    attrs["seconds"] = time.perf_counter() - start
    store.finalize(attrs, overwrite=overwrite)
    return _summary(store, out_shape, plan, stats["computed"], start, stats, limit, scheduler,
                    series)


def _runtime_skipped(series: Series) -> list[str]:
    extra = getattr(series.reader, "runtime_skipped", None)
    return list(extra) if extra else []


def _check_disk(store: ResultStore, out_shape, todo: list[Block], done: set[int]) -> None:
    per_pixel = out_shape[2] * out_shape[3] * 4
    need = sum(b.pixels for b in todo) * per_pixel
    if store.format == "hdf5":
        need += out_shape[0] * out_shape[1] * per_pixel
    try:
        free = shutil.disk_usage(store.target.parent).free
    except OSError:
        return
    if need > free:
        raise InputError(
            f"not enough disk space for {store.target}: the result needs about "
            f"{format_bytes(need)} more, {format_bytes(free)} are free; free some space or "
            "choose another -o path (or a smaller --roi)"
        )


def _progress_bar(progress: bool, total_pairs: int, nblocks: int, ndone: int):
    if not progress or total_pairs == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total_pairs, unit="pair", unit_scale=True, smoothing=0.05,
                desc=f"ipCF {nblocks} blocks" + (f" ({ndone} done before)" if ndone else ""))


def _summary(store, out_shape, plan, computed, start, stats, limit, scheduler, series,
             already=False) -> dict:
    nblocks = len(plan.blocks()) if plan is not None else 0
    computed = sorted(computed)
    pixels = {b.index: b.pixels for b in plan.blocks()} if plan is not None else {}
    pairs = sum(pixels.get(i, 0) for i in computed) * out_shape[2]
    seconds = time.perf_counter() - start
    return {
        "output": str(store.target),
        "shape": tuple(int(s) for s in out_shape),
        "blocks": nblocks,
        "blocks_computed": len(computed),
        "blocks_skipped": nblocks - len(computed),
        "computed_blocks": computed,
        "block_shape": (plan.by, plan.bx) if plan is not None else None,
        "block_bytes": plan.block_bytes if plan is not None else None,
        "pairs": int(pairs),
        "seconds": seconds,
        "read_seconds": stats.get("read_seconds", 0.0),
        "compute_seconds": stats.get("compute_seconds", 0.0),
        "bytes_read": stats.get("bytes_read", 0),
        "skipped_files": list(series.skipped) + _runtime_skipped(series),
        "memory_limit": limit,
        "scheduler": "threads" if not _is_distributed(scheduler) else str(
            getattr(scheduler, "scheduler", None) and scheduler.scheduler.address or scheduler),
        "complete": True,
        "already_complete": already,
    }


def open_result(path: str | os.PathLike) -> tuple[Any, dict]:
    """Open a finished blocked result: ``(array (Y, X, points, bins), attributes)``.

    The array is a Zarr array or h5py dataset (index it to load a part; ``numpy.asarray`` to
    load all). Raises InputError for unfinished or foreign outputs.
    """
    path = Path(path)
    if not path.exists():
        partial = path.with_name(path.name + ".partial")
        hint = (f"; an unfinished run is in {partial}: run the same pcf command again to "
                "finish it") if partial.exists() else ""
        raise InputError(f"result {path} does not exist{hint}")
    attrs = read_result_attrs(path)
    if not attrs or not attrs.get("complete"):
        raise InputError(f"{path} is not a finished pcfij ipCF result")
    if path.name.lower().endswith(".zarr"):
        import zarr

        return zarr.open_group(str(path), mode="r")[ARRAY], attrs
    import h5py

    return h5py.File(path, "r")[ARRAY], attrs
