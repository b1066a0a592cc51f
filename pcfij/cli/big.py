"""CLI runners of the big-data commands: ``pcfij convert``, ``pcfij regions``, ``pcfij export``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from pcfij.commands.blocks import CONVERT, EXPORT, REGIONS
from pcfij.errors import InputError
from pcfij.io.axes import parse_frame_size
from pcfij.io.outdir import write_file_atomic


def run_convert(values: dict, ns=None) -> int:
    from pcfij.io.convert import convert_series

    v = CONVERT.validate(values)
    s = convert_series(
        v["data"],
        v["output"],
        roi=v["roi"],
        frames=v["frames"],
        dataset=v["dataset"],
        raw_shape=parse_frame_size(v["frame_size"]),
        chunks=v["chunks"],
        memory_limit=v["memory_limit"],
        overwrite=v["overwrite"],
        skip_bad=v["skip_bad"],
        progress=True,
    )
    t, h, w = s["shape"]
    print(
        f"pcfij convert: {t} frames of {h}x{w} {s['dtype']} -> {s['output']} "
        f"(chunks {','.join(map(str, s['chunks']))}) in {s['seconds']:.1f} s, "
        f"{s['mb_per_s']:.0f} MB/s"
    )
    for line in s["skipped_files"]:
        print(f"  skipped (interpolated): {line}")
    return 0


def run_regions(values: dict, ns=None) -> int:
    from pcfij.io.readers import open_series
    from pcfij.regions import find_regions, plot_regions

    v = REGIONS.validate(values)
    out = v["output"]
    if out is not None:
        out = Path(out)
        if out.suffix.lower() != ".png":
            raise InputError(f"-o must be a .png file; got {out}")
        if out.exists() and not v["overwrite"]:
            raise InputError(f"{out} exists; choose another -o path or pass --overwrite")
        if not out.absolute().parent.is_dir():
            raise InputError(f"cannot write {out}: its folder does not exist")
    data = open_series(
        v["data"], dataset=v["dataset"], frames=v["frames"],
        raw_shape=parse_frame_size(v["frame_size"]),
    )
    image = np.asarray(data.mean(axis=0, dtype=np.float64).compute(scheduler="threads"))
    res = find_regions(
        image,
        sigma=v["sigma"],
        threshold=v["threshold"],
        closegaps=v["closegaps"],
        minarea=v["minarea"],
        pow2size=v["pow2size"],
        clear_border=v["clear_border"],
    )
    h, w = image.shape
    print(
        f"pcfij regions: {len(res.regions)} region(s) in {h}x{w} image "
        f"(threshold {res.threshold:.4g}); largest first, as --roi y0:y1,x0:x1:"
    )
    for k, r in enumerate(res.regions):
        print(f"  {k}: --roi {r.roi}  ({r.shape[0]}x{r.shape[1]} pixels, area {r.area})")
    if out is not None:
        fig = plot_regions(res, title=f"{Path(str(v['data'])).name}: {len(res.regions)} region(s)")
        write_file_atomic(out, lambda p: fig.savefig(p, dpi=100, bbox_inches="tight"))
        print(f"  boxes drawn in {out}")
    if not res.regions:
        print(
            "  no region found: lower --minarea or --threshold, or check the frames",
            file=sys.stderr,
        )
    return 0


def _range(text, n, what):
    from pcfij.io.readers import parse_frames

    try:
        return parse_frames(text, n)
    except InputError as exc:
        raise InputError(str(exc).replace("frames", what)) from None


def run_export(values: dict, ns=None) -> int:
    from pcfij.blocks.pipeline import open_result
    from pcfij.io.readers import parse_roi
    from pcfij.io.tiff import Calibration, write_imagej_tiff
    from pcfij.pcf import bin_delays

    v = EXPORT.validate(values)
    out = Path(v["output"])
    if out.suffix.lower() not in (".tif", ".tiff"):
        raise InputError(f"-o must be a .tif file; got {out}")
    if out.exists() and not v["overwrite"]:
        raise InputError(f"{out} exists; choose another -o path or pass --overwrite")
    if not out.absolute().parent.is_dir():
        raise InputError(f"cannot write {out}: its folder does not exist")
    arr, attrs = open_result(v["data"])
    hh, ww, npts, nbins = arr.shape
    ps = _range(v["points"], npts, "points")
    bs = _range(v["bins"], nbins, "bins")
    ys, xs = parse_roi(v["roi"], (hh, ww))
    part = np.asarray(arr[ys, xs, ps, bs], np.float32)
    stack = np.ascontiguousarray(np.moveaxis(part, (3, 2), (0, 1)))  # (bins, points, Y, X)
    delays = bin_delays(np.asarray(attrs["bins"]))
    coords = attrs["circle"]
    labels = [
        f"bin {k} (delay {delays[k]:g} frames) point {i} (dx={coords[i][0]}, dy={coords[i][1]})"
        for k in range(bs.start, bs.stop)
        for i in range(ps.start, ps.stop)
    ]
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}.tif")
    try:
        write_imagej_tiff(
            tmp,
            stack,
            "TZYX",
            Calibration(),
            labels=labels,
            extra_metadata={
                "Info": json.dumps(
                    {
                        k: attrs.get(k)
                        for k in (
                            "radius",
                            "npoints",
                            "bins",
                            "origin",
                            "roi",
                            "frames",
                            "bleach_filter",
                            "source",
                        )
                    },
                    default=str,
                )
            },
        )
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    print(
        f"pcfij export: {stack.shape[0]} bins x {stack.shape[1]} points of "
        f"{stack.shape[2]}x{stack.shape[3]} pixels -> {out} (ImageJ hyperstack: frames = "
        "delay bins, slices = circle points)"
    )
    return 0
