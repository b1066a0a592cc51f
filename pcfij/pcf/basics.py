"""The tutorial's building blocks of the image pair correlation function (ipCF).

These follow C. Gohlke's tutorial "Pair correlation function analysis of fluorescence
fluctuations in big image time series using Python" (``ipcf.ipynb``) definition by
definition; :func:`pcfij.pcf.ipcf` computes the same numbers with a much faster algorithm.
They are simple NumPy code, meant to be read and used for single curves.
"""

from __future__ import annotations

import math

import numpy as np

from pcfij.errors import InputError


def circle(radius: int, npoints: int) -> np.ndarray:
    """Return the integer pixel offsets of ``npoints`` points on a circle of ``radius``.

    Point ``i`` is at angle ``2 pi i / npoints`` (counter-clockwise from the +x axis in
    mathematical orientation, i.e. clockwise on screen where y grows downwards); its offset
    is ``(u, v) = (round(r cos), round(r sin))`` with NumPy's rounding.

    Parameters
    ----------
    radius : int
        Circle radius in pixels (>= 1).
    npoints : int
        Number of points (>= 1).

    Returns
    -------
    ndarray of intp, shape (npoints, 2)
        ``(u, v)`` = (x, y) = (column, row) offsets; point 0 is ``(radius, 0)``.
    """
    if int(radius) != radius or radius < 1:
        raise InputError(f"radius must be a whole number >= 1 pixel; got {radius!r}")
    if int(npoints) != npoints or npoints < 1:
        raise InputError(f"npoints must be a whole number >= 1; got {npoints!r}")
    angles = np.linspace(0.0, 2.0 * np.pi, int(npoints), endpoint=False)
    coords = radius * np.array([np.cos(angles), np.sin(angles)])
    return np.ascontiguousarray(np.round(coords).T.astype(np.intp))


def logbins(size: int, nbins: int) -> np.ndarray:
    """Return up to ``nbins`` exponentially increasing integers from 1 to ``size``.

    The values are the (exclusive) upper delay of each bin: bin 0 holds delay 0 only
    (``[0, 1)``), bin k the delays ``[bins[k-1], bins[k])``. Duplicates from rounding are
    dropped, so fewer than ``nbins`` bins may come back (30 for ``size=8192, nbins=32``).

    Parameters
    ----------
    size : int
        Number of delays (the tutorial uses ``ntimes // 2``).
    nbins : int
        Maximum number of bins.

    Returns
    -------
    ndarray of intp, shape (<= nbins,)
    """
    if int(size) != size or size < 1:
        raise InputError(f"size must be a whole number >= 1; got {size!r}")
    if int(nbins) != nbins or nbins < 1:
        raise InputError(f"nbins must be a whole number >= 1; got {nbins!r}")
    # the tutorial's np.logspace(0, log2(size), nbins, base=2), with the powers taken by the
    # C library's pow() (math.pow), as NumPy did before its own power: NumPy 2.4.6 differs
    # in the last bit (2 ** log2(130) = 129.99999999999997 instead of 130.0), which
    # truncation turns into another bin edge
    exps = np.linspace(0, math.log(size, 2), int(nbins), endpoint=True)
    b = np.array([math.pow(2.0, float(e)) for e in exps])
    return np.unique(b.astype(np.intp))


def correlate(a: np.ndarray, b: np.ndarray, mode: str = "circular") -> np.ndarray:
    """Return the normalised cross-correlation of two traces, positive delays only.

    ``G(tau) = <a(t + tau) b(t)> / (<a> <b>) - 1`` for ``tau = 0 .. N // 2 - 1``, where
    ``N = len(a)``. The ipCF reference calls ``correlate(neighbour, centre)``, so a positive
    delay means the neighbour's signal comes after the centre's.

    Parameters
    ----------
    a, b : array_like, shape (N,)
        Intensity traces of equal length.
    mode : {"circular", "linear"}
        ``"circular"`` (the tutorial's ``correlate``): time wraps around, computed as
        ``irfft(rfft(a) * conj(rfft(b)))`` of the raw traces. ``"linear"`` (the
        tutorial's ``correlate_linear``, same argument order): the mean-subtracted traces
        are zero-extended, so out-of-range samples contribute nothing; normalised by
        ``N <a> <b>``.

    Returns
    -------
    ndarray of float64, shape (N // 2,)
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise InputError(f"a and b must be 1-D of equal length; got {a.shape} and {b.shape}")
    size = a.size
    if size < 2:
        raise InputError("traces need at least 2 samples")
    if mode == "circular":
        fa = np.fft.rfft(a)
        fb = np.fft.rfft(b)
        c = np.fft.irfft(fa * fb.conj(), size)[: size // 2]
        return c / (fa[0].real * fb[0].real / size) - 1.0
    if mode == "linear":
        ma, mb = a.mean(), b.mean()
        pad = size // 2
        fa = np.fft.rfft(np.pad(a - ma, pad))
        fb = np.fft.rfft(np.pad(b - mb, pad))
        c = np.fft.irfft(fa * fb.conj(), size + 2 * pad)[: size // 2]
        return c / (size * ma * mb)
    raise InputError(f"mode must be 'circular' or 'linear'; got {mode!r}")


def average(c: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Return the mean of ``c`` in each delay bin (``c[:bins[0]]``, ``c[bins[k-1]:bins[k]]``).

    Parameters
    ----------
    c : ndarray, shape (ndelays,)
        Correlation curve.
    bins : ndarray of int, shape (nbins,)
        Bin upper edges from :func:`logbins`.

    Returns
    -------
    ndarray of float64, shape (nbins,)
    """
    c = np.asarray(c, dtype=np.float64)
    bins = np.asarray(bins)
    edges = np.concatenate([[0], bins])
    if np.any(np.diff(edges) <= 0) or edges[-1] > c.size:
        raise InputError("bins must increase strictly and not exceed the curve length")
    return np.array([c[s:e].mean() for s, e in zip(edges[:-1], edges[1:])])


def smooth(c: np.ndarray) -> np.ndarray:
    """Return the tutorial's double exponentially smoothed curve.

    Bin 0 (zero delay, dominated by shot noise) is replaced by bin 1; then a forward pass
    ``c[i] = 0.3 c[i] + 0.7 c[i-1]`` and a backward pass ``c[i] = 0.3 c[i] + 0.7 c[i+1]``.

    Parameters
    ----------
    c : ndarray, shape (nbins,), nbins >= 2

    Returns
    -------
    ndarray of float64, shape (nbins,)
    """
    out = np.array(c, dtype=np.float64)
    if out.ndim != 1 or out.size < 2:
        raise InputError("smooth needs a 1-D curve of at least 2 values")
    out[0] = out[1]
    for i in range(1, out.size):
        out[i] = out[i] * 0.3 + out[i - 1] * 0.7
    for i in range(out.size - 2, -1, -1):
        out[i] = out[i] * 0.3 + out[i + 1] * 0.7
    return out


def bin_delays(bins: np.ndarray) -> np.ndarray:
    """Return a representative delay (frames) per bin: the mean delay of the bin's range.

    Bin 0 is delay 0; bin k covers ``[bins[k-1], bins[k])`` and is represented by
    ``(bins[k-1] + bins[k] - 1) / 2``.
    """
    bins = np.asarray(bins, dtype=np.float64)
    starts = np.concatenate([[0.0], bins[:-1]])
    return (starts + bins - 1.0) / 2.0


def pow2_frames(ntimes: int) -> int:
    """Largest power of two <= ``ntimes`` (the tutorial's truncation of the time axis)."""
    if ntimes < 1:
        raise InputError("need at least one frame")
    return 1 << (int(ntimes).bit_length() - 1)
