"""Compute back-ends: numba CPU kernels and CuPy GPU kernels behind one ``device=`` switch.

:func:`get_backend` is the entry point (:mod:`pcfij.kernels.backend`); ``resolve_device``
is kept for callers that still want a device name.
"""

from pcfij.kernels.backend import (
    DEVICES,
    Backend,
    MemoryInfo,
    cupy_or_none,
    get_backend,
    gpu_available,
    parse_device,
)
from pcfij.kernels.device import resolve_device

__all__ = [
    "DEVICES",
    "Backend",
    "MemoryInfo",
    "cupy_or_none",
    "get_backend",
    "gpu_available",
    "parse_device",
    "resolve_device",
]
