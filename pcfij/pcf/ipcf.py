"""Fast image pair correlation function (ipCF) of a whole image time series.

Semantics (the tutorial's ``run_ipcf(ipcf_reference, ...)``): for every centre pixel
``(y, x)`` at least ``radius`` pixels from the border and every circle point ``i`` with
offset ``(u, v)``, the curve ``smooth(average(correlate(neighbour, centre), bins))`` with
``neighbour = data[:, y + v, x + u]``, ``centre = data[:, y, x]`` and
``bins = logbins(T // 2, nbins)``.

Algorithm (see :mod:`pcfij.kernels.pcf_plan`): float32 real FFTs of the mean-subtracted
traces, computed once per pixel; per pixel pair one cross spectrum whose bin averages
come from a matrix product with precomputed weights (no inverse FFT), which also yields the
reverse pair exactly; normalisation by the two means; the tutorial's smoothing.

Images are processed in square tiles of result pixels (:func:`ipcf_tile_size`, with a halo
of ``radius``) laid on a fixed grid from the result's origin. Each tile's numbers depend only
on its own pixels, so any computation that uses the same grid -- such as the out-of-core
pipeline, whose blocks are whole multiples of the tile -- gives bit-identical results.

Zero-mean pixels: a pair whose centre or neighbour trace has mean 0 has no defined
normalised correlation; its curve is NaN and one warning names how many centre pixels
are affected.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import numpy as np

from pcfij.errors import InputError, InputTypeError
from pcfij.kernels import get_backend, pcf_cpu, pcf_gpu
from pcfij.kernels.pcf_plan import bin_weights, offset_classes
from pcfij.params import check_values
from pcfij.pcf.basics import bin_delays, circle, logbins, pow2_frames
from pcfij.pcf.bleach import correct_bleaching
from pcfij.pcf.parameters import PCF_PARAMS
from pcfij.pcf.result import IPCFResult

MIN_FRAMES = 32
DEFAULT_MEMORY_BUDGET = int(os.environ.get("PCFIJ_MEMORY_BUDGET", 1 << 30))


def ipcf_tile_size(ntimes: int, radius: int, memory_budget: int | None = None) -> int:
    """Side (result pixels) of the square tiles :func:`ipcf` computes at a time.

    The largest power of two <= 64 whose tile, halo included, keeps its float32 traces and
    complex64 spectra within ``memory_budget`` bytes (default 1 GiB; at least 4).
    """
    budget = memory_budget or DEFAULT_MEMORY_BUDGET
    per_pixel = ntimes * 4 + (ntimes // 2 + 1) * 8
    tile = 64
    while tile > 4 and (tile + 2 * radius) ** 2 * per_pixel > budget:
        tile //= 2
    return tile


def ipcf_bins(ntimes: int, nbins: int = 32) -> np.ndarray:
    """Return the delay bins :func:`ipcf` uses for ``ntimes`` analysed frames."""
    return logbins(max(ntimes // 2, 1), nbins)


def frames_used(ntimes: int, bleach_filter: int = 0, pow2: bool = False) -> int:
    """Frames per trace that :func:`ipcf` analyses from ``ntimes`` input frames.

    The bleaching correction drops ``2 * bleach_filter`` frames; ``pow2`` then keeps the
    largest power of two of what is left (:func:`pcfij.pcf.pow2_frames`). A count below 1
    (too few frames; :func:`ipcf` refuses those) is returned as it is.
    """
    n = int(ntimes) - 2 * int(bleach_filter)
    return pow2_frames(n) if pow2 and n >= 1 else n


def ipcf(
    data: np.ndarray,
    radius: int = 6,
    npoints: int = 32,
    nbins: int = 32,
    *,
    pow2: bool = False,
    bleach_filter: int = 0,
    mask: np.ndarray | None = None,
    smooth: bool = True,
    device: str = "auto",
    progress: bool | Callable[[int], None] = False,
    memory_budget: int | None = None,
) -> IPCFResult:
    """Return the image pair correlation function of an image time series.

    Parameters
    ----------
    data : array_like, shape (T, H, W)
        Image time series (any real numeric type; uint16 as from a camera).
    radius : int
        Distance of the neighbours in pixels.
    npoints : int
        Number of points on the circle (:func:`pcfij.pcf.circle`).
    nbins : int
        Maximum number of logarithmic delay bins (:func:`pcfij.pcf.logbins`).
    pow2 : bool
        Truncate the (bleach-corrected) time axis to its first ``2**k`` frames like the
        tutorial's ``run_ipcf``; otherwise all frames are used.
    bleach_filter : int
        If > 0, first apply :func:`pcfij.pcf.correct_bleaching` with this filter size in
        frames (drops ``2 * bleach_filter`` frames).
    mask : array_like of bool, shape (H, W), optional
        Centre pixels to analyse; curves of other pixels are NaN.
    smooth : bool
        Apply the tutorial's smoothing (bin 0 replaced by bin 1).
    device : {"auto", "cpu", "gpu"}
        ``"cpu"``: numba + BLAS on all cores; ``"gpu"``: CuPy (:class:`InputError` when no
        GPU is usable); ``"auto"``: the GPU when usable, else the CPU
        (:func:`pcfij.kernels.get_backend`).
    progress : bool or callable
        Show a tqdm progress bar (True) or call ``progress(n)`` with the number of pair
        correlations finished since the last call.
    memory_budget : int, optional
        Bytes for the traces and spectra of one tile (default 1 GiB, or
        ``PCFIJ_MEMORY_BUDGET``); see :func:`ipcf_tile_size`.

    Returns
    -------
    IPCFResult
        ``pcf``: float32, shape (H - 2 * radius, W - 2 * radius, npoints, nbins_effective)
        with ``nbins_effective = len(logbins(T_used // 2, nbins))``; with its ``bins``,
        ``delays``, ``circle``, ``frames_used`` and ``params``. It works as that array
        (``np.asarray(result)``, ``result.shape``, ``result[y, x]``).

    Raises
    ------
    InputError
        Wrong number of dimensions, radius too large for the image, fewer than 32 frames,
        mask of the wrong shape, NaN/inf samples, ``device="gpu"`` without a usable GPU.
    InputTypeError
        Non-numeric data.
    """
    values = check_values(PCF_PARAMS, dict(
        radius=radius, npoints=npoints, nbins=nbins, pow2=pow2,
        bleach_filter=bleach_filter, smooth=smooth, device=device,
    ), require=False, owner="pcf")
    radius, npoints, nbins = values["radius"], values["npoints"], values["nbins"]
    arr = _check_data(data, radius)
    mask_arr = _check_mask(mask, arr.shape[1:])
    if values["bleach_filter"]:
        if arr.shape[0] - 2 * values["bleach_filter"] < MIN_FRAMES:
            raise InputError(
                f"bleaching correction with filter {values['bleach_filter']} leaves "
                f"{arr.shape[0] - 2 * values['bleach_filter']} of {arr.shape[0]} frames; "
                f"at least {MIN_FRAMES} are needed: use a smaller --bleach-filter"
            )
    backend = get_backend(values["device"])  # before the long bleaching correction
    ntimes = frames_used(arr.shape[0], values["bleach_filter"], values["pow2"])
    rows = None  # bleach-corrected traces, one row per pixel (contiguous reads per tile)
    if values["bleach_filter"]:
        rows = correct_bleaching(arr, values["bleach_filter"], output="uint16", layout="pixels")
    else:
        arr = arr[:ntimes]
    bins = ipcf_bins(ntimes, nbins)
    coords = circle(radius, npoints)
    classes = offset_classes(coords)
    wr, wi = bin_weights(ntimes, bins)

    _, height, width = arr.shape
    oh, ow = height - 2 * radius, width - 2 * radius
    result = np.empty((oh, ow, npoints, len(bins)), np.float32)
    tile = ipcf_tile_size(ntimes, radius, memory_budget)
    report, close = _progress(progress, oh * ow * npoints)
    zero = np.zeros((oh, ow), bool)
    # the kernel object keeps its buffers (CPU) or the uploaded input (GPU) for all tiles
    qmax = (min(tile, oh) + 2 * radius) * (min(tile, ow) + 2 * radius)
    kernels = pcf_gpu if backend.is_gpu else pcf_cpu
    tile_kernel = kernels.TileKernel(backend, arr if rows is None else rows, ntimes, qmax,
                                     (height, width))
    try:
        for y0 in range(0, oh, tile):
            y1 = min(oh, y0 + tile)
            for x0 in range(0, ow, tile):
                x1 = min(ow, x0 + tile)
                bh, bw = y1 - y0 + 2 * radius, x1 - x0 + 2 * radius
                means = tile_kernel.load(y0, x0, bh, bw)
                with np.errstate(divide="ignore"):
                    inv = np.where(means != 0.0, 1.0 / np.where(means != 0.0, means, 1.0), np.nan)
                centre_ok = None
                if mask_arr is not None:
                    centre_ok = mask_arr[y0 : y1 + 2 * radius, x0 : x1 + 2 * radius]
                zmap = (means == 0.0).reshape(bh, bw)
                zero[y0:y1, x0:x1] = zmap[radius:-radius, radius:-radius]
                result[y0:y1, x0:x1] = tile_kernel(
                    inv, bh, bw, radius, classes, npoints, wr,
                    wi, centre_ok, values["smooth"], report,
                )
    finally:
        close()
    if mask_arr is not None:
        zero &= mask_arr[radius:-radius, radius:-radius]
    zero_mean_centres = int(zero.sum())
    if zero_mean_centres:
        warnings.warn(
            f"{zero_mean_centres} pixel(s) have a mean intensity of zero; their pCF curves "
            "(and those of pairs with zero-mean neighbours) are NaN",
            RuntimeWarning,
            stacklevel=2,
        )
    params = {k: values[k] for k in ("radius", "npoints", "nbins", "pow2", "bleach_filter",
                                     "smooth")}
    params["device"] = backend.name
    return IPCFResult(pcf=result, bins=bins, delays=bin_delays(bins), circle=coords,
                      frames_used=ntimes, params=params)


def _check_data(data, radius: int) -> np.ndarray:
    if hasattr(data, "compute") and not isinstance(data, np.ndarray):
        data = data.compute()
    arr = np.asarray(data)
    if arr.dtype.kind not in "uif":
        raise InputTypeError(
            f"data must be a numeric image time series (integers or floats); got {arr.dtype}"
        )
    if arr.ndim != 3:
        raise InputError(
            f"data must have 3 dimensions (T, H, W) -- frames, rows, columns; got shape {arr.shape}"
        )
    ntimes, height, width = arr.shape
    if height - 2 * radius < 1 or width - 2 * radius < 1:
        raise InputError(
            f"radius {radius} is too large for {height}x{width} pixel images: it needs at "
            f"least {2 * radius + 1}x{2 * radius + 1} pixels; use a smaller radius"
        )
    if ntimes < MIN_FRAMES:
        raise InputError(f"data have {ntimes} frames; at least {MIN_FRAMES} are needed")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InputError("data contain NaN or infinite values; remove or replace them first")
    return arr


def _check_mask(mask, shape) -> np.ndarray | None:
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.shape != tuple(shape):
        raise InputError(f"mask must have the image shape {tuple(shape)} (H, W); got {m.shape}")
    if m.dtype != bool:
        if m.dtype.kind not in "uif":
            raise InputTypeError(f"mask must be boolean or numeric; got {m.dtype}")
        m = m != 0
    return m


def _progress(progress, total: int):
    if callable(progress):
        return progress, lambda: None
    if not progress:
        return None, lambda: None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="pair", unit_scale=True, desc="ipCF", smoothing=0.1)
    return bar.update, bar.close
