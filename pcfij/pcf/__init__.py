"""Image pair correlation function (ipCF) analysis of image time series.

The building blocks follow the tutorial's definitions (:func:`circle`, :func:`logbins`,
:func:`correlate`, :func:`average`, :func:`smooth`, :func:`correct_bleaching`);
:func:`ipcf` computes all curves of an image time series with a fast algorithm on the CPU
(numba + BLAS) or GPU (CuPy) that reproduces the tutorial's reference.
"""

from pcfij.pcf.basics import average, bin_delays, circle, correlate, logbins, pow2_frames, smooth
from pcfij.pcf.bleach import correct_bleaching
from pcfij.pcf.ipcf import ipcf, ipcf_bins, ipcf_tile_size

__all__ = [
    "average",
    "bin_delays",
    "circle",
    "correct_bleaching",
    "correlate",
    "ipcf",
    "ipcf_bins",
    "ipcf_tile_size",
    "logbins",
    "pow2_frames",
    "smooth",
]
