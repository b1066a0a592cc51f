"""Radial profiles of correlation images in calibrated units (exact distances, per-axis scale).

The profile averages all pixels of a correlation image that share the same calibrated
distance from a centre; there is no binning. Two centres exist:

* ``centre="plugin"`` (the Fiji plugin's rule, method ``"plugin"``): distances are measured
  from the geometric centre ``(n - 1) / 2`` per axis, although the zero shift of the
  correlation sits at index ``n // 2`` (half a pixel apart for even sizes). Each distance is
  the exact double ``sqrt(((x-cx)*sx)^2 + ((y-cy)*sy)^2 [+ ((z-cz)*sz)^2])``, summed in x, y, z
  order, and every distinct double is its own profile point (a shift of 3 x 0.1 um and one of
  1 x 0.3 um may give two points that differ in the last bit).
* ``centre="zero"`` (method ``"unbiased"``): distances from the zero-shift pixel ``n // 2``,
  computed the same way.

Distances only depend on the absolute offset per axis, so groups are looked up in a small
"folded" table ``lut[f_z, f_y, f_x]`` with one fold index array per axis (:attr:`fold`).
"""

from __future__ import annotations

import numpy as np

CENTRES = ("plugin", "zero")


def axis_offsets(n: int, spacing: float, centre: str) -> tuple[np.ndarray, np.ndarray]:
    """Folded calibrated offsets of one axis and the fold index of every pixel.

    Returns
    -------
    values : ndarray (k,)
        Distinct absolute calibrated offsets ``|(i - c) * s|`` in increasing order.
    fold : ndarray of int32 (n,)
        Index into ``values`` for pixel ``i``.
    """
    i = np.arange(n, dtype=np.float64)
    if centre == "plugin":
        c = (float(n) - 1.0) / 2
        fold = (np.abs(2 * np.arange(n) - (n - 1)) // 2).astype(np.int32)
    elif centre == "zero":
        c = float(n // 2)
        fold = np.abs(np.arange(n) - n // 2).astype(np.int32)
    else:
        raise ValueError(f"centre must be one of {CENTRES}; got {centre!r}")
    off = np.abs((i - c) * float(spacing))
    values = np.zeros(int(fold.max()) + 1)
    values[fold] = off
    return values, fold


class RadialBinning:
    """Distance groups of a correlation image of one shape and pixel size.

    Parameters
    ----------
    shape : tuple of int
        Shape of the correlation image (= image shape), axis order (z,) y, x.
    spacing : tuple of float
        Pixel size per array axis, same order as ``shape``.
    centre : {"plugin", "zero"}
        Where distances are measured from (see module docstring).

    Attributes
    ----------
    distance : ndarray (ngroups,)
        Sorted distinct distances (calibrated units).
    counts : ndarray (ngroups,)
        Number of correlation pixels at each distance.
    lut : ndarray of int32
        Folded table ``lut[f0, f1, ...]`` -> group number.
    fold : tuple of ndarray of int32
        Per-axis fold index of every pixel.
    """

    def __init__(self, shape, spacing, centre: str = "plugin") -> None:
        self.shape = tuple(int(n) for n in shape)
        self.spacing = tuple(float(s) for s in spacing)
        self.centre = centre
        nd = len(self.shape)
        per_axis = [axis_offsets(n, s, centre) for n, s in zip(self.shape, self.spacing)]
        self.fold = tuple(f for _, f in per_axis)
        #: per axis: the folded absolute offsets and how many pixels share each
        self.axis_values = tuple(v for v, _ in per_axis)
        self.axis_mult = tuple(np.bincount(f, minlength=v.size).astype(np.float64)
                               for v, f in per_axis)
        folded = tuple(v.size for v, _ in per_axis)
        # squared distance summed in x, y, z order (the reverse of the array order)
        d2 = np.zeros(folded, dtype=np.float64)
        for axis in reversed(range(nd)):
            v = per_axis[axis][0]
            view = [1] * nd
            view[axis] = v.size
            d2 = d2 + (v * v).reshape(view)
        mult = np.ones(folded, dtype=np.float64)
        for axis in range(nd):
            view = [1] * nd
            view[axis] = folded[axis]
            mult = mult * self.axis_mult[axis].reshape(view)
        dist = np.sqrt(d2.ravel())
        del d2
        self.distance, inverse = np.unique(dist, return_inverse=True)
        self.lut = inverse.astype(np.int32).reshape(folded)
        self.ngroups = int(self.distance.size)
        self.counts = np.bincount(self.lut.ravel(), weights=mult.ravel(), minlength=self.ngroups)

    def distance_image(self) -> np.ndarray:
        """Full-size image of every pixel's distance (for tests and small images)."""
        idx = np.ix_(*self.fold)
        return self.distance[self.lut[idx]]

    def profile(self, image, backend) -> np.ndarray:
        """Mean of ``image`` (host or back-end array) at each distance (float64)."""
        sums = backend.profile_sums(image, self.lut, self.ngroups, self.fold)
        return sums / self.counts

    def new_sums(self) -> np.ndarray:
        """Zeroed per-distance sums for :meth:`add_slab`."""
        return np.zeros(self.ngroups, dtype=np.float64)

    def add_slab(self, sums: np.ndarray, sl: slice, block, backend) -> None:
        """Add the slab ``image[sl]`` (axis 0) of a correlation image to ``sums``.

        Slabs added in order give exactly the sums of :meth:`profile` of the whole image,
        so the full correlation image never needs to exist.
        """
        fold = (self.fold[0][sl],) + self.fold[1:]
        backend.profile_sums(block, self.lut, self.ngroups, fold, out=sums)

    def mean(self, sums: np.ndarray) -> np.ndarray:
        """Profile (mean per distance) from sums collected with :meth:`add_slab`."""
        return sums / self.counts

    def weight(self, image, backend, weights: np.ndarray):
        """Multiply ``image`` in place by ``weights[group]`` (one weight per distance)."""
        return backend.apply_group_weights(image, self.lut, weights, self.fold)
