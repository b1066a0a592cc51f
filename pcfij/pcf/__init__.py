"""Image pair correlation function (ipCF) analysis of image time series.

The building blocks follow the tutorial's definitions (:func:`circle`, :func:`logbins`,
:func:`correlate`, :func:`average`, :func:`smooth`, :func:`correct_bleaching`);
:func:`ipcf` computes all curves of an image time series with a fast algorithm on the CPU
(numba + BLAS) or GPU (CuPy) that reproduces the tutorial's reference, and returns them as
an :class:`IPCFResult` (which works as the pCF array).
"""

from pcfij.pcf.basics import average, bin_delays, circle, correlate, logbins, pow2_frames, smooth
from pcfij.pcf.bleach import correct_bleaching
from pcfij.pcf.ipcf import frames_used, ipcf, ipcf_bins, ipcf_tile_size
from pcfij.pcf.result import IPCFResult

__all__ = [
    "IPCFResult",
    "average",
    "bin_delays",
    "circle",
    "correct_bleaching",
    "correlate",
    "frames_used",
    "ipcf",
    "ipcf_bins",
    "ipcf_tile_size",
    "logbins",
    "pow2_frames",
    "smooth",
]
