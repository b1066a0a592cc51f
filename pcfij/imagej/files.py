"""Outputs as files ImageJ opens: ImageJ TIFFs, CSV tables, and a manifest for the plugins.

``manifest.txt`` has one tab-separated line per item, in the order to open them:

* ``image<TAB>file.tif<TAB>title``
* ``table<TAB>file.csv<TAB>title`` (title ``Results`` = ImageJ's Results table)
* ``plot<TAB>file.csv<TAB>title<TAB>x label<TAB>y label`` (CSV columns: x then one per
  series, named ``label|shape|color``)
* ``log<TAB>log.txt``

A failed run writes ``error.txt`` (one line) and no manifest.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np

from pcfij.io.tiff import write_imagej_tiff
from pcfij.outputs import OutPlot, Outputs


def safe_name(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", title).strip("_") or "out"


def write_table(path: str | os.PathLike, columns: dict, labels=None) -> None:
    names = (["Label"] if labels is not None else []) + list(columns)
    n = max((len(v) for v in columns.values()), default=0)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        for i in range(n):
            row = [labels[i]] if labels is not None else []
            for v in columns.values():
                x = v[i]
                if isinstance(x, (float, np.floating)):
                    row.append("NaN" if not np.isfinite(x) else repr(float(x)))
                elif isinstance(x, (bool, np.bool_)):
                    row.append(int(x))
                else:
                    row.append(x.item() if isinstance(x, np.generic) else x)
            w.writerow(row)


def write_plot(path: str | os.PathLike, plot: OutPlot) -> None:
    cols: dict = {}
    # series may have different x: write x then y per series, padded with NaN
    n = max((len(s[1]) for s in plot.series), default=0)
    for label, x, y, shape, color in plot.series:
        pad = lambda a: np.concatenate([a, np.full(n - len(a), np.nan)])  # noqa: E731
        cols[f"x|{label}"] = pad(x)
        cols[f"{label}|{shape}|{color}"] = pad(y)
    write_table(path, cols)


def write_outputs(outputs: Outputs, folder: str | os.PathLike) -> Path:
    """Write every output into ``folder`` (created) with ``manifest.txt``; return the path."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    used: set[str] = set()

    def unique(name: str, ext: str) -> str:
        base, k = safe_name(name), 1
        cand = base + ext
        while cand in used:
            k += 1
            cand = f"{base}-{k}{ext}"
        used.add(cand)
        return cand

    for img in outputs.images:
        fname = unique(img.title, ".tif")
        extra = {"Info": img.info} if img.info else None
        write_imagej_tiff(out / fname, img.data, img.axes, img.calibration,
                          labels=list(img.labels) if img.labels else None,
                          extra_metadata=extra)
        lines.append(f"image\t{fname}\t{img.title}")
    # the Results table last, so that it is ImageJ's active table afterwards
    for tab in sorted(outputs.tables, key=lambda t: t.title == "Results"):
        fname = unique(tab.title, ".csv")
        write_table(out / fname, tab.columns, tab.labels)
        lines.append(f"table\t{fname}\t{tab.title}")
    for plot in outputs.plots:
        fname = unique(plot.title + "-plot", ".csv")
        write_plot(out / fname, plot)
        lines.append(f"plot\t{fname}\t{plot.title}\t{plot.xlabel}\t{plot.ylabel}")
    if outputs.log:
        (out / "log.txt").write_text("\n".join(outputs.log) + "\n", encoding="utf-8")
        lines.append("log\tlog.txt")
    tmp = out / "manifest.txt.part"
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, out / "manifest.txt")
    return out
