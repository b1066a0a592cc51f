"""Output folders and files that only look complete when they are complete.

Results are written into a hidden staging folder beside the target and renamed into place
at the very end; on any error the staging folder is removed, so no half-written output is
left that looks like a finished one. An existing non-empty target is refused unless
``overwrite`` is set (then it is replaced only after the new output is complete).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from pcfij.errors import InputError


def check_writable_target(path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Check that ``path`` may be (re)created; return it as an absolute Path."""
    target = Path(path).expanduser().absolute()
    if target.exists() and not target.is_dir():
        raise InputError(f"output {target} exists and is not a folder; choose another -o path")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise InputError(
            f"output folder {target} already exists and is not empty; "
            "choose another -o path or pass --overwrite"
        )
    parent = target.parent
    if not parent.is_dir():
        raise InputError(f"cannot write output: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write output: folder {parent} is not writable")
    return target


def check_writable_file(path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Check that the file ``path`` may be (re)created; return it as an absolute Path.

    Raises
    ------
    InputError
        ``path`` is a folder, exists without ``overwrite``, or its folder is missing or
        not writable.
    """
    p = Path(path).expanduser().absolute()
    if p.is_dir():
        raise InputError(f"output {p} is a folder; give a file name")
    if p.exists() and not overwrite:
        raise InputError(f"output {p} already exists; choose another name or pass --overwrite")
    if not p.parent.is_dir():
        raise InputError(f"cannot write {p}: folder {p.parent} does not exist")
    if not os.access(p.parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {p}: folder {p.parent} is not writable")
    return p


@contextlib.contextmanager
def staged_output_dir(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a staging folder; on success rename it to ``path``, on failure delete it.

    Examples
    --------
    >>> with staged_output_dir("results") as out:          # doctest: +SKIP
    ...     numpy.save(out / "pcf.npy", result)
    """
    target = check_writable_target(path, overwrite=overwrite)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
        stage.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        stage.rename(target)
    os.chmod(target, 0o777 & ~_umask())


def write_file_atomic(path: str | os.PathLike, writer: Callable[[Path], None]) -> None:
    """Write one file via a hidden temporary file in its folder, renamed into place at the end.

    Parameters
    ----------
    path : path
        The file to (re)create; its folder must exist. An existing file is replaced only
        when the new one is complete (check ``--overwrite`` before calling).
    writer : callable
        ``writer(tmp_path)`` writes the content; ``tmp_path`` has the same suffix as
        ``path`` (format-by-suffix writers such as ``savefig`` keep working).

    Raises
    ------
    InputError
        The folder is not writable or the disk is full (OS errors while writing); nothing
        is left behind. Other exceptions from ``writer`` propagate, also without leftovers.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.partial-", suffix=path.suffix,
                                   dir=path.parent)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        writer(tmp_path)
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException as exc:
        tmp_path.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None:  # disk full, quota, ...
            raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
