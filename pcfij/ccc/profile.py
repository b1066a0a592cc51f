"""Radial profiles of correlation images in calibrated units (exact distances, per-axis scale).

As in the Fiji plugin, the profile averages all pixels of a correlation image that share the
same calibrated distance ``sqrt(sum((shift_d * scale_d)**2))`` from the zero-shift pixel;
there is no binning. Distances that are mathematically equal but differ by floating-point
rounding (e.g. a shift of 3 x 0.1 µm and 1 x 0.3 µm) are treated as equal (relative tolerance
1e-9). The zero-shift pixel is at index ``n // 2`` per axis (see :mod:`pcfij.ccc.correlation`).
"""

from __future__ import annotations

import numpy as np

#: relative tolerance under which two calibrated distances count as the same distance
DISTANCE_RTOL = 1e-9


class RadialBinning:
    """Distance groups of a correlation image of one shape and pixel size.

    Parameters
    ----------
    shape : tuple of int
        Shape of the correlation image (= image shape), axis order (z,) y, x.
    spacing : tuple of float
        Pixel size per array axis, same order as ``shape``.

    Attributes
    ----------
    distance : ndarray (ngroups,)
        Sorted distinct distances.
    counts : ndarray (ngroups,)
        Number of correlation pixels at each distance.
    lut : ndarray of int32
        Folded table ``lut[|s0|, |s1|, ...]`` -> group number.
    """

    def __init__(self, shape, spacing) -> None:
        self.shape = tuple(int(n) for n in shape)
        self.spacing = tuple(float(s) for s in spacing)
        folded = tuple(n // 2 + 1 for n in self.shape)
        d2 = np.zeros(folded, dtype=np.float64)
        mult = np.ones(folded, dtype=np.float64)
        for axis, (n, s) in enumerate(zip(self.shape, self.spacing)):
            k = np.arange(n // 2 + 1)
            view = [1] * len(folded)
            view[axis] = k.size
            d2 += ((k * s) ** 2).reshape(view)
            # how many shifts -n//2 .. n-1-n//2 have absolute value k: 1 for 0, 2 if +k exists
            m = np.where((k == 0) | (k > n - 1 - n // 2), 1.0, 2.0)
            mult = mult * m.reshape(view)
        flat = d2.ravel()
        order = np.argsort(flat, kind="stable")
        srt = flat[order]
        new = np.empty(srt.size, dtype=bool)
        new[0] = True
        new[1:] = np.diff(srt) > DISTANCE_RTOL * np.maximum(srt[1:], 1e-300)
        group_sorted = np.cumsum(new) - 1
        lut = np.empty(flat.size, dtype=np.int32)
        lut[order] = group_sorted
        del order, group_sorted
        self.lut = lut.reshape(folded)
        self.ngroups = int(new.sum())
        self.distance = np.sqrt(srt[new])
        self.counts = np.bincount(self.lut.ravel(), weights=mult.ravel(), minlength=self.ngroups)

    def profile(self, image, backend) -> np.ndarray:
        """Mean of ``image`` (host or back-end array) at each distance (float64)."""
        sums = backend.profile_sums(image, self.lut, self.ngroups)
        return sums / self.counts

    def new_sums(self) -> np.ndarray:
        """Zeroed per-distance sums for :meth:`add_slab`."""
        return np.zeros(self.ngroups, dtype=np.float64)

    def add_slab(self, sums: np.ndarray, sl: slice, block, backend) -> None:
        """Add the slab ``image[sl]`` (axis 0) of a correlation image to ``sums``.

        Slabs added in order give exactly the sums of :meth:`profile` of the whole image,
        so the full correlation image never needs to exist.
        """
        backend.profile_sums(block, self.lut, self.ngroups, row0=sl.start,
                             full_shape=self.shape, out=sums)

    def mean(self, sums: np.ndarray) -> np.ndarray:
        """Profile (mean per distance) from sums collected with :meth:`add_slab`."""
        return sums / self.counts

    def weight(self, image, backend, weights: np.ndarray):
        """Multiply ``image`` in place by ``weights[group]`` (one weight per distance)."""
        return backend.apply_group_weights(image, self.lut, weights)
