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
CHUNK = 256
#: frames between stored forward-filter values (checkpoints) of the trend filter
SEGMENT = 512


@numba.njit(parallel=True, cache=True)
def _correct(data, filtersize, exact_mean, int_data, to_uint16, pixel_major, out, out_pm):  # noqa: E501
    """The correction; writes ``out`` (T', H, W), or ``out_pm`` (H * W, T') if ``pixel_major``."""
    n, h, w = data.shape
    f0 = 1.0 / filtersize
    f1 = 1.0 - f0
    nout = n - 2 * filtersize
    bad = np.zeros(h, np.int64)
    nseg = (n + SEGMENT - 1) // SEGMENT
    for y in numba.prange(h):
        # forward pass: keep only every SEGMENT-th value (checkpoints); the backward pass
        # recomputes each segment's forward values in a small buffer (same arithmetic, same
        # numbers) instead of streaming an (n, w) array through memory twice
        ckpt = np.empty((nseg, w), np.float64)
        prev = np.empty(w, np.float64)
        total = np.zeros(w, np.int64)
        totalf = np.zeros(w, np.float64)
        for x in range(w):
            prev[x] = data[0, y, x]
            ckpt[0, x] = prev[x]
            total[x] = np.int64(data[0, y, x])
            totalf[x] = data[0, y, x]
        for i in range(1, n):
            for x in range(w):
                v = data[i, y, x]
                total[x] += np.int64(v)
                totalf[x] += v
                prev[x] = v * f0 + prev[x] * f1
            if i % SEGMENT == 0:
                for x in range(w):
                    ckpt[i // SEGMENT, x] = prev[x]
        a = np.empty((SEGMENT, w), np.float64)
        means = np.empty(w, np.float64)
        for x in range(w):
            if exact_mean:
                means[x] = totalf[x] / n
            elif int_data:
                means[x] = float(total[x] // n)
            else:
                means[x] = np.floor(totalf[x] / n)
        zero = np.zeros(w, np.bool_)
        chunk = np.empty((w, CHUNK), out_pm.dtype)  # pixel-major output goes out in runs
        vals = np.empty(w, np.float64)
        back = np.empty(w, np.float64)  # the backward pass, fused with the output
        for i in range(n - 1, -1, -1):  # (frame-major, branch-free: vectorises over pixels)
            if i == n - 1 or i % SEGMENT == SEGMENT - 1:  # recompute this segment's forward
                s0 = (i // SEGMENT) * SEGMENT
                for x in range(w):
                    a[0, x] = ckpt[i // SEGMENT, x]
                for k in range(s0 + 1, i + 1):
                    for x in range(w):
                        a[k - s0, x] = data[k, y, x] * f0 + a[k - s0 - 1, x] * f1
            ai = i - (i // SEGMENT) * SEGMENT
            if i == n - 1:
                for x in range(w):
                    back[x] = a[ai, x]
            else:
                for x in range(w):
                    back[x] = a[ai, x] * f0 + back[x] * f1
            if i < filtersize or i >= filtersize + nout:
                continue
            j = i - filtersize
            for x in range(w):  # plain arithmetic first: this loop vectorises
                trend = back[x]
                mean = means[x]
                vals[x] = np.sqrt(np.abs(mean / trend)) * (data[i, y, x] - trend) + mean
            for x in range(w):
                trend = back[x]
                value = vals[x]
                if trend == 0.0:
                    zero[x] = True
                if to_uint16:
                    r = np.trunc(value + np.copysign(0.5, value))  # halves away from zero
                    r = min(max(r, 0.0), 65535.0)
                    r = r if value == value else 0.0  # NaN (zero trend) -> 0
                else:
                    r = value if trend != 0.0 else np.nan
                if pixel_major:
                    chunk[x, j % CHUNK] = r
                else:
                    out[j, y, x] = r
            if pixel_major and (j % CHUNK == 0):  # flush whole runs of frames per pixel
                stop = min(j + CHUNK, nout)
                for x in range(w):
                    for jj in range(j, stop):
                        out_pm[y * w + x, jj] = chunk[x, jj - j]
        bad[y] = zero.sum()
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
                    out, out_pm)
    if nbad:
        warnings.warn(
            f"{nbad} pixel(s) have a zero intensity trend (e.g. all-zero traces); their "
            f"bleaching-corrected values are {'0' if output == 'uint16' else 'NaN'}",
            RuntimeWarning,
            stacklevel=2,
        )
    return out_pm if pixel_major else out
