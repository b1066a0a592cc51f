"""Declarations of the CCC commands: ``ccc``, ``ccc-noconf``, ``xcorr``.

The parameters the engine checks are defined once in :mod:`pcfij.ccc.parameters` (macro keys
are the Fiji plugin's: ``dataset1``, ``maskdataset`` ...); the adapter-only options
(``maskabsent``, ``savefolder``, ``--overwrite``) are added here.
"""

from __future__ import annotations

from pcfij.ccc import ccc, cross_correlation_profile
from pcfij.ccc.parameters import (
    CONFIDENCE,
    CONTRIB,
    DEVICE,
    DIGITS,
    IMAGE1,
    IMAGE2,
    INTERMEDIATES,
    MASK,
    METHOD,
    SCALE,
    TIME_AXIS,
)
from pcfij.params import Command, Param

NO_MASK = Param("no_mask", "bool", False,
                "analyse the whole image without a mask (not recommended: without a mask the "
                "cell-to-cell correlation is not removed)", key="maskabsent", python=False)
OUTPUT = Param("output", "path", None,
               "output folder for tables, plots and images (written only when complete)",
               cli="-o", key="savefolder", optional=True, python=False)
OVERWRITE = Param("overwrite", "bool", False, "replace an existing output folder",
                  imagej=False, python=False)

CCC = Command(
    name="ccc",
    title="Colocalization by Cross Correlation",
    summary="Mean distance, spread, confidence and R-squared of the spatial correlation of "
    "two images (Colocalization by Cross Correlation)",
    params=(IMAGE1, IMAGE2, NO_MASK, MASK, SCALE, TIME_AXIS, DIGITS, INTERMEDIATES,
            CONTRIB, CONFIDENCE, METHOD, DEVICE, OUTPUT, OVERWRITE),
    function=ccc,
)

CCC_NO_CONFIDENCE = Command(
    name="ccc-noconf",
    title="CCC - No confidence",
    summary="CCC without the original correlation and the confidence (less memory)",
    params=(IMAGE1, IMAGE2, NO_MASK, MASK, SCALE, TIME_AXIS, DIGITS, INTERMEDIATES,
            CONTRIB, METHOD, DEVICE, OUTPUT, OVERWRITE),
    function=ccc,  # with confidence=False
)

XCORR = Command(
    name="xcorr",
    title="Just Cross Correlation",
    summary="Cross-correlation image and radial profile of two images, without a fit",
    params=(IMAGE1, IMAGE2, NO_MASK, MASK, SCALE, TIME_AXIS, DIGITS, DEVICE,
            OUTPUT, OVERWRITE),
    function=cross_correlation_profile,
)

COMMANDS = (CCC, CCC_NO_CONFIDENCE, XCORR)
