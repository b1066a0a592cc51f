"""Synthetic data with known shifts: speckle images, smooth deformation fields, drift.

Conventions match :mod:`pcfij.shift`: a shift or drift ``(dx, dy)`` moves image content by
``dx`` columns and ``dy`` rows (``scipy.ndimage.shift(img, (dy, dx))``), and the shift
finders then report ``(-dx, -dy)``; :func:`pcfij.shift.register_stack` reports the drift
itself, ``(dx, dy)``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from pcfij.errors import InputError


def speckle(shape, *, sigma: float = 1.5, offset: float = 0.2, seed: int = 0) -> np.ndarray:
    """A random speckle image or stack: uniform noise smoothed by a Gaussian, in (offset, 1+).

    Parameters
    ----------
    shape : tuple of int
        (H, W) or (D, H, W); a stack is smoothed in-plane only (independent planes).
    sigma : float
        Speckle size (Gaussian sigma in pixels).
    offset : float
        Added constant (keeps the image positive, like fluorescence).
    seed : int
        Random seed.

    Returns
    -------
    ndarray, float64
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise InputError(f"shape must be (H, W) or (D, H, W); got {shape}")
    rng = np.random.default_rng(seed)
    noise = rng.random(shape)
    sig = (0.0,) * (len(shape) - 2) + (sigma, sigma)
    img = ndi.gaussian_filter(noise, sig, mode="wrap")
    img -= img.mean()
    img /= img.std() * 4.0
    return img + 0.5 + offset


def shift_image(img: np.ndarray, dx: float, dy: float, *, order: int = 3) -> np.ndarray:
    """Shift a 2D image (or every plane of a stack) by (dx, dy) with spline interpolation."""
    img = np.asarray(img, dtype=np.float64)
    sh = (0.0,) * (img.ndim - 2) + (float(dy), float(dx))
    return ndi.shift(img, sh, order=order, mode="nearest")


def smooth_field(shape, *, amplitude: float = 1.0, period: float = 64.0, seed: int = 0):
    """A smooth deformation field (dx, dy), each a sum of a few long-wavelength sinusoids.

    Parameters
    ----------
    shape : (H, W)
        Field size.
    amplitude : float
        Peak displacement in pixels (about).
    period : float
        Shortest spatial period in pixels; keep it several times the search window.
    seed : int
        Random seed.

    Returns
    -------
    dx, dy : ndarray, float64, shape (H, W)
    """
    h, w = (int(s) for s in shape)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = []
    for _ in range(2):
        f = np.zeros((h, w))
        for _k in range(3):
            p = period * rng.uniform(1.0, 2.0)
            ang = rng.uniform(0, np.pi)
            ph = rng.uniform(0, 2 * np.pi)
            f += np.sin(2 * np.pi * (xx * np.cos(ang) + yy * np.sin(ang)) / p + ph)
        out.append(amplitude * f / 3.0)
    return out[0], out[1]


def warp(img: np.ndarray, dx: np.ndarray, dy: np.ndarray, *, order: int = 3) -> np.ndarray:
    """Deform an image (or every plane of a stack): ``out(p) = img(p - d(p))``.

    Locally this is a shift by ``d(p)``, so local shift finders report about ``-d``.
    """
    img = np.asarray(img, dtype=np.float64)
    h, w = img.shape[-2:]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    coords = np.array([yy - dy, xx - dx])
    if img.ndim == 2:
        return ndi.map_coordinates(img, coords, order=order, mode="nearest")
    return np.stack([ndi.map_coordinates(p, coords, order=order, mode="nearest") for p in img])


def random_walk(nframes: int, *, step: float = 0.3, seed: int = 0) -> np.ndarray:
    """A random-walk drift: (nframes, 2) array of (dx, dy), zero at frame 0.

    ``step`` is the standard deviation of each per-frame Gaussian step (pixels, per axis).
    """
    if nframes < 1:
        raise InputError("nframes must be at least 1")
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, step, (nframes, 2))
    steps[0] = 0.0
    return np.cumsum(steps, axis=0)


def drift_stack(frames: np.ndarray, drift: np.ndarray, *, order: int = 3) -> np.ndarray:
    """Apply a per-frame drift: frame t is shifted by ``drift[t] = (dx, dy)``.

    ``frames`` is (T, H, W) (one image per frame) or (H, W) (the same image every frame).
    Returns float64 (T, H, W).
    """
    drift = np.asarray(drift, dtype=np.float64)
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim == 2:
        frames = np.broadcast_to(frames, (len(drift),) + frames.shape)
    if len(frames) != len(drift):
        raise InputError(f"{len(frames)} frames but {len(drift)} drift values")
    return np.stack([shift_image(f, dx, dy, order=order) for f, (dx, dy) in zip(frames, drift)])
