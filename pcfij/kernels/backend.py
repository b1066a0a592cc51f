"""One compute back-end interface for every engine: the CPU (NumPy/SciPy/numba) or the GPU (CuPy).

``device`` choices are parsed here and nowhere else:

* :func:`parse_device` checks a user's ``device`` (``"auto" | "cpu" | "gpu"``, any case; or
  algotom's ``gpu=True/False``; ``None`` = ``"auto"``) and returns the normalised choice;
* :func:`get_backend` turns the choice into a :class:`Backend`: ``"auto"`` picks the GPU when
  CuPy sees a CUDA device and silently falls back to the CPU otherwise; ``"cpu"`` is always
  there; ``"gpu"`` without a usable GPU raises :class:`~pcfij.errors.InputError` (or, with
  ``fallback=True`` -- algotom's ``gpu=True`` -- warns and returns the CPU back-end).

CuPy is imported lazily (:func:`cupy_or_none`), only when a GPU is looked for.
Setting the environment variable ``PCFIJ_NO_GPU=1`` hides the GPU (to test the CPU fallback
on a GPU machine).
"""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from pcfij.errors import InputError

DEVICES = ("auto", "cpu", "gpu")


@functools.lru_cache(maxsize=1)
def cupy_or_none() -> ModuleType | None:
    """Return the ``cupy`` module if it imports and sees at least one CUDA device, else None."""
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


def parse_device(device: Any) -> str:
    """Check a user's ``device`` choice and return ``"auto"``, ``"cpu"`` or ``"gpu"``.

    Parameters
    ----------
    device : {"auto", "cpu", "gpu"} (any case), bool or None
        ``True``/``False`` are algotom's ``gpu=`` flag (``"gpu"``/``"cpu"``); None is
        ``"auto"``.

    Raises
    ------
    InputError
        Anything else, naming the accepted values.
    """
    if device is None:
        return "auto"
    if isinstance(device, (bool, np.bool_)):
        return "gpu" if device else "cpu"
    if isinstance(device, str) and device.strip().lower() in DEVICES:
        return device.strip().lower()
    raise InputError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")


def resolve(device: Any, *, fallback: bool = False) -> str:
    """Return where ``device`` runs: ``"cpu"`` or ``"gpu"`` (see :func:`get_backend`)."""
    choice = parse_device(device)
    if choice == "cpu":
        return "cpu"
    if gpu_available():
        return "gpu"
    if choice == "gpu":
        msg = "device='gpu' asked for, but CuPy or a CUDA GPU is not available"
        if not fallback:
            raise InputError(
                msg + "; install pcfij[gpu] on a machine with an NVIDIA GPU, or use "
                "device='cpu' (or 'auto')"
            )
        warnings.warn(msg + "; running on the CPU instead", RuntimeWarning, stacklevel=3)
    return "cpu"


@dataclass(frozen=True)
class MemoryInfo:
    """Memory of a back-end's device, in bytes.

    Attributes
    ----------
    free : int
        Bytes that can be allocated now (GPU: the driver's free memory plus blocks held
        free in CuPy's pool; CPU: the operating system's available memory).
    total : int
        Bytes of the device (GPU memory, or the machine's RAM).
    """

    free: int
    total: int


class Backend:
    """Array and FFT operations of one device.

    Attributes
    ----------
    name : str
        ``"cpu"`` or ``"gpu"``.
    xp : module
        The array module (``numpy`` or ``cupy``).
    fft : module
        The SciPy-style FFT module (``scipy.fft`` or ``cupyx.scipy.fft``).
    """

    name: str = ""
    xp: ModuleType
    fft: ModuleType
    #: extra keyword arguments of every FFT call (the CPU's ``workers``)
    _fft_kw: dict = {}

    @property
    def is_gpu(self) -> bool:
        """True for the GPU back-end."""
        return self.name == "gpu"

    def asarray(self, host, dtype=None):
        """The array ``host`` on this device (no copy when it already is one)."""
        return self.xp.asarray(host, dtype=dtype)

    def to_host(self, arr) -> np.ndarray:
        """A NumPy array with the values of ``arr`` (no copy on the CPU)."""
        return np.asarray(arr)

    # -- FFTs along the last axis / given axes, in the input's precision
    def rfft(self, x, n: int | None = None, axis: int = -1):
        """Real FFT of ``x`` (float32 in, complex64 out) along ``axis``."""
        return self.fft.rfft(x, n=n, axis=axis, **self._fft_kw)

    def irfft(self, x, n: int | None = None, axis: int = -1):
        """Inverse real FFT of ``x`` along ``axis`` (output length ``n``)."""
        return self.fft.irfft(x, n=n, axis=axis, **self._fft_kw)

    def fftn(self, x, axes):
        """Complex FFT over ``axes``; ``x`` may be overwritten."""
        return self.fft.fftn(x, axes=axes, overwrite_x=True, **self._fft_kw)

    def ifftn(self, x, axes):
        """Inverse complex FFT over ``axes``; ``x`` may be overwritten."""
        return self.fft.ifftn(x, axes=axes, overwrite_x=True, **self._fft_kw)

    def memory(self) -> MemoryInfo:
        """Free and total memory of the device (bytes)."""
        raise NotImplementedError

    def release(self) -> None:
        """Give memory freed by the computation back (GPU pool blocks; host heap pages)."""
        raise NotImplementedError

    def synchronize(self) -> None:
        """Wait for queued device work (for timings); a no-op on the CPU."""

    def __repr__(self) -> str:
        return f"<pcfij Backend {self.name}>"


class CpuBackend(Backend):
    """NumPy arrays, ``scipy.fft`` on ``workers`` threads (-1: all cores)."""

    name = "cpu"
    xp = np

    def __init__(self, workers: int = -1) -> None:
        import scipy.fft  # noqa: PLC0415

        self.fft = scipy.fft
        self.workers = workers
        self._fft_kw = {"workers": workers}

    def memory(self) -> MemoryInfo:
        import psutil  # noqa: PLC0415

        vm = psutil.virtual_memory()
        return MemoryInfo(int(vm.available), int(vm.total))

    def release(self) -> None:
        from pcfij.kernels.memory import release_free_memory  # noqa: PLC0415

        release_free_memory()


class GpuBackend(Backend):
    """CuPy arrays and cuFFT on the current CUDA device.

    Parameters
    ----------
    xp : module, optional
        The array module; default CuPy. Tests pass ``numpy`` to run the GPU code paths on
        machines without a GPU (then ``fft`` is ``scipy.fft``).
    """

    name = "gpu"

    def __init__(self, xp: ModuleType | None = None) -> None:
        if xp is None:
            xp = cupy_or_none()
            if xp is None:
                raise InputError("CuPy with a CUDA device is not available")
        self.xp = xp
        if xp is np:
            import scipy.fft as fft  # noqa: PLC0415
        else:  # pragma: no cover - needs a GPU
            import cupyx.scipy.fft as fft  # noqa: PLC0415
        self.fft = fft

    def to_host(self, arr) -> np.ndarray:
        if isinstance(arr, np.ndarray):
            return arr
        return arr.get()

    def memory(self) -> MemoryInfo:
        if self.xp is np:
            return CpuBackend.memory(self)
        free, total = self.xp.cuda.runtime.memGetInfo()  # pragma: no cover - needs a GPU
        pooled = self.xp.get_default_memory_pool().free_bytes()  # pragma: no cover
        return MemoryInfo(int(free + pooled), int(total))  # pragma: no cover

    def release(self) -> None:
        if self.xp is np:
            return
        self.xp.get_default_memory_pool().free_all_blocks()  # pragma: no cover - needs a GPU
        self.xp.get_default_pinned_memory_pool().free_all_blocks()  # pragma: no cover

    def synchronize(self) -> None:
        if self.xp is not np:  # pragma: no cover - needs a GPU
            self.xp.cuda.get_current_stream().synchronize()


def get_backend(device: Any = "auto", *, fallback: bool = False) -> Backend:
    """Return the back-end for a user's ``device`` choice.

    Parameters
    ----------
    device : {"auto", "cpu", "gpu"}, bool or None
        See :func:`parse_device`. ``"auto"``: the GPU when usable, else the CPU (silently).
    fallback : bool
        What ``"gpu"`` does without a usable GPU: raise :class:`InputError` (False) or warn
        and use the CPU (True; algotom's ``gpu=True`` behaviour).

    Returns
    -------
    Backend
        A :class:`CpuBackend` or :class:`GpuBackend`.
    """
    if resolve(device, fallback=fallback) == "gpu":
        return GpuBackend()
    return CpuBackend()
