"""Declarations of the ipCF commands: ``pcf``, ``bleach``, ``simulate``, ``demo``.

The parameters :func:`pcfij.pcf.ipcf` checks itself are defined once in
:mod:`pcfij.pcf.parameters`; the adapter-only options (``python=False``) are added here.
"""

from __future__ import annotations

from pcfij.params import REQUIRED, Command, Param
from pcfij.pcf import correct_bleaching, ipcf
from pcfij.pcf.parameters import DEVICE, PCF_PARAMS
from pcfij.simulate import simulate_channel

OUTPUT = Param("output", "path", REQUIRED, "output folder (or .zarr/.h5 for big data)",
               cli="-o", imagej=False, python=False)
OVERWRITE = Param("overwrite", "bool", False, "replace an existing output", imagej=False,
                  python=False)


def _cli(name: str, kind: str, default, help: str, **kw) -> Param:
    """An adapter-only parameter (not in the ImageJ dialog, not an engine argument)."""
    return Param(name, kind, default, help, imagej=False, python=False, **kw)


PCF = Command(
    name="pcf",
    title="pCF Analysis",
    summary="Image pair correlation function (ipCF) of an image time series",
    params=PCF_PARAMS + (
        OUTPUT,
        OVERWRITE,
        _cli("frame_size", "str", None, "frame size HxW of raw .bin input (SimFCS), e.g. 64x64"),
        _cli("frames", "str", None, "time range start:stop to analyse"),
        _cli("roi", "str", None, "region y0:y1,x0:x1 to analyse"),
        _cli("memory_limit", "str", None,
             "memory limit for the out-of-core pipeline, e.g. 4GB"),
        _cli("scheduler", "str", None, "dask.distributed scheduler address (tcp://host:8786)"),
        _cli("skip_bad", "bool", False,
             "fill unreadable frames of a TIFF folder instead of stopping"),
        _cli("dataset", "str", None, "dataset name inside an HDF5/Zarr input"),
        _cli("figures", "bool", True, "write PNG figures"),
    ),
    function=ipcf,
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
              choices=("uint16", "float32"), key="type", cli="--type", arg="output"),
        Param("mean", "choice", "integer",
              "trace mean: integer (tutorial-exact) or exact", choices=("integer", "exact")),
        _cli("output", "path", REQUIRED, "output TIFF file", cli="-o"),
        _cli("frame_size", "str", None, "frame size HxW of raw .bin input"),
        OVERWRITE,
    ),
    function=correct_bleaching,
)

SIMULATE = Command(
    name="simulate",
    title="",
    summary="Simulate particles diffusing with a diagonal channel (uint16 TIFF time series)",
    params=(
        Param("output", "path", REQUIRED, "output TIFF file", cli="-o", python=False),
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
    function=simulate_channel,
)

DEMO = Command(
    name="demo",
    title="",
    summary="Simulate the channel data set, run ipCF on it, write results and figures",
    params=(
        Param("output", "path", "pcfij-demo", "output folder", cli="-o", python=False),
        Param("ntimes", "int", 16384, "number of simulated frames", min=64, cli="--frames",
              python=False),
        Param("device", "choice", DEVICE.default, DEVICE.help, choices=DEVICE.choices,
              python=False),
        OVERWRITE,
    ),
    function=None,  # a CLI walk-through: simulate_channel, then ipcf, then the figures
)

COMMANDS = (PCF, BLEACH, SIMULATE, DEMO)
