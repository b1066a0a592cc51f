"""The parameters of :func:`pcfij.pcf.ipcf`, defined once: the engine checks its arguments
with them (:func:`pcfij.params.check_values`) and the command declaration
(:mod:`pcfij.commands.pcf`) lists them with the adapter-only options.
"""

from __future__ import annotations

from pcfij.params import REQUIRED, Param

DEVICE = Param(
    "device", "choice", "auto", "where to compute: auto (GPU if available), cpu or gpu",
    choices=("auto", "cpu", "gpu"),
)
PCF_PARAMS = (
    Param("data", "image", REQUIRED,
          "image time series: TIFF, .npy, SimFCS .bin, a folder of TIFF files, .h5 or .zarr"),
    Param("radius", "int", 6, "distance of the neighbour pixels", min=1, max=1000, unit="pixels"),
    Param("npoints", "int", 32, "number of points on the circle", min=1, max=4096,
          key="points", cli="--points"),
    Param("nbins", "int", 32, "maximum number of logarithmic delay bins", min=2, max=128,
          key="bins", cli="--bins"),
    Param("bleach_filter", "int", 0,
          "photobleaching correction filter size (0 = none); drops 2x this many frames",
          min=0, unit="frames"),
    Param("pow2", "bool", False,
          "use only the first 2**k frames, like the tutorial (exact tutorial semantics)"),
    Param("smooth", "bool", True, "smooth the curves like the tutorial"),
    Param("mask", "image", None, "centre pixels to analyse (non-zero = analyse)", optional=True,
          cli="--mask"),
    DEVICE,
)
