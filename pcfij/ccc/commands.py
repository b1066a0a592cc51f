"""Command declarations of pcfij.ccc (CLI, ImageJ dialog, macro options).

Macro keys are the Fiji plugin's own parameter names (``dataset1``, ``dataset2``,
``maskabsent``, ``maskdataset``, ``significantdigits``, ``showintermediates``,
``generatecontributionimages``, ``savefolder``), so macros recorded with the plugin keep
working.
"""

from __future__ import annotations

from pcfij.params import REQUIRED, Command, Param

_IMAGE1 = Param("image1", "image", REQUIRED, "first image (2D/3D, optionally a time series)",
                key="dataset1", aliases=("image1",))
_IMAGE2 = Param("image2", "image", REQUIRED, "second image, same size as the first",
                key="dataset2", aliases=("image2",))
_NO_MASK = Param("no_mask", "bool", False,
                 "analyse the whole image without a mask (not recommended: without a mask the "
                 "cell-to-cell correlation is not removed)", key="maskabsent")
_MASK = Param("mask", "image", None,
              "mask of every place the signal could be (non-zero = inside); same size as the "
              "images or as one frame of a time series", key="maskdataset", cli="--mask",
              optional=True, aliases=("mask",))
_SCALE = Param("scale", "floats", None,
               "pixel size x,y[,z] in calibrated units (default: the TIFF calibration, else 1)",
               optional=True, imagej=False)
_TIME_AXIS = Param("time_axis", "int", None,
                   "array axis holding time (default: from the TIFF axes; none for arrays)",
                   optional=True, imagej=False)
_DIGITS = Param("significant_digits", "int", None,
                "significant digits in the results tables (default: full precision)",
                min=1, max=17, key="significantdigits", optional=True)
_INTERMEDIATES = Param("intermediates", "bool", False,
                       "also output the correlation images (original, subtracted, Gaussian-"
                       "modified); uses more memory", key="showintermediates")
_CONTRIB = Param("contributions", "bool", False,
                 "also output the contribution of each image to the Gaussian fit; uses more "
                 "memory", key="generatecontributionimages")
_CONFIDENCE = Param("confidence", "bool", True,
                    "compute the original correlation and the confidence (--no-confidence: "
                    "less memory, as 'CCC - No confidence')", imagej=False)
_METHOD = Param("method", "choice", "plugin",
                 "plugin: the Fiji plugin's numbers (Gaussian on the radial profile); unbiased: "
                 "distances from the true zero shift with a blurred ring/shell model and a 95% "
                 "interval (see docs/ccc.md)", choices=("plugin", "unbiased"))
_DEVICE = Param("device", "choice", "auto", "compute on the CPU or an NVIDIA GPU (CuPy)",
                choices=("auto", "cpu", "gpu"))
_OUTPUT = Param("output", "path", None,
                "output folder for tables, plots and images (written only when complete)",
                cli="-o", key="savefolder", optional=True)
_OVERWRITE = Param("overwrite", "bool", False, "replace an existing output folder",
                   imagej=False)

CCC = Command(
    name="ccc",
    title="Colocalization by Cross Correlation",
    summary="Mean distance, spread, confidence and R-squared of the spatial correlation of "
    "two images (Colocalization by Cross Correlation)",
    params=(_IMAGE1, _IMAGE2, _NO_MASK, _MASK, _SCALE, _TIME_AXIS, _DIGITS, _INTERMEDIATES,
            _CONTRIB, _CONFIDENCE, _METHOD, _DEVICE, _OUTPUT, _OVERWRITE),
    cli_runner="pcfij.cli.ccc:run",
)

CCC_NO_CONFIDENCE = Command(
    name="ccc-noconf",
    title="CCC - No confidence",
    summary="CCC without the original correlation and the confidence (less memory)",
    params=(_IMAGE1, _IMAGE2, _NO_MASK, _MASK, _SCALE, _TIME_AXIS, _DIGITS, _INTERMEDIATES,
            _CONTRIB, _METHOD, _DEVICE, _OUTPUT, _OVERWRITE),
    cli_runner="pcfij.cli.ccc:run_no_confidence",
)

XCORR = Command(
    name="xcorr",
    title="Just Cross Correlation",
    summary="Cross-correlation image and radial profile of two images, without a fit",
    params=(_IMAGE1, _IMAGE2, _NO_MASK, _MASK, _SCALE, _TIME_AXIS, _DIGITS, _DEVICE,
            _OUTPUT, _OVERWRITE),
    cli_runner="pcfij.cli.ccc:run_xcorr",
)

COMMANDS = (CCC, CCC_NO_CONFIDENCE, XCORR)
