"""Out-of-core, resumable ipCF of big image time series on overlapping blocks.

:func:`run_blocked_ipcf` runs in three stages:

* :func:`prepare` opens the input lazily (a :class:`pcfij.io.source.Source`), takes the
  output's lock, fingerprints parameters and input, refuses a different unfinished run or
  output, chooses the block plan from the memory limit (:mod:`pcfij.blocks.plan`) and
  creates or reopens the work folder (:mod:`pcfij.blocks.store`);
* :func:`execute` computes the blocks not yet recorded: read the block with its ``radius``
  halo (all frames), run :func:`pcfij.pcf.ipcf` on it (which does the bleaching
  correction), write the block's result into its own chunk of a Zarr array, record the block
  as done;
* :func:`finalize` marks the result complete and moves it into place.

Scheduling:

* inputs stored as whole rows per frame (TIFF folders, raw, ``.npy``, contiguous TIFF) and
  chunked inputs (HDF5, Zarr) in this process: **row bands** (:func:`_run_bands`). Every
  band of full-width rows is read once for all its blocks, one ``pread`` per frame without
  kernel read-ahead (:mod:`pcfij.io.rows`), or whole time chunks of a chunked input with the
  band's rows extended to a chunk boundary (the extra rows are kept for the next band);
  halo rows come from the band above, so every input byte (chunk) is read once. A reader
  thread reads the next band while the current band's blocks are computed, as far as the
  memory freed by finished blocks allows;
* other inputs (arrays; chunked inputs whose bands would not fit the memory limit or
  would get a smaller ipCF tile than blocks) in this process: one block computing while
  the next one is read;
* a dask.distributed scheduler address or ``Client``: one task per block on the cluster,
  submitted through that client (never a default client); workers read their blocks and
  write them directly (the input and output paths must be visible to the workers).

Running the same call again after a crash, SIGKILL or Ctrl-C computes only the blocks not
yet recorded; the result is the same as that of an uninterrupted run because each block is
computed independently with the same block plan (stored with the run), and the input is
checked to be the same (:mod:`pcfij.io.fingerprint`).
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pcfij.blocks.plan import (
    Block,
    Plan,
    band_bytes,
    carry_rows,
    format_bytes,
    make_band_plan,
    make_plan,
    parse_memory,
    read_buffer_bytes,
    suggest_limit,
    tile_budget,
)
from pcfij.blocks.store import (
    ARRAY,
    FORMAT,
    OutputLock,
    ResultStore,
    describe_differences,
    fingerprint,
    mark_done,
    read_result_attrs,
    write_error,
)
from pcfij.errors import InputError, InputTypeError
from pcfij.io.readers import Series, format_roi, open_source
from pcfij.io.rows import ChunkRows, frame_pieces, frame_step, read_rows, row_align, row_reader
from pcfij.io.source import Source
from pcfij.pcf.result import IPCFResult

MIN_FRAMES = 32
#: memory kept free besides the blocks (dask, tqdm, Python objects, write buffers)
RESERVE = 128 * 2**20
#: assumed resident memory of a fresh dask.distributed worker process
WORKER_BASELINE = 250 * 2**20
#: seconds to wait for a dask scheduler to answer
CONNECT_TIMEOUT = "5s"

_SERIES_CACHE: dict[str, Series] = {}
_CACHE_LOCK = threading.Lock()
_KERNEL_LOCK = threading.Lock()  # numba's parallel layer: one ipcf at a time per process


def current_rss() -> int:
    """Resident memory of this process in bytes."""
    import psutil

    return int(psutil.Process().memory_info().rss)


def anonymous_rss() -> int:
    """Anonymous resident memory of this process (heap, arrays), bytes.

    What ``memory_limit`` bounds besides mapped input pages: shared library code and other
    file-backed pages are not counted (the kernel can drop them at any time).
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return current_rss()


def _return_freed_memory(setup: bool = False) -> None:
    """glibc: give freed memory back to the system (``setup``: allocations of 1 MB and more
    always mapped, so freeing them unmaps them; otherwise glibc raises its threshold to
    32 MB after the first large free and keeps block-sized buffers in per-thread heaps)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        if setup:
            libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
        else:
            libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _warm_up(dtype, params: dict) -> None:
    """Load what the first block would load (the Zarr writer, the ipCF kernels for this
    sample type), so the memory measured before planning includes it."""
    import warnings

    import zarr  # noqa: F401 - imported for its memory, used by every block

    from pcfij.pcf import ipcf

    rng = np.random.default_rng(0)
    r = params["radius"]
    tiny = (100 + rng.integers(0, 50, (96, 2 * r + 4, 2 * r + 4))).astype(dtype)
    kw = dict(params, bleach_filter=8 if params.get("bleach_filter") else 0)
    kw.pop("memory_budget", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ipcf(tiny, **kw, progress=False)


def _check_params(**values) -> dict:
    from pcfij.commands.pcf import PCF

    out = {}
    for name, value in values.items():
        out[name] = PCF.param(name).coerce(value)
    return out


def _series_for(spec: dict) -> Series:
    """Open (once per process) the series a job reads from."""
    key = json.dumps(spec, sort_keys=True)
    with _CACHE_LOCK:
        series = _SERIES_CACHE.get(key)
        if series is None:
            series = open_source(Source.from_dict(spec))
            _SERIES_CACHE[key] = series
        return series


def read_block(series: Series, ys: slice, xs: slice) -> np.ndarray:
    """Read all frames of ``series[:, ys, xs]`` into memory, multi-threaded.

    Inputs stored as rows (TIFF folders, raw, ``.npy``, contiguous TIFF) are read with one
    ``pread`` of the block's rows per frame without read-ahead (:func:`pcfij.io.rows.read_rows`);
    everything else through the dask array with dask's threaded scheduler.
    """
    reader = row_reader(series)
    if reader is not None:
        return read_rows(series, ys, xs, reader=reader)
    out = np.ascontiguousarray(series.data[:, ys, xs].compute(scheduler="threads"))
    _release_mapped_pages(series.reader)
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


def _analyse_block(data: np.ndarray, job: dict, t_read: float, t0: float) -> dict:
    """Run ipcf on one block's data, write its result and record it as done."""
    from pcfij.pcf import ipcf

    b = Block(**job["block"])
    with _KERNEL_LOCK:
        t1 = time.perf_counter()  # compute time excludes waiting for the other block
        result = ipcf(data, **job["params"], progress=False)
    nbytes = data.nbytes
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


def compute_block(job: dict) -> dict:
    """Read, analyse, write and record one block (a dask task; runs in any process)."""
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
    return _analyse_block(data, job, time.perf_counter() - t0, t0)


# --------------------------------------------------------------------------- schedulers
_ADDRESS = re.compile(r"^(?:(tcp|tls|inproc|ucx|ws|wss)://)?\[?[A-Za-z0-9_.:-]+\]?:\d{1,5}$")


def _is_distributed(scheduler) -> bool:
    if scheduler is None:
        return False
    if isinstance(scheduler, str):
        return scheduler not in ("threads", "threading", "sync", "synchronous", "local")
    return True


def _client_for(scheduler):
    """(client, own): the given Client, or a new one connected to an address (own=True)."""
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - distributed is a dependency
        raise InputError("a dask scheduler address needs the 'distributed' package") from exc
    if isinstance(scheduler, Client):
        return scheduler, False
    if not isinstance(scheduler, str):
        raise InputTypeError("scheduler must be None, 'threads', an address or a Client")
    address = scheduler.strip()
    if not _ADDRESS.match(address):
        raise InputError(
            f"dask scheduler address {scheduler!r} is not an address like tcp://host:8786; "
            "give the address 'dask scheduler' prints, or leave `scheduler` out to compute "
            "here"
        )
    quiet = [logging.getLogger(n) for n in ("distributed", "distributed.client",
                                             "distributed.core", "distributed.comm")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.CRITICAL)
    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False), True
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError ...
        why = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(
            f"cannot connect to the dask scheduler at {address} ({why[:200]}); start one "
            "with 'dask scheduler' and workers with 'dask worker ADDRESS', or leave "
            "`scheduler` out to compute here"
        ) from None
    finally:
        for lg, level in zip(quiet, levels):
            lg.setLevel(level)


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
    """Blocks on ``workers`` threads of this process (one reads while another computes).

    On an error, blocks not started are cancelled and running ones are waited for, so no
    block is still being written when this returns.
    """
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    pending = list(jobs)
    running: set = set()
    error: BaseException | None = None
    with ThreadPoolExecutor(max(1, workers)) as pool:
        while pending or running:
            while pending and len(running) < workers and error is None:
                running.add(pool.submit(compute_block, pending.pop(0)))
            if not running:
                break
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                exc = fut.exception()
                if exc is not None:
                    error = error or exc
                    pending = []
                else:
                    on_done(fut.result())
    if error is not None:
        raise error


def _run_distributed(client, jobs, on_done, run_id: str) -> None:
    """One task per block, submitted and awaited through ``client`` (no default client)."""
    from distributed import as_completed

    futures = [
        client.submit(compute_block, job, key=f"pcfij-block-{run_id}-{job['block']['index']}",
                      pure=False, retries=2)
        for job in jobs
    ]
    try:
        for fut in as_completed(futures, loop=client.loop):
            on_done(fut.result())
    finally:
        for fut in futures:
            if not fut.done():
                fut.cancel()


class _MemoryGate:
    """Bytes held by band data; the reader waits until its next piece fits ``cap`` and the
    process's measured anonymous memory plus the piece stays within ``hard`` (the limit:
    the model of the computation's memory is an estimate, the measurement is not)."""

    def __init__(self, cap: int, hard: int | None = None):
        self.cap = cap
        self.hard = hard
        self.used = 0
        self.stop = False
        self.idle = False  # the computing thread waits for the reader: nothing will be freed
        self.cond = threading.Condition()

    def _fits(self, n: int) -> bool:
        if self.used + n > self.cap:
            return False
        return self.hard is None or self.idle or anonymous_rss() + n <= self.hard

    def set_idle(self, idle: bool) -> None:
        with self.cond:
            self.idle = idle
            self.cond.notify_all()

    def acquire(self, n: int, force: bool = False) -> bool:
        with self.cond:
            while not force and not self.stop and self.used > 0 and not self._fits(n):
                self.cond.wait(0.2)
            self.used += n
            return not self.stop

    def release(self, n: int) -> None:
        with self.cond:
            self.used -= n
            self.cond.notify_all()

    def halt(self) -> None:
        with self.cond:
            self.stop = True
            self.cond.notify_all()


@dataclass
class _Band:
    """One row band: the blocks of a row of the plan and their input arrays."""

    index: int
    blocks: list[Block]
    rows: tuple[int, int]  # input rows y0:y1 (series coordinates), halo included
    need_from: int  # first row not taken from the band above's arrays (its halo rows)
    read_from: int = 0  # rows read_from:read_to come from the files; rows read earlier
    read_to: int = 0  # (past an earlier band, chunked inputs) are carried in the reader
    arrays: list[np.ndarray | None] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)


def _band_list(plan: Plan, todo: dict, radius: int, align: int, roi_y0: int,
               height: int) -> list[_Band]:
    """The bands with blocks to compute and the rows each reads from the files: the rows it
    needs that no earlier band read; where the next band follows, up to the next multiple
    of ``align`` source rows (a chunk boundary). Rows read past a band are carried to the
    bands below (the reader keeps them), so a chunked input's chunk rows are read once
    even when they are taller than a band."""
    bands: list[_Band] = []
    prev = None
    for j, row in enumerate(plan.band_rows()):
        if not any(b.index in todo for b in row):
            continue
        y0, y1 = row[0].y0, row[0].y1 + 2 * radius
        bands.append(_Band(j, row, (y0, y1), y0 + 2 * radius if prev == j - 1 else y0))
        prev = j
    done_to = 0  # rows read so far by the contiguous run of bands
    for k, band in enumerate(bands):
        y0, y1 = band.rows
        if band.need_from == y0:  # not below the band before: nothing carried
            done_to = y0
        band.read_from = max(band.need_from, done_to)
        band.read_to = max(band.read_from, y1)
        nxt = bands[k + 1] if k + 1 < len(bands) else None
        if align > 1 and nxt is not None and nxt.index == band.index + 1 \
                and band.read_to > band.read_from:
            band.read_to = min(max(band.read_to, -(-(roi_y0 + y1) // align) * align - roi_y0),
                               height)
        done_to = max(done_to, band.read_to)
    return bands


def _run_bands(prep: Prepared, jobs: list[dict], on_done, stats: dict) -> None:
    """Row-band execution (see module docstring): each input row is read once."""
    plan, series, r = prep.plan, prep.series, prep.params["radius"]
    todo = {j["block"]["index"]: j for j in jobs}
    t0, height, w = series.shape
    item = series.dtype.itemsize
    reader = row_reader(series)
    align = row_align(reader)
    bands = _band_list(plan, todo, r, align, series.roi[0].start, height)
    pieces = frame_pieces(t0, series.frames.start, frame_step(reader))
    compute = plan.block_bytes - plan.band_bytes
    # set aside, not counted by the gate: the copies of a band's last 2r rows (the halo of
    # the band below; they exist while the next band is read) and a chunked input's read
    # buffers; counted: the band arrays, by whole frames (their pages) as they are written,
    # and the rows carried past a band
    nbx = len(plan.band_rows()[0])
    halos = band_bytes(2 * r, w, nbx, r, t0, item)
    carry = carry_rows(plan.by, plan.out_h, r, align, series.roi[0].start)
    aside = halos + read_buffer_bytes(plan.by, w, t0, item, carry, frame_step(reader))
    one_band = band_bytes(max(b.rows[1] - b.rows[0] for b in bands), w, nbx, r, t0, item)
    one_band += carry * w * t0 * item
    # cap: the bands' bytes (at least one band: the reader must be able to fill it); hard:
    # the measured anonymous memory plus a block's computation must stay in the limit
    gate = _MemoryGate(max(prep.budget - compute - aside, one_band, 1),
                       prep.limit - RESERVE - compute - aside)
    errors: list[BaseException] = []

    def read_all() -> None:
        try:
            # reading yields the CPU to the ipCF kernel, whose parallel loops wait for
            # their slowest thread (threads started from here inherit the niceness)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (AttributeError, OSError):
            pass
        # rows read past the bands before (all frames, full width): carried[:, k] is row
        # carried_y0 + k
        carried, carried_y0 = None, 0
        try:
            for band in bands:
                y0, y1 = band.rows
                nrows = y1 - y0
                if band.need_from == y0:
                    carried = None  # not below the band before
                band.arrays = [np.empty((t0, nrows, b.x1 - b.x0 + 2 * r), series.dtype)
                               for b in band.blocks]
                widths = sum(a.shape[2] for a in band.arrays)
                # the band arrays' pages are counted when first written (whole frames:
                # halo rows, filled later from the band above, share the frames' pages)
                counted = False
                have = carried_y0 + (carried.shape[1] if carried is not None else 0)
                lo, hi = band.need_from, min(y1, have)
                if carried is not None and hi > lo:  # rows read with the bands above
                    counted = True
                    for a, b in pieces:
                        if not gate.acquire((b - a) * nrows * widths * item):
                            return
                        rows = carried[a:b, lo - carried_y0 : hi - carried_y0]
                        for blk, arr in zip(band.blocks, band.arrays):
                            arr[a:b, lo - y0 : hi - y0] = rows[:, :, blk.x0 : blk.x1 + 2 * r]
                        del rows, arr  # no view may keep the carried rows alive
                # rows past this band, for the bands below: what is carried already plus
                # what is read now
                keep_to = max(band.read_to, have if carried is not None else 0)
                keep = max(0, keep_to - y1)
                nxt = np.empty((t0, keep, w), series.dtype) if keep > 0 else None
                if nxt is not None and carried is not None and have > y1:
                    nxt[:, : have - y1] = carried[:, y1 - carried_y0 :]
                gate.acquire(nxt.nbytes if nxt is not None else 0, force=True)
                if carried is not None:
                    gate.release(carried.nbytes)
                carried = None
                new = band.read_to - band.read_from
                tic = time.perf_counter()
                if new > 0 or not counted:
                    buf = np.empty((max(b - a for a, b in pieces), new, w), series.dtype)
                    inside = max(0, y1 - band.read_from)
                    for a, b in pieces:
                        if not counted and not gate.acquire((b - a) * nrows * widths * item):
                            return
                        if new == 0:
                            continue
                        part = read_rows(series.subframes(a, b),
                                         slice(band.read_from, band.read_to), slice(0, w),
                                         reader=reader, out=buf[: b - a])
                        for blk, arr in zip(band.blocks, band.arrays):
                            arr[a:b, band.read_from - y0 :] = \
                                part[:, :inside, blk.x0 : blk.x1 + 2 * r]
                        if nxt is not None and band.read_to > y1:
                            start = max(band.read_from, y1) - y1
                            nxt[a:b, start : band.read_to - y1] = part[:, inside:]
                        del part, arr
                    del buf
                carried, carried_y0 = nxt, y1
                stats["read_seconds"] += time.perf_counter() - tic
                stats["bytes_read"] += t0 * new * w * item
                band.ready.set()
        except BaseException as exc:  # noqa: BLE001 - handed to the computing thread
            errors.append(exc)
            for band in bands:
                band.ready.set()

    thread = threading.Thread(target=read_all, name="pcfij-band-reader", daemon=True)
    thread.start()
    kept: dict[int, np.ndarray] = {}
    try:
        for k, band in enumerate(bands):
            gate.set_idle(True)
            while not band.ready.wait(0.5):
                pass
            gate.set_idle(False)
            if errors:
                raise errors[0]
            nxt = bands[k + 1] if k + 1 < len(bands) else None
            keep_halo = nxt is not None and nxt.index == band.index + 1
            for i, blk in enumerate(band.blocks):
                arr = band.arrays[i]
                if i in kept:  # halo rows from the band above
                    halo = kept.pop(i)
                    arr[:, : halo.shape[1]] = halo  # pages counted when the band was read
                    del halo
                if blk.index in todo:
                    tic = time.perf_counter()
                    on_done(_analyse_block(arr, todo[blk.index], 0.0, tic))
                if keep_halo:  # set aside (see the gate)
                    kept[i] = np.ascontiguousarray(arr[:, arr.shape[1] - 2 * r :])
                band.arrays[i] = None
                gate.release(arr.nbytes)
                del arr
                _return_freed_memory()
    finally:
        gate.halt()
        thread.join()


# --------------------------------------------------------------------------- the three stages
@dataclass
class Prepared:
    """Everything :func:`execute` and :func:`finalize` need (made by :func:`prepare`)."""

    store: ResultStore
    lock: OutputLock
    series: Series
    source: Source | None
    params: dict  # ipcf keyword arguments of every block
    attrs: dict
    out_shape: tuple[int, int, int, int]
    limit: int
    scheduler: Any
    start: float
    plan: Plan | None = None
    done: set[int] = field(default_factory=set)
    todo: list[Block] = field(default_factory=list)
    client: Any = None
    own_client: bool = False
    fresh: bool = False  # this run created the work folder
    run_id: str = ""
    already: bool = False  # the output exists and is complete
    overwrite: bool = False
    budget: int = 0  # bytes for blocks (bands) besides what the program uses

    def close(self) -> None:
        """Release the output lock and a client this run connected."""
        if self.own_client and self.client is not None:
            try:
                self.client.close()
            except Exception:  # noqa: BLE001 - closing a dead connection
                pass
            self.client = None
        self.lock.release()


def prepare(source, output, *, radius: int = 6, npoints: int = 32, nbins: int = 32,
            pow2: bool = False, bleach_filter: int = 0, smooth: bool = True,
            device: str = "auto", memory_limit="4GB", scheduler=None, overwrite: bool = False,
            block_shape: tuple[int, int] | None = None, roi=None, frames=None) -> Prepared:
    """Stage 1: check everything, lock the output, choose the plan, open the work folder.

    ``source`` is a :class:`Source` or an array (T, H, W) (then ``roi`` and ``frames``
    select from it). Raises InputError for anything
    that would stop the run later (see :func:`run_blocked_ipcf`). The caller must call
    :meth:`Prepared.close`.
    """
    start = time.perf_counter()
    p = _check_params(radius=radius, npoints=npoints, nbins=nbins, pow2=pow2,
                      bleach_filter=bleach_filter, smooth=smooth, device=device)
    limit = parse_memory(memory_limit)
    store = ResultStore(output)
    store.check_writable()
    src = source if isinstance(source, Source) else None
    series = open_source(source) if src is not None else open_source(source, roi=roi,
                                                                      frames=frames)
    t0, h, w = series.shape
    nframes = t0 - 2 * p["bleach_filter"]
    if nframes < MIN_FRAMES:
        raise InputError(
            f"{t0} frames minus 2 x bleach filter {p['bleach_filter']} leaves {nframes}; at "
            f"least {MIN_FRAMES} are needed: use a smaller `bleach_filter` or more frames"
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
    lock = OutputLock(store.target)
    lock.acquire()
    prep = None
    try:
        prep = _prepare_locked(store, lock, series, src, source, p, nframes, bins, limit,
                               scheduler, overwrite, block_shape, start, circle)
        return prep
    finally:
        if prep is None:
            lock.release()


def _prepare_locked(store, lock, series, src, source, p, nframes, bins, limit, scheduler,
                    overwrite, block_shape, start, circle) -> Prepared:
    from dask.base import tokenize

    from pcfij import __version__
    from pcfij.io.fingerprint import describe_input_change, input_fingerprint

    t0, h, w = series.shape
    inp = input_fingerprint(series)
    identity = {
        "format": FORMAT,
        "radius": p["radius"], "npoints": p["npoints"], "nbins": p["nbins"], "pow2": p["pow2"],
        "bleach_filter": p["bleach_filter"], "smooth": p["smooth"],
        "source": src.path if src is not None else "array:" + tokenize(source),
        "dataset": series.info.get("dataset"),
        "source_shape": list(series.full_shape), "dtype": str(series.dtype),
        "roi": format_roi(series.roi), "frames": f"{series.frames.start}:{series.frames.stop}",
        "skipped_files": list(series.skipped),
        "input_files": inp["files_hash"], "input_sample": inp["sample_hash"],
    }
    fp = fingerprint(identity)
    out_shape = (h - 2 * p["radius"], w - 2 * p["radius"], p["npoints"], len(bins))
    attrs = dict(identity, fingerprint=fp, axes="YXPB", shape=list(out_shape),
                 bins=[int(b) for b in bins], circle=circle(p["radius"], p["npoints"]).tolist(),
                 frames_used=int(nframes),
                 origin=[series.roi[0].start + p["radius"], series.roi[1].start + p["radius"]],
                 source_kind=series.kind, device=p["device"], version=__version__)
    params = dict(radius=p["radius"], npoints=p["npoints"], nbins=p["nbins"], pow2=p["pow2"],
                  bleach_filter=p["bleach_filter"], smooth=p["smooth"], device=p["device"])
    prep = Prepared(store, lock, series, src, params, attrs, out_shape, limit, scheduler, start,
                    overwrite=overwrite)

    def differences(old_identity: dict) -> str:
        text = describe_differences({k: old_identity.get(k) for k in identity
                                     if k not in ("input_files", "input_sample")},
                                    {k: v for k, v in identity.items()
                                     if k not in ("input_files", "input_sample")})
        input_changed = any(old_identity.get(k) != identity[k]
                            for k in ("input_files", "input_sample"))
        if not input_changed:
            return text
        saved = store.saved_input() or {}
        what = describe_input_change(saved, inp) or "the input data changed"
        return what if text == "unknown differences" else f"{text}; {what}"

    # ---- an existing result?
    if store.target.exists() and not overwrite:
        old = read_result_attrs(store.target)
        if old is None:
            raise InputError(
                f"output {store.target} exists and is not a finished pcfij result; choose "
                "another `output` path or pass `overwrite=True`"
            )
        store.remove_stale_work(old.get("fingerprint"))
        if old.get("fingerprint") != fp:
            raise InputError(
                f"output {store.target} was made with other parameters or input: "
                f"{describe_differences({k: old.get(k) for k in identity}, identity)}; choose "
                "another `output` path or pass `overwrite=True` to replace it"
            )
        prep.plan = Plan.from_dict(old["plan"]) if "plan" in old else None
        prep.already = True
        return prep

    # ---- scheduler and memory budget
    if _is_distributed(scheduler):
        prep.client, prep.own_client = _client_for(scheduler)
    try:
        return _plan_and_open(prep, store, series, p, nframes, bins, identity, fp, inp,
                              overwrite, block_shape, differences)
    except BaseException:
        if prep.own_client and prep.client is not None:
            prep.client.close()
        raise


def _plan_and_open(prep, store, series, p, nframes, bins, identity, fp, inp, overwrite,
                   block_shape, differences) -> Prepared:
    limit = prep.limit
    limit_text = format_bytes(limit)
    banded = prep.client is None and row_reader(series) is not None
    if prep.client is not None:
        budget, _ = _worker_budget(prep.client, limit)
        baseline = WORKER_BASELINE
    else:
        _return_freed_memory(setup=True)
        _warm_up(series.dtype, prep.params)  # what the first block would add, counted now
        baseline = anonymous_rss() + RESERVE
        budget = limit - baseline
    prep.budget = budget
    budget = max(budget, 0)  # too small: the planner says how much the smallest block needs
    t0, h, w = series.shape
    plan_kw = dict(radius=p["radius"], frames=nframes, itemsize=series.dtype.itemsize,
                   npoints=p["npoints"], nbins=len(bins), bleach=p["bleach_filter"] > 0,
                   budget=budget, limit_text=limit_text, block_shape=block_shape)

    # ---- resume or start
    run = store.existing_run()
    if run is not None and (overwrite or run.get("fingerprint") != fp):
        if not overwrite:
            raise InputError(
                f"an unfinished run with other parameters or input is in {store.work} "
                f"({differences(run.get('identity', {}))}); run the same command on the same "
                "input to resume it, or pass `overwrite=True` to start over"
            )
        run = None
    if run is not None:
        plan = Plan.from_dict(run["plan"])
        if plan.bands and not banded:
            plan = Plan(**{**plan.to_dict(), "bands": 0})
        need = plan.block_bytes
        if need > budget and block_shape is None:
            raise InputError(
                f"the unfinished run in {store.work} uses blocks of {plan.by}x{plan.bx} "
                f"pixels needing about {format_bytes(need)}, more than the memory limit "
                f"{limit_text} allows; resume with `memory_limit` of at least "
                f"{suggest_limit(need + baseline)} or pass `overwrite=True` to start over with "
                "smaller blocks"
            )
        prep.done = store.done()
    else:
        reader = row_reader(series) if banded else None
        chunked = isinstance(reader, ChunkRows)
        plan = None
        if banded:
            try:
                plan = make_band_plan((t0, h, w), baseline=baseline, row_align=row_align(reader),
                                      read_frames=frame_step(reader),
                                      row_offset=series.roi[0].start, **plan_kw)
            except InputError:
                if not chunked:
                    raise
                # chunks too tall for bands in this limit (e.g. whole frames): blocks that
                # decode the chunks they overlap (chunks on block edges more than once)
                pass
            if chunked and plan is not None and block_shape is None:
                # bands cost a chunked input its carried rows and read buffers; where that
                # leaves only a smaller ipCF tile than blocks get, blocks are faster (the
                # tile's halo work outweighs decoding the chunks on block edges again:
                # challenge geometry, 4GB, tile 16 bands 3:05 vs tile 64 blocks 1:25 min,
                # the same bytes from disk)
                blocks = make_plan((t0, h, w), row_reads=False, baseline=baseline, **plan_kw)
                if blocks.tile > plan.tile:
                    plan = blocks
        if plan is None:
            plan = make_plan((t0, h, w), row_reads=False, baseline=baseline, **plan_kw)
        if block_shape is not None and plan.block_bytes > budget:
            raise InputError(
                f"memory limit {limit_text} is too small for blocks of "
                f"{plan.by}x{plan.bx} pixels (about {format_bytes(plan.block_bytes)})"
            )
        run = {"fingerprint": fp, "identity": identity, "plan": plan.to_dict(),
               "created": time.time()}
        _check_disk(store, prep.out_shape, plan.blocks(), set())
        store.create(run, prep.out_shape, (plan.by, plan.bx, *prep.out_shape[2:]),
                     dict(prep.attrs, plan=plan.to_dict()))
        store.save_input(inp)
        prep.fresh = True
    prep.plan = plan
    prep.attrs["plan"] = plan.to_dict()
    if plan.tile:  # the plan's ipcf tile (see pcfij.blocks.plan)
        prep.params["memory_budget"] = tile_budget(plan.tile, p["radius"], nframes)
    prep.todo = [b for b in plan.blocks() if b.index not in prep.done]
    _check_disk(store, prep.out_shape, prep.todo, prep.done)
    prep.run_id = f"{os.getpid()}-{int(time.time() * 1000)}"
    return prep


def execute(prep: Prepared, *, progress: bool = True) -> dict:
    """Stage 2: compute the blocks not yet recorded; return timing and byte counts."""
    store, plan, series = prep.store, prep.plan, prep.series
    todo = prep.todo
    blocks = plan.blocks()
    store.log(event="start", run=prep.run_id, todo=[b.index for b in todo],
              done=sorted(prep.done), scheduler=str(prep.scheduler or "threads"),
              memory_limit=prep.limit)
    source_key = ""
    src_spec = prep.source.to_dict() if prep.source is not None else None
    if prep.client is None:
        source_key = f"series:{id(series)}"
        with _CACHE_LOCK:
            _SERIES_CACHE[source_key] = series
    jobs = []
    for b in todo:
        job = {"block": b.__dict__, "params": prep.params, "source": src_spec,
               "source_key": source_key, "array_path": str(store.data_path / ARRAY),
               "done_dir": str(store.done_dir), "run_id": prep.run_id, "data": None}
        if prep.source is None and prep.client is not None:
            ys, xs = b.input_slices(prep.params["radius"])
            job["data"] = read_block(series, ys, xs)  # arrays in memory travel with jobs
        jobs.append(job)

    stats = {"read_seconds": 0.0, "compute_seconds": 0.0, "bytes_read": 0, "computed": []}
    bar = _progress_bar(progress, sum(b.pixels * prep.params["npoints"] for b in todo),
                        len(blocks), len(prep.done))

    def on_done(res: dict) -> None:
        stats["read_seconds"] += res["read_seconds"]
        stats["compute_seconds"] += res["compute_seconds"]
        if not plan.bands:
            stats["bytes_read"] += res["bytes_read"]
        stats["computed"].append(res["index"])
        store.log(event="block", run=prep.run_id, index=res["index"],
                  seconds=res["read_seconds"] + res["compute_seconds"])
        if bar is not None:
            bar.update(res["pairs"])
            bar.set_postfix_str(f"block {len(prep.done) + len(stats['computed'])}/{len(blocks)}")

    try:
        if todo:
            if prep.client is not None:
                _run_distributed(prep.client, jobs, on_done, prep.run_id)
            elif plan.bands:
                _run_bands(prep, jobs, on_done, stats)
            else:
                # two workers: one reads the next block while the other computes (the
                # kernel lock keeps one ipcf at a time; the plan budgets two inputs)
                _run_threads(jobs, on_done, 2 if len(jobs) > 1 else 1)
    except OSError as exc:
        raise write_error(exc, store.work) from exc
    except InputError as exc:
        if prep.fresh and not getattr(exc, "resumable", False):
            store.discard()  # bad input (e.g. NaN) refused: this run leaves nothing
        raise
    finally:
        if bar is not None:
            bar.close()
        with _CACHE_LOCK:
            _SERIES_CACHE.pop(source_key, None)
        store.log(event="stop", run=prep.run_id, computed=len(stats["computed"]))
    return stats


def finalize(prep: Prepared, stats: dict) -> dict:
    """Stage 3: check every block is recorded, mark complete, move the result into place."""
    store, plan = prep.store, prep.plan
    missing = {b.index for b in plan.blocks()} - store.done()
    if missing:  # pragma: no cover - defensive: every task records its block
        raise InputError(f"{len(missing)} blocks were not recorded; run the command again")
    attrs = dict(prep.attrs)
    attrs["skipped_files"] = list(prep.series.skipped) + _runtime_skipped(prep.series)
    attrs["seconds"] = time.perf_counter() - prep.start
    store.finalize(attrs, overwrite=prep.overwrite)
    return _summary(prep, stats)


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
) -> IPCFResult:
    """Compute the ipCF of a big image time series block by block, resumably.

    Parameters
    ----------
    source : Source, path or array-like
        A :class:`pcfij.io.source.Source`, or a TIFF folder, multi-page TIFF,
        ``.h5``/``.hdf5``, ``.zarr``, ``.npy``, raw ``.bin`` (with ``raw_shape``), or an array
        (T, H, W).
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
        Bound on this process's anonymous memory plus the input pages it keeps mapped
        (threaded scheduler), or on each worker process (distributed); blocks and bands
        are sized to fit (e.g. ``"4GB"``).
    scheduler : None, "threads", str or distributed.Client
        None/"threads": here; an address (``tcp://host:8786``) or a ``Client``: a
        dask.distributed cluster (this function uses its own connection to an address).
    overwrite : bool
        Replace an existing output / unfinished run made with other parameters or input.
    skip_bad : bool
        TIFF folders: interpolate bad or missing frames instead of stopping.
    progress : bool
        Show a progress bar with ETA on stderr.
    dataset : str, optional
        Dataset inside an HDF5/Zarr input.
    raw_shape, raw_dtype
        Frame size (H, W) and sample type of a raw binary input.
    block_shape : (by, bx), optional
        Force the output tile of a block (tuning, tests); normally chosen from the limit.

    Returns
    -------
    IPCFResult
        As from :func:`pcfij.pcf.ipcf` (bins, delays, circle, frames_used, params), with
        ``pcf`` the output's lazy Zarr array / HDF5 dataset, and ``stats`` (also read as
        ``res["key"]``): ``output``, ``shape``, ``blocks``, ``blocks_computed``,
        ``blocks_skipped``, ``computed_blocks`` (indices), ``block_shape``, ``bands``,
        ``pairs`` (pair correlations computed in this run), ``seconds``, ``read_seconds``,
        ``bytes_read``, ``skipped_files``, ``memory_limit``, ``scheduler``, ``complete``.

    Raises
    ------
    InputError
        Bad input (named), ROI outside the image, memory limit too small for one block,
        output not writable or locked by another run, disk full, an existing output or
        unfinished run made with other parameters or input.
    """
    if isinstance(source, (str, os.PathLike)):
        source = Source.of(source, dataset=dataset, roi=roi, frames=frames,
                           frame_size=raw_shape, dtype=raw_dtype, skip_bad=skip_bad)
    prep = prepare(source, output, radius=radius, npoints=npoints, nbins=nbins, pow2=pow2,
                   bleach_filter=bleach_filter, smooth=smooth, device=device,
                   memory_limit=memory_limit, scheduler=scheduler, overwrite=overwrite,
                   block_shape=block_shape, roi=roi, frames=frames)
    try:
        if prep.already:
            stats = _summary(prep, {}, already=True)
        else:
            stats = finalize(prep, execute(prep, progress=progress))
    finally:
        prep.close()
    return load_result(stats["output"], stats=stats)


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
            "choose another `output` path (or a smaller `roi`)"
        )


def _progress_bar(progress: bool, total_pairs: int, nblocks: int, ndone: int):
    if not progress or total_pairs == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total_pairs, unit="pair", unit_scale=True, smoothing=0.05,
                desc=f"ipCF {nblocks} blocks" + (f" ({ndone} done before)" if ndone else ""))


def _summary(prep: Prepared, stats: dict, already: bool = False) -> dict:
    plan, out_shape = prep.plan, prep.out_shape
    nblocks = len(plan.blocks()) if plan is not None else 0
    computed = sorted(stats.get("computed", []))
    pixels = {b.index: b.pixels for b in plan.blocks()} if plan is not None else {}
    pairs = sum(pixels.get(i, 0) for i in computed) * out_shape[2]
    scheduler = prep.scheduler
    return {
        "output": str(prep.store.target),
        "shape": tuple(int(s) for s in out_shape),
        "blocks": nblocks,
        "blocks_computed": len(computed),
        "blocks_skipped": nblocks - len(computed),
        "computed_blocks": computed,
        "block_shape": (plan.by, plan.bx) if plan is not None else None,
        "block_bytes": plan.block_bytes if plan is not None else None,
        "bands": bool(plan.bands) if plan is not None else False,
        "tile": plan.tile if plan is not None else None,
        "pairs": int(pairs),
        "seconds": time.perf_counter() - prep.start,
        "read_seconds": stats.get("read_seconds", 0.0),
        "compute_seconds": stats.get("compute_seconds", 0.0),
        "bytes_read": stats.get("bytes_read", 0),
        "skipped_files": list(prep.series.skipped) + _runtime_skipped(prep.series),
        "memory_limit": prep.limit,
        "scheduler": "threads" if not _is_distributed(scheduler) else str(
            getattr(scheduler, "scheduler", None) and scheduler.scheduler.address or scheduler),
        "complete": True,
        "already_complete": already,
    }


def load_result(path: str | os.PathLike, *, stats: dict | None = None) -> IPCFResult:
    """A finished blocked result as an :class:`~pcfij.pcf.IPCFResult` with a lazy array.

    ``pcf`` is the Zarr array / HDF5 dataset (nothing is loaded until indexed); bins, delays,
    circle, frames used and parameters come from the result's attributes. Raises InputError
    for unfinished or foreign outputs.
    """
    from pcfij.pcf import bin_delays

    array, attrs = open_result(path)
    bins = np.asarray(attrs["bins"], dtype=np.int64)
    params = {k: attrs[k] for k in ("radius", "npoints", "nbins", "pow2", "bleach_filter",
                                    "smooth", "device") if k in attrs}
    return IPCFResult(pcf=array, bins=bins, delays=bin_delays(bins),
                      circle=np.asarray(attrs["circle"], dtype=np.int64),
                      frames_used=int(attrs["frames_used"]), params=params,
                      stats=dict(stats) if stats else {})


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
