"""Declarations of the shift commands: ``shift`` and ``drift`` (CLI, ImageJ dialog, macro options).

``pcfij shift REF MOVING`` prints the global (x, y) shift; with ``--local -o maps.tif`` it
writes the local x/y shift maps. ``pcfij drift STACK -o corrected.tif [--table drift.csv]``
corrects the drift of a time series or z-stack. The Python functions behind them are
:func:`pcfij.shift.find_shift_based_correlation_map`, :func:`pcfij.shift.find_local_shifts`
and :func:`pcfij.shift.register_stack`.
"""

from __future__ import annotations

from pcfij.params import REQUIRED, Command, Param
from pcfij.shift import find_local_shifts, register_stack

SUBPIXEL = Param("method", "choice", "diff",
                 "sub-pixel peak method: finite differences or least-squares fit",
                 choices=("diff", "poly_fit"))
SIZE = Param("size", "int", 3, "sub-pixel fit window for poly_fit (odd, 3..9)", min=1, max=99,
             unit="pixels")
MARGIN = Param("margin", "int", 10, "search range: largest shift looked for", min=0,
               unit="pixels")


def device_arguments(choice: str, *, local: bool) -> dict:
    """The shift functions' device keywords for the ``gpu`` choice (``--device``, ``device=``).

    ``cpu``/``gpu``/``auto`` are pcfij's ``device=`` (``gpu`` without a GPU is refused, as in
    ipCF and CCC); only ``hybrid`` is algotom's ``gpu="hybrid"`` (GPU maps, CPU peaks) for
    local maps, and ``gpu=True`` for a global shift; it warns and runs on the CPU without a GPU.
    """
    if choice == "hybrid":
        return {"gpu": "hybrid" if local else True}
    return {"device": choice}


OVERWRITE = Param("overwrite", "bool", False, "replace existing output files", imagej=False,
                  python=False)

SHIFT = Command(
    name="shift",
    title="Find Shift",
    summary="Shift between two images (global x, y) or local shift maps (--local)",
    params=(
        Param("ref", "image", REQUIRED, "reference image (2D, or a stack for 3D matching)",
              arg="ref_mat"),
        Param("moving", "image", REQUIRED, "image whose shift is measured (same size)",
              arg="mat"),
        Param("local", "bool", False, "compute local shift maps (x and y per pixel)",
              python=False),
        MARGIN,
        Param("win_size", "int", 7, "local window size (made odd)", min=1, unit="pixels",
              key="window", cli="--win-size"),
        Param("dim", "choice", 1,
              "for stacks: search x and y separately (1) or together (2)", choices=(1, 2)),
        SUBPIXEL,
        SIZE,
        Param("gpu", "choice", "cpu", "where to compute (hybrid: GPU maps, CPU peaks)",
              choices=("cpu", "gpu", "auto", "hybrid"), key="device", cli="--device"),
        Param("ncore", "int", None, "CPU threads (default: all)", min=1, optional=True),
        Param("norm", "bool", True, "normalise the images by row and column sums first"),
        Param("chunk_size", "int", 100, "rows per chunk for stacks", min=1, unit="rows",
              key="chunk"),
        Param("output", "path", None,
              "output: TIFF of the x/y shift maps (--local) or CSV of x, y", cli="-o",
              optional=True, imagej=False, python=False),
        Param("plot", "path", None, "also save a vector-field plot of the local shifts (PNG)",
              optional=True, imagej=False, python=False),
        OVERWRITE,
    ),
    function=find_local_shifts,  # without --local: find_shift_based_correlation_map
)

DRIFT = Command(
    name="drift",
    title="Correct Drift",
    summary="Find and correct the x/y drift of an image time series or z-stack",
    params=(
        Param("stack", "image", REQUIRED, "time series or z-stack (TIFF, .npy)"),
        Param("reference", "str", "first",
              "register against: first, mean, or a frame number (0-based)"),
        Param("method", "choice", "correlation",
              "correlation (Pearson map, search range = margin) or phase (FFT, any range)",
              choices=("correlation", "phase")),
        MARGIN,
        Param("sub_pixel_method", "choice", "diff", "sub-pixel peak method (correlation)",
              choices=("diff", "poly_fit"), key="subpixel", cli="--subpixel"),
        Param("block", "int", 1, "average this many frames per drift estimate (noisy data)",
              min=1, unit="frames"),
        Param("order", "int", 3, "interpolation order (1 linear, 3 cubic)", min=0, max=5),
        Param("mode", "choice", "constant", "fill of pixels moved in from outside",
              choices=("constant", "nearest", "reflect", "mirror"), key="fill", cli="--fill"),
        Param("gpu", "choice", "cpu", "where to compute correlation maps",
              choices=("cpu", "gpu", "auto"), key="device", cli="--device"),
        Param("output", "path", REQUIRED, "corrected stack (ImageJ TIFF)", cli="-o",
              imagej=False, python=False),
        Param("table", "path", None, "also write the drift table (CSV: frame, dx, dy, at_margin)",
              optional=True, imagej=False, python=False),
        OVERWRITE,
    ),
    function=register_stack,
)

COMMANDS = (SHIFT, DRIFT)
