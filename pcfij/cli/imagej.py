"""CLI runners of ``pcfij install-plugins`` and ``pcfij imagej-run``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pcfij.errors import InputError

PLUGIN_SUBDIR = "pcfij"
PYTHON_FILE = "pcfij-python.txt"


def install_plugins(destination: str | os.PathLike, python: str | None = None,
                    force: bool = False, ij_jar: str | None = None) -> Path:
    """Build the pcfij command host into ``destination`` and record the Python it runs.

    ``destination`` is a Fiji.app/ImageJ folder (with a ``plugins`` subfolder) or a plugins
    folder. The host is compiled with ``javac`` against the ImageJ jar of that folder
    (``ij.jar``, ``jars/ij-*.jar``), else ``ij_jar``, else Debian's ``/usr/share/java/ij.jar``.
    Writes ``plugins/pcfij/pcfij_.jar`` and ``plugins/pcfij/pcfij-python.txt``; drop-in
    macros of older pcfij versions there are removed (they would shadow the commands).
    Returns the folder written. ``force`` is accepted for compatibility (nothing is ever
    refused: the jar is rebuilt each time).
    """
    from pcfij.imagej.javabuild import JAR_NAME, build_jar, find_ij_jar

    dest = Path(destination).expanduser()
    if not dest.is_dir():
        raise InputError(f"{dest} is not a folder; give the Fiji.app (or ImageJ) folder")
    plugins = dest / "plugins" if (dest / "plugins").is_dir() else dest
    if plugins is dest and dest.name != "plugins":
        raise InputError(
            f"{dest} has no plugins/ folder; give the Fiji.app or ImageJ folder (the one "
            "holding plugins/) or the plugins folder itself"
        )
    py = Path(python or sys.executable)
    if not py.exists():
        raise InputError(f"Python interpreter {py} does not exist")
    jar = Path(ij_jar) if ij_jar else find_ij_jar(dest)
    if not jar.is_file():
        raise InputError(f"ImageJ jar {jar} does not exist")
    target = plugins / PLUGIN_SUBDIR
    target.mkdir(exist_ok=True)  # the jar is always rebuilt: it matches this pcfij and ImageJ
    build_jar(target / JAR_NAME, jar)
    for old in target.glob("*_*.ijm"):
        head = old.read_text(encoding="utf-8", errors="replace")[:300]
        if "pcfij drop-in command" in head:
            old.unlink()
    (target / PYTHON_FILE).write_text(str(py) + "\n", encoding="utf-8")
    return target


def run_install_plugins(values: dict, ns: argparse.Namespace) -> int:
    from pcfij.imagej.javabuild import JAR_NAME, command_titles

    target = install_plugins(ns.destination, values.get("python"), bool(values.get("force")),
                             values.get("ij_jar"))
    print(f"installed {len(command_titles())} pcfij commands ({target / JAR_NAME}) into "
          f"Plugins > pcfij (restart ImageJ/Fiji); Python: "
          f"{(target / PYTHON_FILE).read_text().strip()}")
    return 0


def run_imagej(values: dict, ns: argparse.Namespace) -> int:
    """Run a command's ImageJ runner on files; write outputs + manifest (error.txt on failure)."""
    out = Path(values["output"])
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("manifest.txt", "error.txt"):
        (out / stale).unlink(missing_ok=True)
    try:
        _run_imagej(ns.command_title, values.get("options") or "", ns.image, out,
                    getattr(ns, "input_dir", None))
    except BaseException as exc:
        msg = " ".join((str(exc) or type(exc).__name__).split())
        (out / "error.txt").write_text(msg + "\n", encoding="utf-8")
        raise
    return 0


def _run_imagej(command: str, options: str, images: list[str], out: Path,
                input_dir: str | None = None) -> None:
    from pcfij.commands import imagej_commands
    from pcfij.imagej import dialogs
    from pcfij.imagej.files import write_outputs
    from pcfij.imagej.runners import find_runner
    from pcfij.io.tiff import read_image
    from pcfij.outputs import Context

    table = imagej_commands()
    cmd = table.get(command) or next((c for c in table.values() if c.name == command), None)
    if cmd is None:
        raise InputError(f"unknown ImageJ command {command!r}; known: {', '.join(table)}")
    runner = find_runner(cmd)
    if runner is None:
        raise InputError(f"{cmd.title}: no engine available for this command")
    files = {}
    for item in images:
        name, sep, path = item.partition("=")
        if not sep:
            raise InputError(f"--image takes NAME=FILE; got {item!r}")
        files[name.strip()] = path
    titles: dict[str, str] = {}
    if input_dir and (Path(input_dir) / "titles.txt").is_file():
        for line in (Path(input_dir) / "titles.txt").read_text(encoding="utf-8").splitlines():
            key, sep, title = line.partition("\t")
            if sep:
                titles[key.strip()] = title.strip()
    raw = dialogs.values_from_options(cmd, options)
    inputs = {}
    for p in dialogs.image_params(cmd):
        path = files.get(p.name) or files.get(p.macro_key)
        if not path and input_dir and (Path(input_dir) / f"{p.name}.tif").is_file():
            path = str(Path(input_dir) / f"{p.name}.tif")
        if (p.name in raw and raw[p.name] is None) or not path:
            if not p.optional:
                raise InputError(f"{cmd.title}: give --image {p.name}=FILE")
            inputs[p.name] = None
            continue
        img = read_image(path)
        img.axes = img.axes.replace("Q", "Z")
        if p.name in titles:  # the ImageJ title names the outputs, as in-process
            img.path = titles[p.name]
        inputs[p.name] = _squeeze(img)
    values = dialogs.check_values(cmd, raw)
    ctx = Context(status=lambda s: print(f"{cmd.title}: {s}", file=sys.stderr, flush=True),
                  command_title=cmd.title)
    outputs = runner(values, inputs, ctx)
    write_outputs(outputs, out)
    if values.get("output") and str(values["output"]).strip():  # e.g. CCC's savefolder
        write_outputs(outputs, str(values["output"]).strip())


def _squeeze(img):
    """Drop length-1 T/Z/C axes (as the ImageJ bridge does) so both paths see the same axes."""
    from pcfij.io.axes import drop_single_axes

    img.data, img.axes = drop_single_axes(img.data, img.axes)
    return img


def run_local_shifts(values: dict, ns: argparse.Namespace) -> int:
    """``pcfij local-shifts REF MOVING -o maps.tif``: ``pcfij shift --local``."""
    from pcfij.cli.shift import run_shift

    return int(run_shift(dict(values, local=True), ns) or 0)
