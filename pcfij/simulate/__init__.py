"""Synthetic data with known answers.

* :func:`simulate_channel` -- particles diffusing with a diagonal channel (ipCF);
* :func:`correlated_pairs` -- spots in image 1 with partners in image 2 at a known
  distance (CCC), in :mod:`pcfij.simulate.pairs`;
* :func:`speckle`, :func:`smooth_field`, :func:`warp`, :func:`random_walk`,
  :func:`drift_stack` -- images with known shifts, deformations and drift (shift finding),
  in :mod:`pcfij.simulate.shifts`.
"""

from pcfij.simulate.diffusion import ChannelGeometry, simulate_channel
from pcfij.simulate.pairs import correlated_pairs
from pcfij.simulate.shifts import drift_stack, random_walk, shift_image, smooth_field, speckle, warp

__all__ = [
    "ChannelGeometry",
    "correlated_pairs",
    "drift_stack",
    "random_walk",
    "shift_image",
    "simulate_channel",
    "smooth_field",
    "speckle",
    "warp",
]
