"""ImageJ runners: engine calls that turn NumPy inputs into ImageJ-shaped outputs.

Every runner is ``runner(values, inputs, ctx) -> Outputs``:

* ``values``: the command's checked parameter values (``Command.validate``);
* ``inputs``: ``{image parameter name: pcfij.io.tiff.Image or None}`` — arrays with their
  axes (letters of TZCYX) and calibration, from an ImagePlus (in-process bridge) or a TIFF
  file (``pcfij imagej-run``, used by the drop-in plugins);
* ``ctx``: progress/status callbacks (:class:`pcfij.imagej.outputs.Context`).

No Java here: the same runner feeds ``ImagePlus``/``ResultsTable`` objects and TIFF/CSV files.
:data:`RUNNERS` maps the command's CLI name to its runner.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from pcfij.errors import InputError, InputTypeError
from pcfij.imagej.runner_inputs import mask_plane, time_series
from pcfij.imagej.runner_inputs import stem as _stem
from pcfij.imagej.runner_inputs import title as _title
from pcfij.imagej.runner_inputs import warnings_to_log as _warnings_to_log
from pcfij.outputs import RESULTS, Context, OutImage, Outputs, OutTable
from pcfij.params import Command


# ----------------------------------------------------------------------------- pCF
def run_pcf(values: dict, inputs: dict, ctx: Context) -> Outputs:
    from pcfij.pcf import ipcf
    from pcfij.pcf.present import pcf_outputs

    img = inputs["data"]
    data = time_series(img, "the image")
    mask = mask_plane(inputs.get("mask"), data.shape[1:], "the mask")
    r, npoints, nbins = values["radius"], values["npoints"], values["nbins"]
    total = max(1, (data.shape[1] - 2 * r) * (data.shape[2] - 2 * r) * npoints)
    done = [0]

    def progress(n: int) -> None:
        done[0] += int(n)
        ctx.progress(done[0] / total)

    ctx.status("computing pair correlations")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = ipcf(data, r, npoints, nbins, pow2=values["pow2"],
                      bleach_filter=values["bleach_filter"], mask=mask,
                      smooth=values["smooth"], device=values["device"], progress=progress)
    out = pcf_outputs(result, result.frames_used, values, name=_stem(img),
                      calibration=img.calibration, source=str(img.path or ""),
                      region=getattr(img, "region", None))
    _warnings_to_log(caught, out)
    return out


def run_bleach(values: dict, inputs: dict, ctx: Context) -> Outputs:
    from pcfij.pcf import correct_bleaching

    img = inputs["data"]
    data = time_series(img, "the image")
    f = values["filtersize"]
    if data.shape[0] <= 2 * f:
        raise InputError(f"the filter size {f} drops {2 * f} frames but the image has only "
                         f"{data.shape[0]}; use a filter smaller than {data.shape[0] // 2}")
    ctx.status("correcting photobleaching")
    corrected = correct_bleaching(data, f, output=values["output_type"], mean=values["mean"])
    ctx.progress(1.0)
    ax = "TYX"
    out = Outputs()
    out.images.append(OutImage(
        corrected, ax, f"{_stem(img)} bleach corrected", img.calibration, None,
        f"pcfij pCF Bleach Correction of {img.path}: filter={f} frames (frames {f} to "
        f"{data.shape[0] - f - 1} of the input kept), type={values['output_type']}, "
        f"mean={values['mean']}\n",
    ))
    kept = data[f : data.shape[0] - f]
    out.tables.append(OutTable({
        "Frame": np.arange(f, data.shape[0] - f),
        "Mean (input)": kept.reshape(kept.shape[0], -1).mean(axis=1),
        "Mean (corrected)": corrected.reshape(corrected.shape[0], -1).mean(axis=1),
    }, RESULTS))
    return out


# ----------------------------------------------------------------------------- CCC
def _ccc_inputs(inputs: dict):
    a, b, m = inputs["image1"], inputs["image2"], inputs.get("mask")
    for name, img in (("image 1", a), ("image 2", b)):
        if "C" in img.axes:
            raise InputError(f"{name} ({_stem(img)}) has several channels; CCC needs "
                             "single-channel images (Image > Color > Split Channels)")
    if a.data.shape != b.data.shape or a.axes != b.axes:
        raise InputError(
            f"image 1 ({_stem(a)}, {a.axes} {a.data.shape}) and image 2 ({_stem(b)}, "
            f"{b.axes} {b.data.shape}) must have the same size"
        )
    time_axis = a.axes.index("T") if "T" in a.axes else None
    mdata = None
    if m is not None:
        mdata = m.data
        frame_shape = tuple(s for s, c in zip(a.data.shape, a.axes) if c != "T")
        if mdata.shape != a.data.shape and mdata.shape != frame_shape:
            raise InputError(
                f"the mask ({_stem(m)}, {m.axes} {mdata.shape}) must have the size of the "
                f"images {a.data.shape} or of one frame {frame_shape}"
            )
    cal = a.calibration
    scale = None
    unit = None
    if cal.calibrated:
        scale = (cal.pixel_width, cal.pixel_height) + ((cal.voxel_depth,) if "Z" in a.axes
                                                       else ())
        unit = cal.unit
    return a, b, mdata, time_axis, scale, unit


def _ccc_common(values: dict, inputs: dict, ctx: Context, *, mode: str) -> Outputs:
    from pcfij.ccc import ccc, cross_correlation_profile

    a, b, m, time_axis, scale, unit = _ccc_inputs(inputs)
    if values.get("no_mask"):
        m = None
    for img in (a, b):
        if img.data.dtype.kind not in "uif":
            raise InputTypeError("CCC needs numeric images")
    ctx.status("cross-correlating")
    kw = dict(scale=scale, time_axis=time_axis, unit=unit,
              significant_digits=values.get("significant_digits"), device=values["device"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if mode == "xcorr":
            res = cross_correlation_profile(a.data, b.data, m, **kw)
        else:
            res = ccc(a.data, b.data, m, confidence=(mode == "ccc"),
                      contributions=values.get("contributions", False),
                      intermediates=values.get("intermediates", False),
                      method=values.get("method", "plugin"),
                      frame_interval=a.calibration.frame_interval, **kw)
    ctx.progress(1.0)
    title = {"ccc": "Colocalization by Cross Correlation", "noconf": "CCC - No confidence",
             "xcorr": "Just Cross Correlation"}[mode]
    from pcfij.ccc.present import ccc_outputs  # the Fiji plugin's table and image names

    out = ccc_outputs(res, title1=_title(a), title2=_title(b), values=values)
    _warnings_to_log(caught, out)
    if m is None:
        out.log.append(f"{title}: no mask; the whole image was analysed")
    return out


def run_ccc(values: dict, inputs: dict, ctx: Context) -> Outputs:
    return _ccc_common(values, inputs, ctx, mode="ccc")


def run_ccc_noconf(values: dict, inputs: dict, ctx: Context) -> Outputs:
    return _ccc_common(values, inputs, ctx, mode="noconf")


def run_xcorr(values: dict, inputs: dict, ctx: Context) -> Outputs:
    return _ccc_common(values, inputs, ctx, mode="xcorr")


# ----------------------------------------------------------------------------- registry
RUNNERS: dict[str, Callable[[dict, dict, Context], Outputs]] = {
    "pcf": run_pcf,
    "bleach": run_bleach,
    "ccc": run_ccc,
    "ccc-noconf": run_ccc_noconf,
    "xcorr": run_xcorr,
}


def find_runner(cmd: Command) -> Callable | None:
    """The runner of a command: :data:`RUNNERS` (or the shift runners') by CLI name."""
    if cmd.name in RUNNERS:
        return RUNNERS[cmd.name]
    try:
        from pcfij.imagej import runners_shift

        if cmd.name in runners_shift.RUNNERS:
            return runners_shift.RUNNERS[cmd.name]
    except ImportError:
        pass
    return None
