"""CLI runners of the ipCF commands: ``pcfij pcf``, ``bleach``, ``simulate``, ``demo``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from pcfij.commands.pcf import BLEACH, DEMO, PCF, SIMULATE
from pcfij.errors import InputError
from pcfij.io.axes import drop_single_axes, parse_frame_size
from pcfij.io.outdir import (
    check_writable_file,
    check_writable_target,
    staged_output_dir,
    write_file_atomic,
)
from pcfij.io.readers import parse_frames, parse_roi
from pcfij.io.tiff import Calibration, read_image, write_imagej_tiff
from pcfij.pcf import bin_delays, circle, correct_bleaching, ipcf, ipcf_bins

BIG_SUFFIXES = (".zarr", ".h5", ".hdf5")


# ---------------------------------------------------------------------------- input
def read_time_series(path: str, frame_size: str | None = None) -> tuple[np.ndarray, Calibration]:
    """Read a (T, H, W) image time series from TIFF, .npy or raw .bin."""
    img = read_image(path, raw_shape=parse_frame_size(frame_size))
    data, axes = drop_single_axes(img.data, img.axes)
    if data.ndim != 3:
        raise InputError(
            f"{path}: expected an image time series (T, H, W); got axes {axes} with shape "
            f"{data.shape}; split channels first"
        )
    return data, img.calibration


def read_mask(path: str | None, shape) -> np.ndarray | None:
    if not path:
        return None
    img = read_image(path)
    m = np.squeeze(img.data)
    if m.shape != tuple(shape):
        raise InputError(f"mask {path} has shape {m.shape}; the images are {tuple(shape)} (H, W)")
    return m != 0


# ---------------------------------------------------------------------------- pcf
def run_pcf(values: dict, ns=None) -> int:
    v = PCF.validate(values)
    src, out = str(v["data"]), str(v["output"])
    big = (
        out.lower().rstrip("/").endswith(BIG_SUFFIXES)
        or os.path.isdir(src)
        or src.lower().rstrip("/").endswith(BIG_SUFFIXES)
        or v["memory_limit"]
        or v["scheduler"]
    )
    if big:
        return _run_blocked(v)
    check_writable_target(out, overwrite=v["overwrite"])  # fail before the long computation
    data, cal = read_time_series(src, v["frame_size"])
    data = data[parse_frames(v["frames"], data.shape[0])]
    if v["roi"]:
        ys, xs = parse_roi(v["roi"], data.shape[1:])
        data = data[:, ys, xs]
    mask = read_mask(v["mask"], data.shape[1:])
    t0 = time.perf_counter()
    result = ipcf(
        data, v["radius"], v["npoints"], v["nbins"], pow2=v["pow2"],
        bleach_filter=v["bleach_filter"], mask=mask, smooth=v["smooth"], device=v["device"],
        progress=True,
    )
    seconds = time.perf_counter() - t0
    used = result.frames_used
    with staged_output_dir(out, overwrite=v["overwrite"]) as stage:
        write_pcf_outputs(stage, result, used, v, cal, figures=v["figures"],
                          name=Path(src.rstrip("/")).stem)
        _write_summary(stage, v, data.shape, result.shape, seconds)
    npairs = int(np.prod(result.shape[:3]))
    print(f"pcfij pcf: {npairs} pair correlations in {seconds:.1f} s; results in {out}")
    return 0


def _run_blocked(v: dict) -> int:
    if v["mask"]:
        raise InputError(
            "--mask is not supported for big-data (blocked) runs; analyse with an in-memory "
            "output folder, or restrict the region with --roi"
        )
    try:
        from pcfij.blocks.pipeline import run_blocked_ipcf
    except ImportError as exc:  # pragma: no cover - the io extra is missing
        raise InputError(
            f"big-data input/output needs the io extra: pip install 'pcfij[io]' ({exc})"
        ) from None
    summary = run_blocked_ipcf(
        v["data"], v["output"], radius=v["radius"], npoints=v["npoints"], nbins=v["nbins"],
        pow2=v["pow2"], bleach_filter=v["bleach_filter"], smooth=v["smooth"],
        device=v["device"], roi=v["roi"], frames=v["frames"],
        memory_limit=v["memory_limit"] or "4GB", scheduler=v["scheduler"],
        overwrite=v["overwrite"], skip_bad=v["skip_bad"], progress=True, dataset=v["dataset"],
        raw_shape=parse_frame_size(v["frame_size"]),
    )
    shown = ("output", "shape", "blocks", "blocks_computed", "blocks_skipped", "pairs",
             "seconds", "skipped_files")
    print("pcfij pcf: " + ", ".join(f"{k}={summary[k]}" for k in shown if k in summary))
    return 0


def write_pcf_outputs(
    folder: Path, result: np.ndarray, ntimes: int, v: dict, cal: Calibration, *, figures=True,
    name: str = "pcf",
) -> None:
    """Write an ipCF result: ``pcf.npy``, ImageJ hyperstack ``pcf.tif``, bin/point tables, PNGs.

    The image and tables are those ImageJ shows (:func:`pcfij.pcf.present.pcf_outputs`):
    ``pcf.tif`` holds one plane per (delay bin, circle point): ImageJ frames = delay bins,
    slices = circle points, with the same slice labels; ``bins.csv`` is ImageJ's Results
    table, ``points.csv`` the *pCF Points* table.
    """
    from pcfij.imagej.files import write_table
    from pcfij.pcf.present import POINTS_TABLE, pcf_outputs

    folder = Path(folder)
    outputs = pcf_outputs(result, ntimes, v, name=name, calibration=cal)
    np.save(folder / "pcf.npy", result)
    img = outputs.images[0]
    write_imagej_tiff(folder / "pcf.tif", img.data, img.axes, img.calibration,
                      labels=list(img.labels), extra_metadata={"Info": img.info})
    files = {"Results": "bins.csv", POINTS_TABLE: "points.csv"}
    for tab in outputs.tables:
        write_table(folder / files[tab.title], tab.columns, tab.labels)
    if figures:
        bins = ipcf_bins(ntimes, v["nbins"])
        write_pcf_figures(folder, result, bins, circle(v["radius"], v["npoints"]))


def write_pcf_figures(folder: Path, result, bins, coords) -> None:
    from pcfij import plot

    plt = plot._pyplot()
    cy, cx = result.shape[0] // 2, result.shape[1] // 2
    for style in ("lines", "carpet", "polar"):
        fig = plot.plot_pixel_curves(result, cy, cx, bins, coords, style=style)
        fig.savefig(folder / f"pixel_{style}.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
    k = int(np.argmin(np.abs(bin_delays(bins) - 10.0)))
    fig = plot.plot_pcf_image(result, 0, k)
    fig.savefig(folder / "pcf_image.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    fig = plot.plot_max_delay_map(result, bins, coords)
    fig.savefig(folder / "max_delay.png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def _write_summary(folder: Path, v: dict, in_shape, out_shape, seconds: float) -> None:
    params = {k: val for k, val in v.items() if k not in ("output",)}
    params = {k: (str(val) if isinstance(val, Path) else val) for k, val in params.items()}
    info = {"parameters": params, "input_shape": list(in_shape), "result_shape": list(out_shape),
            "result_axes": "YX points bins", "seconds": round(seconds, 3)}
    (Path(folder) / "summary.json").write_text(json.dumps(info, indent=2, default=str))


# ---------------------------------------------------------------------------- bleach
def run_bleach(values: dict, ns=None) -> int:
    v = BLEACH.validate(values)
    data, cal = read_time_series(str(v["data"]), v["frame_size"])
    out = correct_bleaching(data, v["filtersize"], output=v["output_type"], mean=v["mean"])
    _write_tiff_atomic(v["output"], out, cal, overwrite=v["overwrite"])
    print(f"pcfij bleach: {data.shape[0]} -> {out.shape[0]} frames written to {v['output']}")
    return 0


def _write_tiff_atomic(path, data, cal, *, overwrite: bool) -> None:
    target = check_writable_file(path, overwrite=overwrite)
    write_file_atomic(target, lambda tmp: write_imagej_tiff(tmp, data, "TYX", cal))


# ---------------------------------------------------------------------------- simulate
def run_simulate(values: dict, ns=None) -> int:
    from pcfij.simulate import simulate_channel

    v = SIMULATE.validate(values)
    data = simulate_channel(
        v["ntimes"], v["size"], channel_width=v["channel_width"], density=v["density"],
        diffusion=v["diffusion"], brightness=v["brightness"], background=v["background"],
        psf_sigma=v["psf_sigma"], bleach_halflife=v["bleach_halflife"], seed=v["seed"],
    )
    _write_tiff_atomic(v["output"], data, Calibration(), overwrite=v["overwrite"])
    print(f"pcfij simulate: {data.shape} uint16 written to {v['output']}")
    return 0


# ---------------------------------------------------------------------------- demo
def channel_summary(result: np.ndarray, radius: int, channel_width: float, size: int) -> dict:
    """How strongly the pCF shows a delayed maximum along vs across the channel.

    For centre pixels on the channel axis, and for pixels far from the channel, the pCF
    curves of the circle points closest to the channel direction (45 and 225 degrees) and
    across it (135 and 315 degrees) are averaged; each value is the height of the delayed
    maximum above the curve's shortest-delay value (the transit signature of pCF: particles
    travelling from the centre to the neighbour). Walls block transit, so inside the channel
    "across" stays flat.
    """
    npoints = result.shape[2]
    coords = circle(radius, npoints)
    ang = np.degrees(np.arctan2(coords[:, 1], coords[:, 0])) % 360
    along = [int(np.argmin(np.abs(ang - a))) for a in (45, 225)]
    across = [int(np.argmin(np.abs(ang - a))) for a in (135, 315)]
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    dist = np.abs(np.mod(xx - yy + size / 2, size) - size / 2) / np.sqrt(2)
    dist = dist[radius:-radius, radius:-radius]
    axis = dist < 1.0
    far = dist > channel_width / 2 + radius + 2
    out = {}
    for name, sel in (("channel", axis), ("outside", far)):
        for dname, pts in (("along", along), ("across", across)):
            curve = np.nanmean(result[sel][:, pts, :], axis=(0, 1))
            out[f"{name}_{dname}"] = float(np.max(curve[1:]) - curve[1])
    return out


def run_demo(values: dict, ns=None) -> int:
    from pcfij.simulate import simulate_channel

    v = DEMO.validate(values)
    check_writable_target(v["output"], overwrite=v["overwrite"])
    size, width, radius = 64, 6.0, 6
    print(f"pcfij demo: simulating {v['ntimes']} frames of {size}x{size} pixels, diagonal "
          f"channel {width:g} px wide ...", flush=True)
    data = simulate_channel(v["ntimes"], size, channel_width=width, seed=42)
    params = PCF.validate(require=False, radius=radius, npoints=32, nbins=32, device=v["device"])
    t0 = time.perf_counter()
    result = ipcf(data, radius, 32, 32, device=params["device"], progress=True)
    seconds = time.perf_counter() - t0
    with staged_output_dir(v["output"], overwrite=v["overwrite"]) as stage:
        write_imagej_tiff(stage / "simulation.tif", data[:2048], "TYX", Calibration())
        full = dict(params, output=v["output"], overwrite=v["overwrite"])
        write_pcf_outputs(stage, result, data.shape[0], full, Calibration(),
                          name="simulation")
        _write_summary(stage, full, data.shape, result.shape, seconds)
        summary = channel_summary(result, radius, width, size)
        (stage / "channel_summary.json").write_text(json.dumps(summary, indent=2))
    npairs = int(np.prod(result.shape[:3]))
    print(f"ipCF: {npairs} pair correlations (radius {radius}, 32 points, "
          f"{result.shape[3]} bins) in {seconds:.1f} s")
    print("height of the delayed pCF maximum (mean curves; transit of particles):")
    print(f"  pixels on the channel axis : along {summary['channel_along']:.4f}   "
          f"across {summary['channel_across']:.4f}")
    print(f"  pixels far from the channel: along {summary['outside_along']:.4f}   "
          f"across {summary['outside_across']:.4f}")
    ratio = summary["channel_along"] / max(abs(summary["channel_across"]), 1e-12)
    print(f"the channel is visible: inside it, transit along the channel is {ratio:.0f}x "
          "that across its walls, which block diffusion")
    print(f"results and figures written to {Path(v['output']).absolute()}")
    return 0
