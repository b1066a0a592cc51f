"""CLI runners of the shift commands: ``pcfij shift`` and ``pcfij drift``."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pcfij.commands.shift import DRIFT, SHIFT, device_arguments
from pcfij.errors import InputError, InputTypeError, renamed
from pcfij.io.axes import drop_single_axes
from pcfij.io.outdir import check_writable_file, write_file_atomic
from pcfij.io.tiff import Image, read_image, write_imagej_tiff


# ---------------------------------------------------------------------------- helpers
def _squeeze(img: Image) -> Image:
    """Drop singleton axes other than Y and X; name unnamed axes T, then Z.

    A TIFF without ImageJ/OME metadata reports a stack axis as "Q" (unknown); the ImageJ
    TIFF written for it needs one of TZCYX.
    """
    img.data, img.axes = drop_single_axes(img.data, img.axes)
    free = [c for c in "TZ" if c not in img.axes]
    img.axes = "".join(c if c in "TZCYX" or not free else free.pop(0) for c in img.axes)
    return img


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    def writer(p: Path) -> None:
        with open(p, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)

    write_file_atomic(path, writer)


@contextlib.contextmanager
def _file_names(v: dict) -> Iterator[None]:
    """Engine errors name ``ref_mat``/``mat``: name the user's files instead."""
    try:
        yield
    except (InputError, InputTypeError) as exc:
        raise renamed(exc, {"ref_mat": str(v["ref"]), "mat": str(v["moving"])}) from None


# ---------------------------------------------------------------------------- shift
def run_shift(values: dict, ns) -> int:
    """``pcfij shift REF MOVING [--local -o maps.tif]``."""
    from pcfij.shift import find_local_shifts, find_shift_based_correlation_map

    v = SHIFT.validate(values)
    out = check_writable_file(v["output"], overwrite=v["overwrite"]) if v["output"] else None
    plot = check_writable_file(v["plot"], overwrite=v["overwrite"]) if v["plot"] else None
    if v["local"] and out is None and plot is None:
        raise InputError("--local needs -o maps.tif (and/or --plot maps.png) for its output")
    ref = _squeeze(read_image(v["ref"]))
    mov = _squeeze(read_image(v["moving"]))
    for path, img in ((v["ref"], ref), (v["moving"], mov)):
        if "C" in img.axes:
            raise InputError(f"{path} has {img.data.shape[img.axes.index('C')]} channels "
                             f"(axes {img.axes}); shift finding needs single-channel images: "
                             "split the channels and give one file per channel")
    if ref.data.ndim not in (2, 3) or mov.data.ndim not in (2, 3):
        raise InputError(f"images must be 2D or 3D stacks; got axes {ref.axes} and {mov.axes}")
    if ref.data.shape != mov.data.shape:
        raise InputError(f"{v['ref']} and {v['moving']} have different shapes "
                         f"{ref.data.shape} and {mov.data.shape}")
    where = device_arguments(v["gpu"], local=v["local"])
    if not v["local"]:
        with _file_names(v):
            x, y = find_shift_based_correlation_map(ref.data, mov.data, margin=v["margin"],
                                                    method=v["method"], size=v["size"],
                                                    **where)
        print(f"{x:.6f} {y:.6f}")
        if out is not None:
            _write_csv(out, ["x", "y"], [[f"{x:.6f}", f"{y:.6f}"]])
        return 0
    with _file_names(v):
        xs, ys = find_local_shifts(ref.data, mov.data, dim=v["dim"], win_size=v["win_size"],
                                   margin=v["margin"], method=v["method"], size=v["size"],
                                   **where, ncore=v["ncore"], norm=v["norm"],
                                   chunk_size=v["chunk_size"])
    if out is not None:
        maps = np.stack([xs, ys]).astype(np.float32)
        write_file_atomic(out, lambda p: write_imagej_tiff(
            p, maps, "CYX", mov.calibration, labels=["x shift", "y shift"]))
        print(f"wrote local shift maps (x, y) to {out}")
    if plot is not None:
        from pcfij.plot.shift import save_shift_plot

        write_file_atomic(plot, lambda p: save_shift_plot(p, xs, ys))
        print(f"wrote vector-field plot to {plot}")
    return 0


# ---------------------------------------------------------------------------- drift
def _reference(text: str):
    t = str(text).strip().lower()
    if t in ("first", "mean"):
        return t
    try:
        return int(t)
    except ValueError:
        raise InputError(f"--reference must be first, mean or a frame number; got {text!r}") \
            from None


def run_drift(values: dict, ns) -> int:
    """``pcfij drift STACK -o corrected.tif [--table drift.csv]``.

    The drift table has columns frame, dx, dy, at_margin (1: the drift lies on the edge of
    the search window and may be larger; a warning line names those frames).
    """
    from pcfij.shift import register_stack

    v = DRIFT.validate(values)
    out = check_writable_file(v["output"], overwrite=v["overwrite"])
    table = check_writable_file(v["table"], overwrite=v["overwrite"]) if v["table"] else None
    if table is not None and table == out:
        raise InputError("the drift table and the corrected stack need different file names")
    img = _squeeze(read_image(v["stack"]))
    data, axes = img.data, img.axes
    if axes[-2:] != "YX":
        raise InputError(f"{v['stack']} has axes {axes} (channels last, e.g. RGB); split the "
                         "channels first")
    if data.ndim < 3:
        raise InputError(f"{v['stack']} is a single image (axes {axes}); give a time series "
                         "or z-stack")
    # first axis: the one drift is found along (T if present, else the first one);
    # any others (Z, C) move together with it
    lead = axes.index("T") if "T" in axes else 0
    order = [lead] + [i for i in range(data.ndim) if i != lead]
    moved = np.transpose(data, order)
    n = moved.shape[0]
    h, w = moved.shape[-2:]
    work = moved.reshape((n, -1, h, w)) if moved.ndim > 3 else moved
    res = register_stack(work, reference=_reference(v["reference"]), method=v["method"],
                         margin=v["margin"], sub_pixel_method=v["sub_pixel_method"],
                         block=v["block"], order=v["order"], mode=v["mode"],
                         **device_arguments(v["gpu"], local=False))
    corrected = res.corrected.reshape(moved.shape)
    inverse = np.argsort(order)
    corrected = np.transpose(corrected, inverse)
    write_file_atomic(out, lambda p: write_imagej_tiff(p, corrected, axes, img.calibration))
    if table is not None:
        _write_csv(table, ["frame", "dx", "dy", "at_margin"],
                   [[r["frame"], f"{r['dx']:.6f}", f"{r['dy']:.6f}", int(r["at_margin"])]
                    for r in res.table()])
    d = res.drift
    worst = float(np.hypot(d[:, 0], d[:, 1]).max()) if len(d) else 0.0
    edge = int(np.count_nonzero(res.at_margin))
    print(f"corrected {n} frames (largest drift {worst:.2f} px"
          + (f"; {edge} frames at the search margin, drift may be larger" if edge else "")
          + f") -> {out}" + (f"; drift table -> {table}" if table else ""))
    return 0
