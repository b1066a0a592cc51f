"""Host-side planning of the fast ipCF algorithm, shared by the CPU and GPU paths.

The fast algorithm never transforms a pair's correlation back to the time domain.
For mean-subtracted traces ``a`` (centre) and ``b`` (neighbour) of length ``T`` with
spectra ``A = rfft(a)`` and ``B = rfft(b)``, the circular correlation used by the tutorial
is ``c[tau] = irfft(B * conj(A))[tau] / (T * mean_a * mean_b)``; averaging ``c`` over a
delay bin is a linear functional of ``X = B * conj(A)``, so each bin average is one dot
product of ``(Re X, Im X)`` with precomputed weights (:func:`bin_weights`). The same
product gives the reverse pair (neighbour as centre, delays mirrored) by flipping the sign
of the imaginary part's weights, which is the tutorial's symmetry trick done exactly for
every circle whose points come in mirror pairs, and avoided where they do not.

Everything here is NumPy and independent of the device, so it is unit-tested without CuPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


def bin_weights(
    ntimes: int, bins: np.ndarray, *, dtype=np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Cached :func:`compute_bin_weights` (read-only arrays)."""
    return _cached_weights(int(ntimes), tuple(int(b) for b in bins), np.dtype(dtype).str)


@lru_cache(maxsize=8)
def _cached_weights(ntimes: int, bins: tuple, dtype: str):
    wr, wi = compute_bin_weights(ntimes, np.array(bins), dtype=np.dtype(dtype))
    wr.flags.writeable = False
    wi.flags.writeable = False
    return wr, wi


def compute_bin_weights(
    ntimes: int, bins: np.ndarray, *, dtype=np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Return weights turning a cross spectrum into delay-bin averages of the correlation.

    Parameters
    ----------
    ntimes : int
        Trace length ``T`` (frames).
    bins : ndarray of int, shape (nbins,)
        Bin edges as in :func:`pcfij.pcf.logbins`: bin 0 is delays ``[0, bins[0])``,
        bin k is delays ``[bins[k-1], bins[k])``. All delays must be ``< T``.

    Returns
    -------
    wr, wi : ndarray, shape (T // 2 + 1, nbins)
        Bin k's average of ``irfft(X)`` is ``Re(X) @ wr[:, k] - Im(X) @ wi[:, k]``; the
        average of the time-reversed correlation ``irfft(conj(X))`` is
        ``Re(X) @ wr[:, k] + Im(X) @ wi[:, k]``. Both include the ``1 / T`` of the inverse
        transform.
    """
    bins = np.asarray(bins, dtype=np.int64)
    starts = np.concatenate([[0], bins[:-1]])
    stops = bins
    if np.any(stops <= starts) or stops[-1] > ntimes:
        raise ValueError("bins must increase strictly and not exceed the number of frames")
    nfreq = ntimes // 2 + 1
    freq = np.arange(nfreq, dtype=np.float64)
    # the inverse real DFT counts every frequency twice except 0 and (for even T) T/2
    factor = np.full(nfreq, 2.0)
    factor[0] = 1.0
    if ntimes % 2 == 0:
        factor[-1] = 1.0
    wr = np.empty((nfreq, len(bins)), np.float64)
    wi = np.empty((nfreq, len(bins)), np.float64)
    for k, (s, e) in enumerate(zip(starts, stops)):
        # sum over tau in [s, e) of exp(2 pi i f tau / T): exact phases (integer f * tau
        # reduced mod T) for single delays, the geometric series' closed form otherwise
        if e - s == 1:
            phase = 2.0 * np.pi * ((np.arange(nfreq, dtype=np.int64) * s) % ntimes) / ntimes
            wr[:, k] = np.cos(phase)
            wi[:, k] = np.sin(phase)
        else:
            wr[:, k], wi[:, k] = _geometric_phase_sum(freq, s, e, ntimes)
        scale = factor / (ntimes * (e - s))
        wr[:, k] *= scale
        wi[:, k] *= scale
    return wr.astype(dtype), wi.astype(dtype)


def _geometric_phase_sum(freq: np.ndarray, s: int, e: int, ntimes: int):
    """Sum of cos and sin of ``2 pi f tau / T`` for tau in [s, e), for every f (closed form)."""
    n = e - s
    theta = 2.0 * np.pi * freq / ntimes
    half = theta / 2.0
    sin_half = np.sin(half)
    small = np.abs(sin_half) < 1e-12
    safe = np.where(small, 1.0, sin_half)
    ratio = np.sin(n * half) / safe
    center = theta * (s + (n - 1) / 2.0)
    re = np.where(small, n * np.cos(center), ratio * np.cos(center))
    im = np.where(small, n * np.sin(center), ratio * np.sin(center))
    # exact multiples of 2 pi (f = 0, or T/2 with even n) are handled by `small` / the ratio
    return re, im


@dataclass(frozen=True)
class OffsetClass:
    """Circle points that share one offset, and (if present) those at the mirrored offset.

    Attributes
    ----------
    du, dv : int
        The offset (x, y) of the neighbour relative to the centre pixel.
    forward : tuple of int
        Circle point indices whose offset is ``(du, dv)``.
    reverse : tuple of int
        Circle point indices whose offset is ``(-du, -dv)`` (empty if none).
    """

    du: int
    dv: int
    forward: tuple[int, ...]
    reverse: tuple[int, ...]


def offset_classes(coords: np.ndarray) -> list[OffsetClass]:
    """Group circle points so every distinct pixel pair is correlated once.

    Points with the same offset are computed once; a point whose mirrored offset is also on
    the circle is served by the same products (reverse direction). This is exact for any
    radius and number of points, unlike the tutorial's ``(i + npoints // 2) % npoints``
    shortcut, which assumes point ``i + npoints/2`` is the mirror of point ``i``.

    Parameters
    ----------
    coords : ndarray of int, shape (npoints, 2)
        Circle coordinates ``(u, v)`` = (x, y) offsets, as from :func:`pcfij.pcf.circle`.
    """
    coords = np.asarray(coords)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (u, v) in enumerate(coords.tolist()):
        groups.setdefault((int(u), int(v)), []).append(i)
    done: set[tuple[int, int]] = set()
    out = []
    for (u, v), idx in groups.items():
        if (u, v) in done:
            continue
        mirror = (-u, -v)
        rev = groups.get(mirror, []) if mirror != (u, v) else []
        done.add((u, v))
        done.add(mirror)
        out.append(OffsetClass(u, v, tuple(idx), tuple(rev)))
    return out


def pair_rows(
    height: int, width: int, radius: int, cls: OffsetClass, centre_ok: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the pixel pairs to correlate for one offset class of one image tile.

    Parameters
    ----------
    height, width : int
        Tile size in pixels (including the ``radius`` halo on every side).
    radius : int
        Halo width; result pixels are ``[radius, height - radius) x [radius, width - radius)``.
    cls : OffsetClass
        The offset class.
    centre_ok : ndarray of bool, shape (height, width), optional
        Centre pixels whose results are wanted (mask); default all result pixels.

    Returns
    -------
    centre, neighbour : ndarray of int64, shape (npairs,)
        Flat pixel indices of the trace pairs (``neighbour = centre + offset``).
    out_fwd : ndarray of int64, shape (npairs,)
        Flat index into the (height - 2r, width - 2r) result of the forward value, or -1.
    out_rev : ndarray of int64, shape (npairs,)
        Flat index of the reverse value (neighbour as centre, mirrored point), or -1.
    """
    r = radius
    oh, ow = height - 2 * r, width - 2 * r
    want = np.zeros((height, width), bool)
    want[r : height - r, r : width - r] = True
    if centre_ok is not None:
        want &= centre_ok
    y, x = np.mgrid[0:height, 0:width]
    ny, nx = y + cls.dv, x + cls.du
    inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
    fwd = want & inside
    rev = np.zeros_like(fwd)
    if cls.reverse:
        rev[inside] = want[ny[inside], nx[inside]]
    use = fwd | rev
    cy, cx = y[use], x[use]
    qy, qx = ny[use], nx[use]
    centre = (cy * width + cx).astype(np.int64)
    neighbour = (qy * width + qx).astype(np.int64)
    out_fwd = np.where(fwd[use], (cy - r) * ow + (cx - r), -1).astype(np.int64)
    out_rev = np.where(rev[use], (qy - r) * ow + (qx - r), -1).astype(np.int64)
    del oh
    return centre, neighbour, out_fwd, out_rev


def tile_pairs(
    height: int, width: int, radius: int, classes: list[OffsetClass],
    centre_ok: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`pair_rows` of every offset class of a tile, concatenated class by class.

    Returns
    -------
    centre, neighbour, out_fwd, out_rev : ndarray of int64, shape (npairs,)
        As from :func:`pair_rows`.
    cls_idx : ndarray of int64, shape (npairs,)
        Index into ``classes`` of each pair's offset class.
    """
    parts = []
    for ci, cls in enumerate(classes):
        centre, neighbour, out_fwd, out_rev = pair_rows(height, width, radius, cls, centre_ok)
        parts.append((centre, neighbour, out_fwd, out_rev, np.full(centre.size, ci, np.int64)))
    return tuple(np.concatenate(x) for x in zip(*parts))


def curve_targets(
    out: np.ndarray, cls_idx: np.ndarray, points: list[tuple[int, ...]], npoints: int
) -> tuple[np.ndarray, np.ndarray]:
    """Where each pair's curve goes in the flat ``(pixels * npoints, nbins)`` result.

    Parameters
    ----------
    out : ndarray of int64, shape (npairs,)
        Result pixel of each pair's curve (``out_fwd`` or ``out_rev``), -1 for none.
    cls_idx : ndarray of int64, shape (npairs,)
        Offset class of each pair.
    points : list of tuple of int
        Per class, the circle points the curve fills (``forward`` or ``reverse``).

    Returns
    -------
    pair, row : ndarray of int64
        One entry per (pair, circle point) to fill, ordered by pair: the curve of pair
        ``pair[j]`` goes to row ``row[j] = out * npoints + point`` of the flat result.
    """
    counts = np.array([len(p) for p in points], np.int64)[cls_idx] * (out >= 0)
    pair = np.repeat(np.arange(out.size, dtype=np.int64), counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    nth = np.arange(pair.size, dtype=np.int64) - np.repeat(starts, counts)
    table = np.zeros((len(points), max(1, max(len(p) for p in points))), np.int64)
    for c, pts in enumerate(points):
        table[c, : len(pts)] = pts
    row = out[pair] * npoints + table[cls_idx[pair], nth]
    return pair, row
