"""Photobleaching correction of image time series (the tutorial's ``correct_bleaching``).

For every pixel's trace ``x`` (length ``n``) the slowly varying trend ``a`` is the double
(forward, then backward) exponential smoothing of ``x`` with weight ``1 / filtersize`` on the
current sample. The corrected trace keeps the fluctuations around the trend, rescaled by
``sqrt(mean / trend)`` so their relative size matches the unbleached intensity (the
"deficit" correction), around the trace mean:

    y[i] = sqrt(|mean / a[i]|) * (x[i] - a[i]) + mean

The first and last ``filtersize`` frames, where the filter has not settled, are dropped.

Choices (documented and tested):

* ``mean="integer"`` (default) reproduces the tutorial's compiled code exactly: the mean
  is the integer sum divided with integer division (truncated). ``mean="exact"`` uses the
  true mean instead.
* ``output="uint16"`` rounds halves away from zero and clips to 0..65535, like the
  tutorial; ``output="float32"`` returns the unrounded values.
* A trace whose trend is zero somewhere (an all-zero pixel) has no defined correction; its
  output is 0 (uint16) or NaN (float32), and one warning names how many pixels.
"""

from __future__ import annotations

import warnings

import numba
import numpy as np

from pcfij.errors import InputError, InputTypeError

#: frames per contiguous run written for each pixel in the pixel-major layout
CHUNK = 64
#: frames between stored forward-filter values (checkpoints) of the trend filter
SEGMENT = 128
#: pixels (whole image rows) one thread corrects together
GROUP_PIXELS = 1024


def group_rows(height: int, width: int) -> int:
    """Image rows per group of :func:`_correct` for ``height x width`` images (>= 1)."""
    return max(1, min(height, GROUP_PIXELS // max(width, 1)))


def group_pixels(height: int, width: int) -> int:
    """Pixels per row group of :func:`_correct` for ``height x width`` images."""
    return group_rows(height, width) * width


def buffer_bytes(frames: int, height: int, width: int) -> int:
    """Scratch bytes one thread of the correction holds for ``frames`` raw frames."""
    npx = group_pixels(height, width)
    nseg = (frames + SEGMENT - 1) // SEGMENT
    return npx * ((nseg + SEGMENT + 6) * 8 + CHUNK * 4 + 1)


@numba.njit(parallel=True, cache=True)
def _correct(data, filtersize, exact_mean, int_data, to_uint16, pixel_major, g, out, out_pm):  # noqa: E501
    """The correction; writes ``out`` (T', H, W), or ``out_pm`` (H * W, T') if ``pixel_major``.

    Rows are processed in groups of ``g`` whole rows (:func:`group_rows`), so every
    frame contributes a contiguous run of samples per group (fewer cache and TLB misses
    than one row at a time). Per group: a forward pass keeps only every ``SEGMENT``-th
    trend value (checkpoints); the backward pass recomputes each segment's forward values
    in a small buffer (same arithmetic, same numbers) instead of streaming an (n, pixels)
    array through memory twice, and is fused with the output, which is written frame-major
    into a ``CHUNK``-frame buffer and flushed per pixel in whole runs of frames. All loops
    over pixels are branch-free so they vectorise.
    """
    n, h, w = data.shape
    f0 = 1.0 / filtersize
    f1 = 1.0 - f0
    nout = n - 2 * filtersize
    ngroups = (h + g - 1) // g
    bad = np.zeros(ngroups, np.int64)
    nseg = (n + SEGMENT - 1) // SEGMENT
    for gi in numba.prange(ngroups):
        y0 = gi * g
        gh = min(h, y0 + g) - y0
        npx = gh * w
        ckpt = np.empty((nseg, npx), np.float64)
        prev = np.empty(npx, np.float64)
        total = np.zeros(npx, np.int64)
        totalf = np.zeros(npx, np.float64)
        for yy in range(gh):
            for x in range(w):
                v = data[0, y0 + yy, x]
                prev[yy * w + x] = v
                total[yy * w + x] = np.int64(v)
                totalf[yy * w + x] = v
        ckpt[0, :] = prev
        for i in range(1, n):
            for yy in range(gh):
                b = yy * w
                for x in range(w):
                    v = data[i, y0 + yy, x]
                    total[b + x] += np.int64(v)
                    totalf[b + x] += v
                    prev[b + x] = v * f0 + prev[b + x] * f1
            if i % SEGMENT == 0:
                ckpt[i // SEGMENT, :] = prev
        a = np.empty((SEGMENT, npx), np.float64)
        means = np.empty(npx, np.float64)
        for p in range(npx):
            if exact_mean:
                means[p] = totalf[p] / n
            elif int_data:
                means[p] = float(total[p] // n)
            else:
                means[p] = np.floor(totalf[p] / n)
        zero = np.zeros(npx, np.bool_)
        chunk = np.empty((CHUNK, npx), out_pm.dtype if pixel_major else out.dtype)
        vals = np.empty(npx, np.float64)
        back = np.empty(npx, np.float64)
        for i in range(n - 1, -1, -1):
            if i == n - 1 or i % SEGMENT == SEGMENT - 1:
                s0 = (i // SEGMENT) * SEGMENT
                a[0, :] = ckpt[i // SEGMENT, :]
                for k in range(s0 + 1, i + 1):
                    for yy in range(gh):
                        b = yy * w
                        for x in range(w):
                            a[k - s0, b + x] = data[k, y0 + yy, x] * f0 + a[k - s0 - 1, b + x] * f1
            ai = i - (i // SEGMENT) * SEGMENT
            if i == n - 1:
                back[:] = a[ai]
            else:
                for p in range(npx):
                    back[p] = a[ai, p] * f0 + back[p] * f1
            if i < filtersize or i >= filtersize + nout:
                continue
            j = i - filtersize
            for yy in range(gh):
                b = yy * w
                for x in range(w):
                    trend = back[b + x]
                    mean = means[b + x]
                    sample = data[i, y0 + yy, x]
                    vals[b + x] = np.sqrt(np.abs(mean / trend)) * (sample - trend) + mean
            for p in range(npx):
                zero[p] |= back[p] == 0.0
            row = chunk[j % CHUNK]
            if to_uint16:
                for p in range(npx):
                    value = vals[p]
                    r = np.trunc(value + np.copysign(0.5, value))  # halves away from zero
                    r = min(max(r, 0.0), 65535.0)
                    row[p] = r if value == value else 0.0  # NaN (zero trend) -> 0
            else:
                for p in range(npx):
                    row[p] = vals[p] if back[p] != 0.0 else np.nan
            if not pixel_major:
                for yy in range(gh):
                    for x in range(w):
                        out[j, y0 + yy, x] = row[yy * w + x]
            elif j % CHUNK == 0:  # flush whole runs of frames per pixel
                stop = min(j + CHUNK, nout)
                for p in range(npx):
                    dst = out_pm[y0 * w + p]
                    for jj in range(j, stop):
                        dst[jj] = chunk[jj - j, p]
        bad[gi] = zero.sum()
    return bad.sum()


def correct_bleaching(
    data: np.ndarray,
    filtersize: int = 1024,
    *,
    output: str = "uint16",
    mean: str = "integer",
    layout: str = "frames",
) -> np.ndarray:
    """Correct an image time series for photobleaching, pixel by pixel.

    Parameters
    ----------
    data : array_like, shape (T, H, W)
        Image time series (integer or float samples). Integer data are what the tutorial
        uses; floats are accepted (``mean="integer"`` then truncates the float mean).
    filtersize : int
        Time constant of the exponential trend filter in frames (tutorial: 1024). 0 returns
        the data unchanged (no copy), like the tutorial.
    output : {"uint16", "float32"}
        Output sample type (see module notes).
    mean : {"integer", "exact"}
        How the trace mean is computed (see module notes).
    layout : {"frames", "pixels"}
        ``"frames"``: the usual (T', H, W). ``"pixels"``: one row per pixel, shape
        (H * W, T') in row-major pixel order, which :func:`pcfij.pcf.ipcf` reads fastest.

    Returns
    -------
    ndarray, shape (T - 2 * filtersize, H, W)
    """
    arr = np.asarray(data)
    if arr.ndim != 3:
        raise InputError(f"data must have 3 dimensions (T, H, W); got shape {arr.shape}")
    if arr.dtype.kind not in "uif":
        raise InputTypeError(f"data must hold numbers (integers or floats); got {arr.dtype}")
    if int(filtersize) != filtersize or filtersize < 0:
        raise InputError(f"filtersize must be a whole number >= 0 frames; got {filtersize!r}")
    if output not in ("uint16", "float32"):
        raise InputError(f"output must be 'uint16' or 'float32'; got {output!r}")
    if mean not in ("integer", "exact"):
        raise InputError(f"mean must be 'integer' or 'exact'; got {mean!r}")
    if layout not in ("frames", "pixels"):
        raise InputError(f"layout must be 'frames' or 'pixels'; got {layout!r}")
    filtersize = int(filtersize)
    if filtersize == 0 and layout == "pixels":
        arr = arr.reshape(arr.shape[0], -1).T
        return np.ascontiguousarray(arr if output == "uint16" else arr.astype(np.float32))
    if filtersize == 0:
        return arr if output == "uint16" or arr.dtype == np.float32 else arr.astype(np.float32)
    nout = arr.shape[0] - 2 * filtersize
    if nout < 1:
        raise InputError(
            f"bleaching correction with filtersize {filtersize} drops {2 * filtersize} frames, "
            f"but the data have only {arr.shape[0]}; use a smaller filter size"
        )
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise InputError("data contain NaN or infinite values; remove or replace them first")
    dtype = np.uint16 if output == "uint16" else np.float32
    pixel_major = layout == "pixels"
    h, w = arr.shape[1:]
    out = np.empty((0, 0, 0) if pixel_major else (nout, h, w), dtype)
    out_pm = np.empty((h * w, nout) if pixel_major else (0, 0), dtype)
    int_data = arr.dtype.kind in "ui"
    if int_data and arr.dtype.itemsize > 4:
        arr = arr.astype(np.int64)
    nbad = _correct(arr, filtersize, mean == "exact", int_data, output == "uint16", pixel_major,
                    group_rows(h, w), out, out_pm)
    if nbad:
        warnings.warn(
            f"{nbad} pixel(s) have a zero intensity trend (e.g. all-zero traces); their "
            f"bleaching-corrected values are {'0' if output == 'uint16' else 'NaN'}",
            RuntimeWarning,
            stacklevel=2,
        )
    return out_pm if pixel_major else out
