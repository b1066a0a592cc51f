"""Declarations of the big-data commands: ``pcfij convert``, ``pcfij regions``, ``pcfij export``.

The blocked ipCF itself runs through ``pcfij pcf`` (declared in :mod:`pcfij.commands.pcf`),
which hands big inputs/outputs to :func:`pcfij.blocks.pipeline.run_blocked_ipcf`.
"""

from __future__ import annotations

from pcfij.io.convert import convert_series
from pcfij.params import REQUIRED, Command, Param
from pcfij.regions import find_regions

_INPUT_TEXT = "image time series: folder of TIFF files, TIFF, .h5/.hdf5, .zarr, .npy or raw .bin"
_INPUT = Param("data", "image", REQUIRED, _INPUT_TEXT, arg="source")
_INPUT_CLI = Param("data", "image", REQUIRED, _INPUT_TEXT, python=False)
_DATASET = Param("dataset", "str", None, "dataset name inside an HDF5/Zarr input", imagej=False)
_DATASET_CLI = Param("dataset", "str", None, "dataset name inside an HDF5/Zarr input",
                     imagej=False, python=False)
_FRAME_SIZE = Param(
    "frame_size", "str", None, "frame size HxW of raw .bin input, e.g. 64x64", imagej=False,
    python=False,
)
_OVERWRITE = Param("overwrite", "bool", False, "replace an existing output", imagej=False)
_OVERWRITE_CLI = Param("overwrite", "bool", False, "replace an existing output", imagej=False,
                       python=False)

CONVERT = Command(
    name="convert",
    title="",
    summary="Convert a big image time series (e.g. a folder of TIFF files) to chunked "
    "Zarr or HDF5 with time-contiguous chunks",
    params=(
        _INPUT,
        Param(
            "output",
            "path",
            REQUIRED,
            "output .zarr folder or .h5/.hdf5 file",
            cli="-o",
            imagej=False,
        ),
        Param("roi", "str", None, "region y0:y1,x0:x1 to keep", imagej=False),
        Param("frames", "str", None, "time range start:stop to keep", imagej=False),
        Param(
            "chunks",
            "str",
            None,
            "chunk shape T,Y,X (default 1024,32,32 for Zarr, 512,16,16 for HDF5)",
            imagej=False,
        ),
        Param("memory_limit", "str", "2GB", "memory for the frames being converted", imagej=False),
        Param(
            "skip_bad",
            "bool",
            False,
            "fill missing/unreadable TIFF files by interpolation instead of stopping",
            imagej=False,
        ),
        _DATASET,
        _FRAME_SIZE,
        _OVERWRITE,
    ),
    function=convert_series,
)

REGIONS = Command(
    name="regions",
    title="",
    summary="Find cell regions (boxes to analyse) in an image series like the tutorial; "
    "print their --roi strings and draw them in a PNG",
    params=(
        _INPUT_CLI,
        Param(
            "output",
            "path",
            None,
            "PNG file showing the regions (optional)",
            cli="-o",
            imagej=False,
            python=False,
        ),
        Param("frames", "str", "0:1", "frames start:stop averaged for the selection", imagej=False,
              python=False),
        Param("sigma", "float", 4.0, "Gaussian smoothing", min=0, unit="pixels"),
        Param(
            "threshold",
            "float",
            0.0,
            "threshold on the normalised smoothed image, 0 = its mean",
            min=0,
            max=1,
        ),
        Param(
            "closegaps", "int", 10, "size of the square closing small gaps", min=0, unit="pixels"
        ),
        Param("minarea", "int", 4096, "smallest region kept (exclusive)", min=0, unit="pixels"),
        Param(
            "pow2size", "int", 6, "expand boxes to multiples of 2**pow2size pixels", min=0, max=16
        ),
        Param("clear_border", "bool", True, "drop regions touching the image border"),
        _DATASET_CLI,
        _FRAME_SIZE,
        _OVERWRITE_CLI,
    ),
    function=find_regions,  # on the mean of the frames
)

EXPORT = Command(
    name="export",
    title="",
    summary="Export (part of) a blocked ipCF result (.zarr/.h5) as an ImageJ hyperstack TIFF",
    params=(
        Param("data", "image", REQUIRED, "result of 'pcfij pcf ... -o result.zarr' (or .h5)"),
        Param("output", "path", REQUIRED, "output TIFF file", cli="-o", imagej=False),
        Param("points", "str", None, "circle points start:stop (default all)", imagej=False),
        Param("bins", "str", None, "delay bins start:stop (default all)", imagej=False),
        Param("roi", "str", None, "result pixels y0:y1,x0:x1 (default all)", imagej=False),
        _OVERWRITE_CLI,
    ),
    function=None,  # a file-format adapter: result store -> ImageJ TIFF
)

COMMANDS = (CONVERT, REGIONS, EXPORT)
