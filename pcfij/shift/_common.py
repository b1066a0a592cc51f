"""Argument checks, device choice, chunking and array helpers shared by :mod:`pcfij.shift`."""

from __future__ import annotations

import warnings
from types import ModuleType

import numpy as np

from pcfij.errors import InputError, InputTypeError
from pcfij.kernels import get_backend, gpu_available
from pcfij.kernels import shift_cpu as cpu
from pcfij.kernels.backend import resolve

METHODS = {"diff": cpu.DIFF, "poly_fit": cpu.POLY}


def method_code(method: str) -> int:
    """The kernel code of a sub-pixel method name."""
    try:
        return METHODS[str(method)]
    except KeyError:
        raise InputError(f"method must be 'diff' or 'poly_fit'; got {method!r}") from None


def peak_window(code: int, size) -> int:
    """The sub-pixel window for method ``code`` and the user's ``size`` (checked)."""
    try:
        n = int(size)
    except (TypeError, ValueError):
        raise InputError(f"size must be a whole number; got {size!r}") from None
    if n < 1:
        raise InputError(f"size must be at least 1; got {size!r}")
    return cpu.peak_size(code, n)


def check_ncore(ncore) -> int | None:
    """``ncore`` as an int >= 1, or None (all cores)."""
    if ncore is None:
        return None
    try:
        n = int(ncore)
    except (TypeError, ValueError):
        raise InputError(f"ncore must be a whole number or None; got {ncore!r}") from None
    if n < 1:
        raise InputError(f"ncore must be at least 1; got {ncore!r}")
    return n


def check_dim(dim) -> int:
    if dim not in (1, 2):
        raise InputError(f"dim must be 1 or 2; got {dim!r}")
    return int(dim)


def odd_win(win_size) -> int:
    """``win_size`` rounded up to an odd number (algotom's rule: 2 * (w // 2) + 1)."""
    try:
        w = int(win_size)
    except (TypeError, ValueError):
        raise InputError(f"win_size must be a whole number; got {win_size!r}") from None
    if w < 1:
        raise InputError(f"win_size must be at least 1; got {win_size!r}")
    return 2 * (w // 2) + 1


def check_margin(margin) -> int:
    try:
        m = int(margin)
    except (TypeError, ValueError):
        raise InputError(f"margin must be a whole number; got {margin!r}") from None
    if m < 0 or m != margin:
        raise InputError(f"margin must be a whole number >= 0; got {margin!r}")
    return m


def check_window_fits(height: int, width: int, win: int, margin: int) -> None:
    """Refuse images too small for one ``win`` window plus the search ``margin`` around it.

    The message names the largest margin that fits with this ``win`` (or the largest
    ``win_size`` when no margin fits).
    """
    need = win + 2 * margin
    if height < need or width < need:
        small = min(height, width)
        best = (small - win) // 2
        fix = (f"the largest margin that fits with win_size {win} is {best}" if best >= 0 else
               f"win_size must be at most {small if small % 2 else small - 1} for these images")
        raise InputError(
            f"the images ({height} x {width}) are smaller than win_size + 2 * margin = "
            f"{need} (margin {margin}); {fix}: use a smaller win_size or margin")


def device_mode(gpu, *, hybrid: bool = False, device=None) -> str:
    """``"cpu"``, ``"gpu"`` or ``"hybrid"`` for algotom's ``gpu`` or pcfij's ``device``.

    ``device`` (``"auto" | "cpu" | "gpu"``, None = use ``gpu``) follows the rule of
    :func:`pcfij.kernels.get_backend` shared with ipCF and CCC: ``"gpu"`` without a usable
    GPU raises :class:`~pcfij.errors.InputError`, ``"auto"`` falls back to the CPU silently.
    ``gpu`` is algotom's flag: ``True``/``"gpu"`` without a usable GPU warns and runs on the
    CPU (as algotom does); ``"hybrid"`` without a GPU also warns and runs on the CPU (algotom
    crashes there). Giving both, ``device`` decides.
    """
    if device is not None:
        return resolve(device)
    if isinstance(gpu, str) and gpu.strip().lower() == "hybrid":
        if not hybrid:
            raise InputError("gpu='hybrid' is only available in find_local_shifts")
        if gpu_available():
            return "hybrid"
        warnings.warn(
            "gpu='hybrid' asked for, but CuPy or a CUDA GPU is not available; "
            "running on the CPU instead", RuntimeWarning, stacklevel=3)
        return "cpu"
    return resolve(gpu, fallback=True)


def xp_for(mode: str) -> ModuleType:
    """The array module of a mode from :func:`device_mode` (NumPy, or CuPy via the kernels'
    GPU back-end)."""
    return np if mode == "cpu" else get_backend("gpu").xp


def check_array(a, name: str, ndims=(2, 3)):
    """Check that ``a`` looks like an array (NumPy, HDF5/Zarr dataset, memmap) of numbers."""
    shape = getattr(a, "shape", None)
    if shape is None:
        try:
            a = np.asarray(a)
        except Exception:  # pragma: no cover - exotic input
            raise InputTypeError(f"{name} must be an array; got {type(a).__name__}") from None
        shape = a.shape
    dtype = getattr(a, "dtype", None)
    if dtype is not None and np.dtype(dtype).kind not in "biuf":
        raise InputTypeError(f"{name} must hold numbers; got dtype {dtype}")
    if len(shape) not in ndims:
        want = " or ".join(f"{d}D" for d in ndims)
        raise InputError(f"{name} must be a {want} array; got shape {tuple(shape)}")
    return a


def same_shape(ref, mat) -> None:
    if tuple(ref.shape) != tuple(mat.shape):
        raise InputError(
            f"ref_mat and mat must have the same shape; got {tuple(ref.shape)} and "
            f"{tuple(mat.shape)}")


def check_finite(a: np.ndarray, name: str) -> np.ndarray:
    """Refuse NaN or infinite values in a float array; return ``a`` unchanged.

    A correlation with a NaN pixel is NaN, and the peak of a map holding NaNs is wherever
    the scan starts (a shift of -margin, -margin): shift finding has no right answer to give.
    """
    if a.dtype.kind in "fc":
        bad = ~np.isfinite(a)
        if bad.any():
            n = int(np.count_nonzero(bad))
            what = "is entirely NaN or infinite" if n == a.size else (
                f"contains {n} NaN or infinite pixel value{'s' if n > 1 else ''}")
            raise InputError(
                f"{name} {what}; shift finding needs finite pixel values: replace them "
                "(e.g. by the image mean) or crop them away first")
    return a


def as_f64(a, name: str = "the image") -> np.ndarray:
    """Read (a chunk of) an array into a C-contiguous float64 NumPy array of finite values.

    Raises
    ------
    InputError
        If the values include NaN or infinity (``name`` says which input).
    """
    out = np.ascontiguousarray(np.asarray(a[...] if not isinstance(a, np.ndarray) else a,
                                          dtype=np.float64))
    return check_finite(out, name)


def standardize(a: np.ndarray) -> np.ndarray:
    """(a - mean) / std (in place when possible); constant arrays become zeros.

    Pearson coefficients of windows inside ``a`` are unchanged; this only conditions the
    numbers for the running-sum kernels.
    """
    a = a - a.mean()
    sd = float(np.sqrt(np.mean(a * a)))
    if sd > 0:
        a /= sd
    return a


def chunk_count(height: int, chunk_size) -> int:
    """algotom's number of chunks: ``height // chunk_size + 1`` (one when None)."""
    if chunk_size is None:
        return 1
    try:
        c = int(chunk_size)
    except (TypeError, ValueError):
        raise InputError(f"chunk_size must be a whole number or None; got {chunk_size!r}") \
            from None
    c = int(np.clip(c, 1, max(height, 1)))
    return int(np.clip(height // c + 1, 1, max(height, 1)))


def split_rows(start: int, stop: int, nchunk: int) -> list[tuple[int, int]]:
    """Near-equal (begin, end) row ranges covering start..stop (empty ones dropped)."""
    parts = np.array_split(np.arange(start, stop), max(nchunk, 1))
    return [(int(p[0]), int(p[-1]) + 1) for p in parts if p.size]


def safe_sums(s: np.ndarray) -> np.ndarray:
    """Sums used as divisors: zeros replaced by 1 (algotom would produce inf/NaN there)."""
    return np.where(s == 0, 1.0, s)


def global_stats(a, nchunk_rows: int = 64) -> tuple[float, float, float]:
    """(mean, std, min) of a 3D array or dataset, read in row chunks (float64 sums)."""
    depth, height, width = a.shape
    n = 0
    s = 0.0
    mn = np.inf
    for b in range(0, height, nchunk_rows):
        c = np.asarray(a[:, b:b + nchunk_rows, :], dtype=np.float64)
        s += float(c.sum())
        n += c.size
        mn = min(mn, float(c.min()))
    mean = s / n
    q = 0.0
    for b in range(0, height, nchunk_rows):
        c = np.asarray(a[:, b:b + nchunk_rows, :], dtype=np.float64) - mean
        q += float((c * c).sum())
    return mean, float(np.sqrt(q / n)), mn
