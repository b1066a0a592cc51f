"""Choosing between the CPU and GPU code paths: thin wrappers of :mod:`pcfij.kernels.backend`.

The one parser of ``device=`` choices is :func:`pcfij.kernels.backend.parse_device`; new code
asks :func:`pcfij.kernels.get_backend` for a back-end instead of a device name.
"""

from __future__ import annotations

from typing import Any

from pcfij.kernels.backend import DEVICES, cupy_or_none, gpu_available, resolve

__all__ = ["DEVICES", "cupy_or_none", "gpu_available", "resolve_device"]


def resolve_device(device: Any, *, warn_fallback: bool = True) -> str:
    """Turn a user's ``device`` choice into ``"cpu"`` or ``"gpu"``.

    Parameters
    ----------
    device : {"auto", "cpu", "gpu"} or bool or None
        ``"auto"``/None picks the GPU when available. ``True`` means ``"gpu"`` and ``False``
        ``"cpu"`` (algotom's ``gpu=`` flag).
    warn_fallback : bool
        When ``"gpu"`` is asked for but no GPU is usable, warn and fall back to the CPU
        (True, algotom's behaviour) or raise :class:`~pcfij.errors.InputError` (False).

    Returns
    -------
    str
        ``"cpu"`` or ``"gpu"``.
    """
    return resolve(device, fallback=warn_fallback)
