"""Resumable result store of the out-of-core ipCF.

While a run is unfinished everything lives in a work folder beside the output::

    result.zarr.partial/
        data.zarr/          Zarr (v2 format) group; array "pcf" (Y, X, points, bins), float32,
                            one chunk per block, NaN where not yet computed
        run.json            parameters, their fingerprint, the block plan
        done/000012         one marker per finished block (written after its data)
        log.jsonl           one line per run start/finish and per computed block

Only when every block is recorded is ``complete: true`` written into the group
attributes and ``data.zarr`` renamed to ``result.zarr`` (or copied into ``result.h5``), and
the work folder removed. So nothing that looks complete exists before the end, a crashed or
interrupted run leaves a work folder that the same command resumes, and a run with other
parameters is refused (or, with ``overwrite``, started from scratch).

Block markers are files created atomically (write, then rename), so they also work when
dask.distributed workers in other processes write blocks; every block writes whole Zarr
chunks of its own, so concurrent writers never touch the same file.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np

from pcfij.errors import InputError

FORMAT = "pcfij-ipcf-blocked/1"
ARRAY = "pcf"


def fingerprint(identity: dict) -> str:
    """Stable hash of what determines the result (parameters, source, ROI, frames)."""
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def describe_differences(old: dict, new: dict) -> str:
    keys = sorted(set(old) | set(new))
    diffs = [f"{k}={old.get(k)!r} (now {new.get(k)!r})" for k in keys if old.get(k) != new.get(k)]
    return ", ".join(diffs) or "unknown differences"


def output_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".zarr"):
        return "zarr"
    if name.endswith((".h5", ".hdf5")):
        return "hdf5"
    raise InputError(f"output {path} must end with .zarr, .h5 or .hdf5 for the blocked pipeline")


def read_result_attrs(path: Path) -> dict | None:
    """Return the pcfij attributes of a finished output (Zarr or HDF5), or None."""
    try:
        if output_format(path) == "zarr":
            import zarr

            return dict(zarr.open_group(str(path), mode="r").attrs).get("pcfij")
        import h5py

        with h5py.File(path, "r") as f:
            text = f[ARRAY].attrs.get("pcfij")
            return json.loads(text) if text is not None else None
    except Exception:  # noqa: BLE001 - anything unreadable is "not a pcfij result"
        return None


class ResultStore:
    """The work folder of one blocked run (see module docstring)."""

    def __init__(self, target: str | os.PathLike):
        self.target = Path(target).expanduser().absolute()
        self.format = output_format(self.target)
        self.work = self.target.with_name(self.target.name + ".partial")
        self.data_path = self.work / "data.zarr"
        self.done_dir = self.work / "done"
        self.run_file = self.work / "run.json"

    # ------------------------------------------------------------------ set-up
    def check_writable(self) -> None:
        parent = self.target.parent
        if not parent.is_dir():
            raise InputError(f"cannot write output {self.target}: folder {parent} does not exist")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise InputError(
                f"cannot write output {self.target}: folder {parent} is not writable; "
                "choose another -o path"
            )

    def existing_run(self) -> dict | None:
        try:
            return json.loads(self.run_file.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"fingerprint": "unreadable", "identity": {}}

    def create(self, run: dict, shape: tuple[int, ...], chunks: tuple[int, ...],
               attrs: dict) -> None:
        """Start a fresh work folder (removing a stale one)."""
        import zarr

        if self.work.exists():
            shutil.rmtree(self.work)
        try:
            self.done_dir.mkdir(parents=True)
            group = zarr.open_group(str(self.data_path), mode="w", zarr_format=2)
            group.create_array(ARRAY, shape=shape, chunks=chunks, dtype="float32",
                               fill_value=np.nan, compressors=None)
            group.attrs["pcfij"] = dict(attrs, complete=False)
            _atomic_write(self.run_file, json.dumps(run, indent=1, default=str))
        except OSError as exc:
            raise write_error(exc, self.work) from exc

    def save_input(self, fp: dict) -> None:
        """Record the input's fingerprint (per-file stamps, sample hash) in the work folder."""
        try:
            _atomic_write(self.work / "input.json", json.dumps(fp))
        except OSError as exc:
            raise write_error(exc, self.work) from exc

    def saved_input(self) -> dict | None:
        try:
            return json.loads((self.work / "input.json").read_text())
        except (OSError, ValueError):
            return None

    def remove_stale_work(self, finished_fingerprint: str | None) -> bool:
        """Remove a work folder left beside a finished output (a kill after the final
        rename, or a run of the same result): True if removed."""
        if not self.work.exists():
            return False
        run = self.existing_run()
        stale = (not self.data_path.exists() or run is None
                 or run.get("fingerprint") == finished_fingerprint)
        if stale:
            shutil.rmtree(self.work, ignore_errors=True)
        return stale

    def discard(self) -> None:
        """Remove the work folder (a run refused before any block was finished)."""
        shutil.rmtree(self.work, ignore_errors=True)

    def done(self) -> set[int]:
        try:
            return {int(p.name) for p in self.done_dir.iterdir() if p.name.isdigit()}
        except FileNotFoundError:
            return set()

    def log(self, **event) -> None:
        event.setdefault("time", time.time())
        try:
            with open(self.work / "log.jsonl", "a") as fh:
                fh.write(json.dumps(event, default=str) + "\n")
        except OSError:
            pass

    # ------------------------------------------------------------------ finish
    def finalize(self, attrs: dict, *, overwrite: bool) -> None:
        """Mark complete and move the result into place (the very last step)."""
        import zarr

        try:
            group = zarr.open_group(str(self.data_path), mode="r+")
            group.attrs["pcfij"] = dict(attrs, complete=True)
            if self.format == "zarr":
                _replace(self.data_path, self.target, overwrite=overwrite)
            else:
                tmp = self.work / "result.h5"
                write_hdf5(group[ARRAY], tmp, dict(attrs, complete=True))
                _replace(tmp, self.target, overwrite=overwrite)
        except OSError as exc:
            raise write_error(exc, self.work) from exc
        shutil.rmtree(self.work, ignore_errors=True)


class OutputLock:
    """One writer per output: an exclusive ``flock`` on ``.NAME.lock`` beside the output.

    The kernel drops the lock when the process ends, however it ends, so a killed run never
    blocks the next one; the lock file is removed when the lock is released.
    """

    def __init__(self, target: Path):
        self.target = Path(target)
        self.path = self.target.with_name(f".{self.target.name}.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        for _ in range(100):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise write_error(exc, self.target.parent) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    other = os.pread(fd, 200, 0).decode(errors="replace").strip()
                finally:
                    os.close(fd)
                raise InputError(
                    f"another pcfij run ({other or 'unknown process'}) is writing "
                    f"{self.target}; wait for it to finish or choose another `output` path"
                ) from None
            try:  # the file may have been removed by the previous holder meanwhile
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
                self._fd = fd
                return
            os.close(fd)
        raise InputError(f"cannot lock {self.path}; try again")  # pragma: no cover

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def write_hdf5(array, path: Path, attrs: dict) -> None:
    """Copy a (Y, X, points, bins) Zarr array into an HDF5 file, slab by slab."""
    import h5py

    h, w, p, b = array.shape
    cy, cx = array.chunks[:2]
    with h5py.File(path, "w") as f:
        ds = f.create_dataset(ARRAY, shape=array.shape, dtype="float32",
                              chunks=(min(cy, 32, h), min(cx, 32, w), p, b))
        for y0 in range(0, h, cy):
            ds[y0 : y0 + cy] = array[y0 : y0 + cy]
        ds.attrs["pcfij"] = json.dumps(attrs, default=str)
        ds.attrs["axes"] = "YXPB"
        f.attrs["pcfij_complete"] = True


def mark_done(done_dir: Path, index: int, info: dict) -> None:
    _atomic_write(done_dir / f"{index:06d}", json.dumps(dict(info, host=socket.gethostname(),
                                                            pid=os.getpid())))


def write_error(exc: OSError, where: Path) -> InputError:
    """Turn an OSError while writing into a clear, actionable message.

    The error has ``resumable = True``: the finished blocks stay for the rerun.
    """
    err = _write_error(exc, where)
    err.resumable = True
    return err


def _write_error(exc: OSError, where: Path) -> InputError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return InputError(
            f"disk full while writing the result in {where} ({exc.strerror or exc}); free some "
            "space and run the same command again: finished blocks are kept and only the "
            "remaining ones are computed"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return InputError(
            f"cannot write the result in {where}: {exc.strerror or exc}; finished blocks are "
            "kept: make the folder writable again and run the same command to compute only "
            "the remaining blocks (or choose another `output` path to start anew)")
    return InputError(f"writing the result in {where} failed: {exc}")


def _atomic_write(path: Path, text: str) -> None:
    """Write a small text file via a temporary name (no temporary left on failure; OS
    errors propagate for :func:`write_error`, which knows the work folder's rules)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _replace(src: Path, target: Path, *, overwrite: bool) -> None:
    if target.exists() or target.is_symlink():
        if not overwrite:
            raise InputError(f"output {target} appeared during the run; pass `overwrite=True`")
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(src, target)
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
    else:
        os.replace(src, target)
