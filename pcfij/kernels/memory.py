"""Giving freed host memory back to the operating system (glibc's ``malloc_trim``)."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys


def _load_malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


_MALLOC_TRIM = _load_malloc_trim()


def release_free_memory() -> None:
    """Give memory freed by NumPy back to the operating system (glibc only; else no-op).

    glibc raises its mmap threshold after large arrays are freed, so later medium-size
    arrays (FFT slabs, lookup tables) come from the heap, whose freed pages stay in the
    process (resident) until ``malloc_trim``. Called between the stages of a CCC analysis so
    that the memory freed by one stage is not counted twice at the next stage's peak.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
