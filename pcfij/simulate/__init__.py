"""Synthetic data with known answers.

* :func:`simulate_channel` -- particles diffusing with a diagonal channel (ipCF);
* :mod:`pcfij.simulate.pairs` -- correlated spot pairs in two images (CCC);
* :mod:`pcfij.simulate.shifts` -- speckle images, deformation fields and drift (shift finding).
"""

from pcfij.simulate.diffusion import ChannelGeometry, simulate_channel

__all__ = ["ChannelGeometry", "simulate_channel"]
