"""Fluorescent particles diffusing on a pixel grid with barriers (ipCF known-answer data).

Modelled on the tutorial's SimFCS "Simulation_Channel" data: a 64 x 64 grid with a diagonal
channel about 300 nm wide whose walls particles cannot cross, so particles inside the
channel move only along it and particles outside never enter it. The pair correlation at
distance ``r`` therefore shows a delayed maximum for pairs along the channel and nothing
for pairs across a wall -- the known answer used by the tests and the demo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from scipy import ndimage

from pcfij.errors import InputError


@dataclass(frozen=True)
class ChannelGeometry:
    """Where the channel is: pixels with ``|x - y| < width / 2`` (periodic diagonal band).

    Attributes
    ----------
    size : int
        Grid side length in pixels.
    width : float
        Channel width across its axis in pixels (0 = no channel, free diffusion).
    """

    size: int
    width: float

    def inside(self) -> np.ndarray:
        """Boolean (size, size) map of the pixels inside the channel (y, x indexing)."""
        y, x = np.mgrid[0 : self.size, 0 : self.size] + 0.5
        return _band_distance(x, y, self.size) < self.width / 2.0


def _band_distance(x, y, size):
    """Perpendicular distance of points from the periodic diagonal ``x == y``."""
    d = np.mod(x - y + size / 2.0, size) - size / 2.0
    return np.abs(d) / math.sqrt(2.0)


@numba.njit(parallel=True, cache=True)
def _walk(pos, inside_flag, ntimes, substeps, step_sigma, size, half_width, seed):  # noqa: E501
    """Random walks with reflecting channel walls; returns (ntimes, nparticles, 2) positions.

    Particles are independent: each has its own seed, so results do not depend on threads.
    """
    n = pos.shape[0]
    out = np.empty((ntimes, n, 2), np.float32)
    sq2 = math.sqrt(2.0)
    for p in numba.prange(n):
        np.random.seed(seed + p)
        x0 = pos[p, 0]
        y0 = pos[p, 1]
        for t in range(ntimes):
            for _ in range(substeps):
                x = (x0 + np.random.normal() * step_sigma) % size
                y = (y0 + np.random.normal() * step_sigma) % size
                if half_width > 0:
                    d = ((x - y + size / 2.0) % size - size / 2.0) / sq2
                    if (abs(d) < half_width) != inside_flag[p]:
                        continue  # a wall: reject the move
                x0 = x
                y0 = y
            out[t, p, 0] = x0
            out[t, p, 1] = y0
    return out


@numba.njit(parallel=True, cache=True)
def _render(tracks, size, weights):  # pragma: no cover
    ntimes, n = tracks.shape[0], tracks.shape[1]
    frames = np.zeros((ntimes, size, size), np.float32)
    for t in numba.prange(ntimes):
        for p in range(n):
            x = int(tracks[t, p, 0]) % size
            y = int(tracks[t, p, 1]) % size
            frames[t, y, x] += weights[t]
    return frames


@numba.njit(parallel=True, cache=True)
def _poisson_frames(expected, seed, out):  # pragma: no cover - compiled
    """Poisson counts per pixel; frame t uses its own seed, so threads do not matter."""
    for t in numba.prange(expected.shape[0]):
        np.random.seed(seed + t)
        for y in range(expected.shape[1]):
            for x in range(expected.shape[2]):
                v = np.random.poisson(expected[t, y, x])
                out[t, y, x] = min(v, 65535)


def simulate_channel(
    ntimes: int = 32000,
    size: int = 64,
    *,
    channel_width: float = 6.0,
    density: float = 0.05,
    diffusion: float = 0.5,
    brightness: float = 40.0,
    background: float = 2.0,
    psf_sigma: float = 0.0,
    bleach_halflife: float | None = None,
    seed: int = 42,
) -> np.ndarray:
    """Simulate a fluorescence image time series of particles diffusing with a channel.

    Parameters
    ----------
    ntimes : int
        Number of frames ``T``.
    size : int
        Grid side in pixels (frames are ``size x size``).
    channel_width : float
        Width of the diagonal channel in pixels (6 px = 300 nm at 50 nm pixels, like the
        tutorial's data); 0 for free diffusion everywhere.
    density : float
        Particles per pixel.
    diffusion : float
        Diffusion coefficient in pixel**2 per frame.
    brightness : float
        Mean photon counts per particle per frame (before bleaching).
    background : float
        Mean background counts per pixel per frame.
    psf_sigma : float
        Gaussian point spread function sigma in pixels (0 = point-like pixels).
    bleach_halflife : float, optional
        Exponential photobleaching half-life in frames (None = no bleaching).
    seed : int
        Seed of the random generators (same seed, same data).

    Returns
    -------
    ndarray, shape (ntimes, size, size), uint16
        Photon counts with Poisson noise.
    """
    if ntimes < 1 or size < 4:
        raise InputError("ntimes must be >= 1 and size >= 4")
    if density <= 0 or diffusion <= 0 or brightness < 0 or background < 0:
        raise InputError("density and diffusion must be > 0; brightness, background >= 0")
    rng = np.random.default_rng(seed)
    nparticles = max(1, int(round(density * size * size)))
    pos = rng.uniform(0, size, (nparticles, 2))
    half = channel_width / 2.0
    inside = _band_distance(pos[:, 0], pos[:, 1], size) < half if half > 0 else np.zeros(
        nparticles, bool
    )
    # sub-steps keep each Gaussian step (sigma) at most 0.75 px, far below the channel width
    substeps = max(1, int(math.ceil(2.0 * diffusion / 0.75**2)))
    step_sigma = math.sqrt(2.0 * diffusion / substeps)
    tracks = _walk(pos, inside, ntimes, substeps, step_sigma, size, half,
                   int(rng.integers(0, 2**30)))
    weights = np.full(ntimes, brightness, np.float32)
    if bleach_halflife:
        weights *= np.exp2(-np.arange(ntimes) / float(bleach_halflife)).astype(np.float32)
    expected = _render(tracks, size, weights)
    if psf_sigma > 0:
        expected = ndimage.gaussian_filter(expected, (0, psf_sigma, psf_sigma), mode="wrap")
    expected += np.float32(background)
    out = np.empty(expected.shape, np.uint16)
    _poisson_frames(expected, int(rng.integers(0, 2**30)), out)
    return out
