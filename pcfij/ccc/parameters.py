"""The parameters of :func:`pcfij.ccc.ccc` and :func:`pcfij.ccc.cross_correlation_profile`,
defined once: the engine checks its arguments with them (:func:`pcfij.params.check_values`) and
the command declarations (:mod:`pcfij.commands.ccc`) list them with the adapter-only options.

Macro keys are the Fiji plugin's own parameter names (``dataset1``, ``dataset2``,
``maskdataset``, ``significantdigits``, ``showintermediates``, ``generatecontributionimages``),
so macros recorded with the plugin keep working.
"""

from __future__ import annotations

from pcfij.params import REQUIRED, Param

IMAGE1 = Param("image1", "image", REQUIRED, "first image (2D/3D, optionally a time series)",
               key="dataset1", aliases=("image1",))
IMAGE2 = Param("image2", "image", REQUIRED, "second image, same size as the first",
               key="dataset2", aliases=("image2",))
MASK = Param("mask", "image", None,
             "mask of every place the signal could be (non-zero = inside); same size as the "
             "images or as one frame of a time series", key="maskdataset", cli="--mask",
             optional=True, aliases=("mask",))
SCALE = Param("scale", "floats", None,
              "pixel size x,y[,z] in calibrated units (default: the TIFF calibration, else 1)",
              optional=True, imagej=False)
TIME_AXIS = Param("time_axis", "int", None,
                  "array axis holding time (default: from the TIFF axes; none for arrays)",
                  optional=True, imagej=False)
DIGITS = Param("significant_digits", "int", None,
               "significant digits in the results tables (default: full precision)",
               min=1, max=17, key="significantdigits", optional=True)
INTERMEDIATES = Param("intermediates", "bool", False,
                      "also output the correlation images (original, subtracted, Gaussian-"
                      "modified); uses more memory", key="showintermediates")
CONTRIB = Param("contributions", "bool", False,
                "also output the contribution of each image to the Gaussian fit; uses more "
                "memory", key="generatecontributionimages")
CONFIDENCE = Param("confidence", "bool", True,
                   "compute the original correlation and the confidence (--no-confidence: "
                   "less memory, as 'CCC - No confidence')", imagej=False)
METHOD = Param("method", "choice", "plugin",
               "plugin: the Fiji plugin's numbers (Gaussian on the radial profile); unbiased: "
               "distances from the true zero shift with a blurred ring/shell model and a 95% "
               "interval (see docs/ccc.md)", choices=("plugin", "unbiased"))
DEVICE = Param("device", "choice", "auto", "compute on the CPU or an NVIDIA GPU (CuPy)",
               choices=("auto", "cpu", "gpu"))

#: what :func:`pcfij.ccc.ccc` checks
CCC_PARAMS = (IMAGE1, IMAGE2, MASK, SCALE, TIME_AXIS, DIGITS, INTERMEDIATES, CONTRIB,
              CONFIDENCE, METHOD, DEVICE)
#: what :func:`pcfij.ccc.cross_correlation_profile` checks
XCORR_PARAMS = (IMAGE1, IMAGE2, MASK, SCALE, TIME_AXIS, DIGITS, DEVICE)
