"""Correlated spot pairs in two images: known-answer data for CCC.

Points are drawn uniformly in image 1 (inside the cells when there are cells); each has a
partner in image 2 at a fixed calibrated distance in a random direction (uniform on the
circle / sphere in calibrated space, so anisotropic 3D voxels are handled). Unpaired extra
spots can be added to either image. Spots are blurred by a Gaussian PSF, then a constant
background and Gaussian noise are added. Optionally the spots live inside "cells" (discs /
balls on a regular grid or at random places) whose union is returned as the mask, and the
cells themselves can carry a uniform signal in each image (the low spatial frequency
component that CCC's mask removes).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from pcfij.errors import InputError


@dataclass
class CorrelatedPairs:
    """Output of :func:`correlated_pairs`.

    Attributes
    ----------
    image1, image2 : ndarray (float32)
        The two images, shape ``shape``.
    mask : ndarray of bool or None
        Union of the cells (None without cells).
    points1, points2 : ndarray (n_pairs, ndim)
        Paired spot centres in pixel coordinates (array order ``(z,) y, x``).
    distance : float
        Pair distance in calibrated units.
    scale : tuple of float
        Pixel size ``x, y[, z]``.
    """

    image1: np.ndarray
    image2: np.ndarray
    mask: np.ndarray | None
    points1: np.ndarray
    points2: np.ndarray
    distance: float
    scale: tuple[float, ...]


def _directions(rng, n: int, ndim: int) -> np.ndarray:
    if ndim == 2:
        ang = rng.uniform(0, 2 * math.pi, n)
        return np.stack([np.sin(ang), np.cos(ang)], axis=1)  # (y, x)
    v = rng.normal(size=(n, ndim))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _cells(shape, spacing, n_cells, radius, layout, rng) -> np.ndarray:
    """Union of discs/balls of calibrated ``radius``."""
    ndim = len(shape)
    if layout == "grid":
        per = max(1, round(n_cells ** (1 / 2)))
        centres = []
        for iy, ix in itertools.product(range(per), range(per)):
            c = [shape[0] / 2] * (ndim - 2) + [
                (iy + 0.5) * shape[-2] / per, (ix + 0.5) * shape[-1] / per]
            centres.append(c)
        centres = np.array(centres[:n_cells])
    else:
        centres = rng.uniform(0, 1, size=(n_cells, ndim)) * np.array(shape)
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    mask = np.zeros(shape, dtype=bool)
    for c in centres:
        d2 = sum(((g - ci) * s) ** 2 for g, ci, s in zip(grids, c, spacing))
        mask |= d2 <= radius**2
    return mask


def _render(shape, points, sigma_px, amplitude) -> np.ndarray:
    """Bilinear splat of unit spots, then Gaussian blur; peak height ~ ``amplitude``."""
    img = np.zeros(shape, dtype=np.float64)
    ndim = len(shape)
    if len(points):
        base = np.floor(points).astype(int)
        frac = points - base
        for corner in itertools.product((0, 1), repeat=ndim):
            idx = base + np.array(corner)
            w = np.prod(np.where(np.array(corner), frac, 1 - frac), axis=1)
            ok = np.all((idx >= 0) & (idx < np.array(shape)), axis=1)
            np.add.at(img, tuple(idx[ok].T), w[ok])
    img = ndimage.gaussian_filter(img, sigma_px, mode="constant")
    norm = (2 * math.pi) ** (ndim / 2) * math.prod(sigma_px)
    return img * (amplitude * norm)


def correlated_pairs(
    shape=(256, 256),
    *,
    distance: float = 8.0,
    n_pairs: int = 200,
    n_unpaired: tuple[int, int] = (0, 0),
    scale=None,
    psf_sigma=None,
    amplitude: float = 100.0,
    background: float = 0.0,
    noise: float = 0.0,
    cells: int = 0,
    cell_radius: float | None = None,
    cell_layout: str = "grid",
    cell_signal: tuple[float, float] = (0.0, 0.0),
    seed: int | None = 0,
) -> CorrelatedPairs:
    """Two images with spots paired at ``distance`` (see module docstring).

    Parameters
    ----------
    shape : tuple of int
        ``(y, x)`` or ``(z, y, x)``.
    distance : float
        Pair distance in calibrated units (0 = colocalised spots).
    n_pairs : int
        Number of pairs.
    n_unpaired : (int, int)
        Extra unpaired spots in image 1 and image 2.
    scale : sequence of float, optional
        Pixel size ``x, y[, z]`` (default 1).
    psf_sigma : float or sequence of float, optional
        PSF standard deviation in calibrated units, one value or one per axis ``x, y[, z]``
        (an anisotropic PSF, e.g. elongated in z); default 1.5 x-pixels.
    amplitude : float
        Peak height of a spot.
    background, noise : float
        Constant added to both images, standard deviation of added Gaussian noise.
    cells : int
        Number of cells (0 = no cells, no mask); spots are placed inside cells.
    cell_radius : float, optional
        Cell radius in calibrated units (default: a quarter of the grid spacing).
    cell_layout : {"grid", "random"}
        Cells on a regular grid (a repetitive pattern) or at random places.
    cell_signal : (float, float)
        Uniform intensity added inside the cells in image 1 and image 2.
    seed : int, optional
        Random seed.
    """
    shape = tuple(int(n) for n in shape)
    ndim = len(shape)
    if ndim not in (2, 3) or min(shape) < 2:
        raise InputError(f"shape must be 2D or 3D with sides >= 2; got {shape}")
    sc = (1.0,) * ndim if scale is None else tuple(float(s) for s in scale)
    if len(sc) != ndim or min(sc) <= 0:
        raise InputError(f"scale must have {ndim} positive values (x,y[,z]); got {scale!r}")
    if distance < 0 or n_pairs < 0 or min(n_unpaired) < 0:
        raise InputError("distance and spot numbers must not be negative")
    if cell_layout not in ("grid", "random"):
        raise InputError("cell_layout must be 'grid' or 'random'")
    spacing = np.array(sc[::-1])  # array order
    rng = np.random.default_rng(seed)
    if psf_sigma is None:
        psf = (1.5 * sc[0],) * ndim
    elif np.ndim(psf_sigma) == 0:
        psf = (float(psf_sigma),) * ndim
    else:
        psf = tuple(float(v) for v in psf_sigma)
        if len(psf) != ndim or min(psf) <= 0:
            raise InputError(f"psf_sigma must be one value or {ndim} positive values (x,y[,z])")
    sigma_px = tuple(p / s for p, s in zip(psf[::-1], spacing))
    mask = None
    if cells:
        if cell_radius is None:
            per = max(1, round(cells ** 0.5))
            cell_radius = 0.25 * min(shape[-1] * sc[0], shape[-2] * sc[1]) / per
        mask = _cells(shape, spacing, cells, cell_radius, cell_layout, rng)
        if not mask.any():
            raise InputError("the cells do not cover any pixel; increase cell_radius")
    hi = np.array(shape) - 1.0

    def inside(p):
        ok = np.all((p >= 0) & (p <= hi), axis=1)
        if mask is not None:
            idx = np.clip(np.rint(p).astype(int), 0, hi.astype(int))
            ok &= mask[tuple(idx.T)]
        return ok

    def draw(n, paired):
        got1, got2 = [], []
        count = 0
        for _ in range(1000):
            if count >= n:
                break
            m = max(2 * (n - count), 16)
            p = rng.uniform(0, 1, size=(m, ndim)) * hi
            ok = inside(p)
            if paired:
                # partners are not required to fall inside (that would bias the density
                # towards the centre); those outside the image are simply not seen
                q = p + distance * _directions(rng, m, ndim) / spacing
                got2.append(q[ok])
            got1.append(p[ok])
            count += int(ok.sum())
        p = np.concatenate(got1)[:n] if got1 else np.zeros((0, ndim))
        q = np.concatenate(got2)[:n] if got2 else np.zeros((0, ndim))
        if len(p) < n:
            raise InputError("could not place the spots; use a larger image or cells")
        return p, q

    p1, p2 = draw(n_pairs, True)
    u1, _ = draw(n_unpaired[0], False)
    u2, _ = draw(n_unpaired[1], False)
    img1 = _render(shape, np.concatenate([p1, u1]), sigma_px, amplitude)
    img2 = _render(shape, np.concatenate([p2, u2]), sigma_px, amplitude)
    if mask is not None:
        img1 += cell_signal[0] * mask
        img2 += cell_signal[1] * mask
    img1 += background
    img2 += background
    if noise:
        img1 += rng.normal(0, noise, shape)
        img2 += rng.normal(0, noise, shape)
    return CorrelatedPairs(img1.astype(np.float32), img2.astype(np.float32), mask, p1, p2,
                           float(distance), sc)
