"""Declarations of the ipCF commands (Python checks, CLI flags, ImageJ dialogs, macro keys)."""

from __future__ import annotations

from pcfij.params import REQUIRED, Command, Param

DEVICE = Param(
    "device", "choice", "auto", "where to compute: auto (GPU if available), cpu or gpu",
    choices=("auto", "cpu", "gpu"),
)
OUTPUT = Param("output", "path", REQUIRED, "output folder (or .zarr/.h5 for big data)",
               cli="-o", imagej=False)
OVERWRITE = Param("overwrite", "bool", False, "replace an existing output", imagej=False)

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

PCF = Command(
    name="pcf",
    title="pCF Analysis",
    summary="Image pair correlation function (ipCF) of an image time series",
    params=PCF_PARAMS + (
        OUTPUT,
        OVERWRITE,
        Param("frame_size", "str", None,
              "frame size HxW of raw .bin input (SimFCS), e.g. 64x64", imagej=False),
        Param("frames", "str", None, "time range start:stop to analyse", imagej=False),
        Param("roi", "str", None, "region y0:y1,x0:x1 to analyse", imagej=False),
        Param("memory_limit", "str", None,
              "memory limit for the out-of-core pipeline, e.g. 4GB", imagej=False),
        Param("scheduler", "str", None,
              "dask.distributed scheduler address (tcp://host:8786)", imagej=False),
        Param("skip_bad", "bool", False,
              "fill unreadable frames of a TIFF folder instead of stopping", imagej=False),
        Param("dataset", "str", None, "dataset name inside an HDF5/Zarr input", imagej=False),
        Param("figures", "bool", True, "write PNG figures", imagej=False),
    ),
    cli_runner="pcfij.cli.pcf:run_pcf",
)

BLEACH = Command(
    name="bleach",
    title="pCF Bleach Correction",
    summary="Photobleaching correction of an image time series (tutorial's method)",
    params=(
        Param("data", "image", REQUIRED, "image time series (TIFF, .npy, SimFCS .bin)"),
        Param("filtersize", "int", 1024, "trend filter size; drops 2x this many frames",
              min=1, unit="frames", key="filter", cli="--filter"),
        Param("output_type", "choice", "uint16", "output sample type",
              choices=("uint16", "float32"), key="type", cli="--type"),
        Param("mean", "choice", "integer",
              "trace mean: integer (tutorial-exact) or exact", choices=("integer", "exact")),
        Param("output", "path", REQUIRED, "output TIFF file", cli="-o", imagej=False),
        Param("frame_size", "str", None, "frame size HxW of raw .bin input", imagej=False),
        OVERWRITE,
    ),
    cli_runner="pcfij.cli.pcf:run_bleach",
)

SIMULATE = Command(
    name="simulate",
    title="",
    summary="Simulate particles diffusing with a diagonal channel (uint16 TIFF time series)",
    params=(
        Param("output", "path", REQUIRED, "output TIFF file", cli="-o"),
        Param("ntimes", "int", 32000, "number of frames", min=32, cli="--frames"),
        Param("size", "int", 64, "image width and height", min=8, unit="pixels"),
        Param("channel_width", "float", 6.0, "channel width (0 = none)", min=0, unit="pixels"),
        Param("density", "float", 0.05, "particles per pixel", min=1e-6),
        Param("diffusion", "float", 0.5, "diffusion coefficient", min=1e-6,
              unit="pixels^2/frame"),
        Param("brightness", "float", 40.0, "photons per particle per frame", min=0),
        Param("background", "float", 2.0, "background photons per pixel per frame", min=0),
        Param("psf_sigma", "float", 0.0, "Gaussian PSF sigma", min=0, unit="pixels"),
        Param("bleach_halflife", "float", None, "photobleaching half-life", min=1,
              unit="frames", optional=True),
        Param("seed", "int", 42, "random seed"),
        OVERWRITE,
    ),
    cli_runner="pcfij.cli.pcf:run_simulate",
)

DEMO = Command(
    name="demo",
    title="",
    summary="Simulate the channel data set, run ipCF on it, write results and figures",
    params=(
        Param("output", "path", "pcfij-demo", "output folder", cli="-o"),
        Param("ntimes", "int", 16384, "number of simulated frames", min=64, cli="--frames"),
        DEVICE,
        OVERWRITE,
    ),
    cli_runner="pcfij.cli.pcf:run_demo",
)

COMMANDS = (PCF, BLEACH, SIMULATE, DEMO)
