"""Choosing between the CPU (numba) and GPU (CuPy) code paths."""

from __future__ import annotations

import functools
import os
import warnings
from types import ModuleType

from pcfij.errors import InputError

DEVICES = ("auto", "cpu", "gpu")


@functools.lru_cache(maxsize=1)
def cupy_or_none() -> ModuleType | None:
    """Return the ``cupy`` module if it imports and sees at least one CUDA device, else None.

    Setting the environment variable ``PCFIJ_NO_GPU=1`` hides the GPU (for testing the CPU
    fallback on a GPU machine).
    """
    if os.environ.get("PCFIJ_NO_GPU", "") not in ("", "0"):
        return None
    try:
        import cupy  # noqa: PLC0415

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
        return cupy
    except Exception:  # ImportError, CUDARuntimeError, missing driver ...
        return None


def gpu_available() -> bool:
    """True when CuPy is installed and a CUDA device is usable."""
    return cupy_or_none() is not None


def resolve_device(device: str | bool | None, *, warn_fallback: bool = True) -> str:
    """Turn a user's ``device`` choice into ``"cpu"`` or ``"gpu"``.

    Parameters
    ----------
    device : {"auto", "cpu", "gpu"} or bool or None
        ``"auto"``/None picks the GPU when available. ``True`` means ``"gpu"`` and ``False``
        ``"cpu"`` (algotom's ``gpu=`` flag).
    warn_fallback : bool
        When ``"gpu"`` is asked for but no GPU is usable, warn and fall back to the CPU
        (True, algotom's behaviour) or raise :class:`InputError` (False).

    Returns
    -------
    str
        ``"cpu"`` or ``"gpu"``.
    """
    if device is True:
        device = "gpu"
    elif device is False:
        device = "cpu"
    elif device is None:
        device = "auto"
    if not isinstance(device, str) or device.lower() not in DEVICES:
        raise InputError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    device = device.lower()
    if device == "cpu":
        return "cpu"
    if gpu_available():
        return "gpu"
    if device == "gpu":
        msg = "device='gpu' asked for, but CuPy or a CUDA GPU is not available"
        if not warn_fallback:
            raise InputError(msg + "; install pcfij[gpu] on a machine with an NVIDIA GPU")
        warnings.warn(msg + "; running on the CPU instead", RuntimeWarning, stacklevel=3)
    return "cpu"
