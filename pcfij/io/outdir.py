"""Output directories that only look complete when they are complete.

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
from collections.abc import Iterator
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
