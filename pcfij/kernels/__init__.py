"""Compute back-ends: numba CPU kernels and CuPy GPU kernels behind one ``device=`` switch."""

from pcfij.kernels.device import cupy_or_none, gpu_available, resolve_device

__all__ = ["cupy_or_none", "gpu_available", "resolve_device"]
