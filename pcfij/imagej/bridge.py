"""The pcfij commands inside a running ImageJ: menus, dispatch, dialogs, outputs, errors.

A JPype proxy implementing ``ij.CommandListener`` is registered with
``ij.Executer.addCommandListener``. ImageJ asks it about every command it runs (menu
click, ``IJ.run``, a macro's ``run()``); for a pcfij command title it runs the command in
Python and returns ``None`` ("handled"), for any other command it returns the name so
ImageJ carries on. With a display the commands are also added to *Plugins > pcfij*.

Running a command:

1. inputs: the current image (single-image commands) or the images chosen by title
   (two-image commands; optional images such as masks accept ``*None*``);
2. values: a ``GenericDialog`` built from the command's declaration (filled from the macro
   options without showing in a macro) or, headless, the macro options parsed directly;
   then checked by :meth:`pcfij.params.Command.validate`;
3. the runner (:mod:`pcfij.imagej.runners`) computes an :class:`~pcfij.imagej.outputs.Outputs`
   from NumPy arrays, updating ImageJ's progress bar and status line;
4. outputs: images shown (in batch mode/headless they are registered so that macros and
   ``WindowManager`` find them), tables in ImageJ's Results table (or named tables), plots.

Any failure is reported in ImageJ (``IJ.error`` dialog when error dialogs are on, else the
Log window / stdout headless) as one line naming the problem — never a Java stack trace —
and ImageJ stays usable. Python callers of :func:`run_command` get the error raised.
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pcfij.errors import InputError, InputTypeError
from pcfij.imagej import dialogs
from pcfij.imagej.convert import from_imageplus, jclass, to_imageplus, to_results_table
from pcfij.outputs import RESULTS, Context, OutImage, OutPlot, Outputs
from pcfij.params import Command

MENU = "Plugins>pcfij"

_extra: dict[str, tuple[Command, Callable]] = {}
_listener: Any = None
_state = threading.local()
_settings = {"error_dialogs": False, "headless": False}


class CommandFailed(RuntimeError):
    """A pcfij command run through ImageJ failed (the message is what ImageJ showed)."""


@dataclass
class CommandResult:
    """What a command produced: ImagePlus objects and tables (``{title: {column: values}}``)."""

    images: list = field(default_factory=list)
    tables: dict = field(default_factory=dict)
    plots: list = field(default_factory=list)
    values: dict = field(default_factory=dict)


# ------------------------------------------------------------------------ command table
def register_command(cmd: Command, runner: Callable) -> None:
    """Add a command (with a runner ``f(values, inputs, ctx) -> Outputs``) to ImageJ.

    The pcfij commands are found automatically; this is for extra commands (and tests).
    """
    if not cmd.title:
        raise ValueError("an ImageJ command needs a title")
    _extra[cmd.title] = (cmd, runner)
    if _listener is not None:
        _add_menu_item(cmd.title)


def command_table() -> dict[str, tuple[Command, Callable | None]]:
    """``{ImageJ title: (Command, runner or None)}`` for every command ImageJ can run."""
    from pcfij.commands import imagej_commands
    from pcfij.imagej.runners import find_runner

    table: dict[str, tuple[Command, Callable | None]] = {}
    for title, cmd in imagej_commands().items():
        table[title] = (cmd, find_runner(cmd))
    table.update(_extra)
    return table


# ------------------------------------------------------------------------ registration
def register_commands(sess: Any) -> None:
    """Register the command listener (once) and the menu entries."""
    global _listener
    _settings["headless"] = bool(sess.headless)
    _settings["error_dialogs"] = bool(sess.extra.get("error_dialogs", sess.mode == "gui"))
    if _listener is None:
        from jpype import JImplements, JOverride

        @JImplements("ij.CommandListener")
        class _PcfijListener:
            @JOverride
            def commandExecuting(self, command):  # noqa: N802 (Java name)
                name = str(command)
                if name not in _titles():
                    return command
                execute(name)
                return None

        _listener = _PcfijListener()
        jclass("ij.Executer").addCommandListener(_listener)
    for title in command_table():
        _add_menu_item(title)


def set_error_dialogs(on: bool) -> None:
    """Show errors in ``IJ.error`` dialogs (True) or in the Log window (False)."""
    _settings["error_dialogs"] = bool(on)


def _titles() -> set[str]:
    try:
        return set(command_table())
    except Exception:  # a broken engine import must not break every ImageJ command
        return set(_extra)


def _add_menu_item(title: str) -> None:
    Menus = jclass("ij.Menus")
    commands = Menus.getCommands()
    if commands is not None and commands.get(title) is None:
        if Menus.getMenuBar() is not None:
            Menus.add(f"{MENU}>{title}", "pcfij")
        commands.put(title, "pcfij")  # known to IJ.run / the command finder


# ------------------------------------------------------------------------ errors
def report_error(title: str, message: str) -> None:
    """Show an error the ImageJ way: a dialog, or one line in the Log (stdout headless)."""
    IJ = jclass("ij.IJ")
    message = " ".join(str(message).split())
    try:
        IJ.showStatus(f"{title}: error")
        IJ.showProgress(1.0)
        if _settings["error_dialogs"] and not _settings["headless"]:
            IJ.error(title, message)
        else:
            IJ.log(f"{title}: error: {message}")
    except Exception:  # reporting must never raise into ImageJ
        print(f"{title}: error: {message}", flush=True)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, (InputError, InputTypeError)):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "not enough memory; use a smaller image or region, or raise Java's memory limit"
    text = str(exc) or type(exc).__name__
    name = type(exc).__name__
    if "OutOfMemoryError" in name or "OutOfMemoryError" in text:
        return "Java ran out of memory (Edit > Options > Memory & Threads)"
    first = text.strip().splitlines()[0] if text.strip() else name
    return first if isinstance(exc, (ValueError, TypeError, OSError)) else f"{name}: {first}"


# ------------------------------------------------------------------------ execution
def execute(title: str) -> None:
    """Run the command ``title`` in ImageJ (called by the listener). Never raises."""
    _state.error = None
    _state.result = None
    IJ = jclass("ij.IJ")
    try:
        cmd, runner = command_table()[title]
        if runner is None:
            raise InputError(
                "the engine for this command is not available in this pcfij installation"
            )
        result = _execute(cmd, runner, title)
        _state.result = result
    except dialogs.Canceled:
        IJ.showStatus(f"{title}: canceled")
    except Exception as exc:
        msg = _one_line(exc)
        _state.error = (type(exc), msg)
        if os.environ.get("PCFIJ_DEBUG"):
            traceback.print_exc()
        report_error(title, msg)
    finally:
        try:
            IJ.showProgress(1.0)
        except Exception:
            pass


def _execute(cmd: Command, runner: Callable, title: str) -> CommandResult:
    IJ = jclass("ij.IJ")
    WM = jclass("ij.WindowManager")
    Macro = jclass("ij.Macro")
    options = Macro.getOptions()
    options = None if options is None else str(options)
    canonical = cmd.canonical_macro_options(options)
    if canonical != options:  # alias keys (e.g. image1= for dataset1=) for the dialog too
        Macro.setOptions(canonical)
        options = canonical
    current = WM.getCurrentImage()
    titles = [str(t) for t in (WM.getImageTitles() or [])]
    if current is not None and str(current.getTitle()) not in titles:
        titles.insert(0, str(current.getTitle()))
    single = dialogs.uses_current_image(cmd)
    img_params = dialogs.image_params(cmd)
    if img_params and current is None and not titles:
        raise InputError("no image is open; open an image first")
    headless = _settings["headless"]
    if headless:
        raw = dialogs.values_from_options(cmd, options)
    else:
        raw = dialogs.show_dialog(
            cmd, titles, str(current.getTitle()) if current is not None else None,
            macro=options is not None,
        )
    # resolve images
    imps: dict[str, Any] = {}
    for p in img_params:
        if p is single and p.name not in raw:
            imps[p.name] = current
            continue
        name = raw.get(p.name)
        if name is None:
            if p.optional:
                imps[p.name] = None
                continue
            if current is None:
                raise InputError(f"{p.name}: no image given")
            name = str(current.getTitle())
        imp = _find_image(str(name), current)
        if imp is None:
            raise InputError(
                f"{p.macro_key}: no open image is titled {name!r}; open images: "
                + (", ".join(titles) or "none")
            )
        imps[p.name] = imp
    values = {k: v for k, v in raw.items() if k not in imps}
    checked = dialogs.check_values(cmd, values)
    inputs = {}
    for pname, imp in imps.items():
        if imp is None:
            inputs[pname] = None
            continue
        if int(imp.getBitDepth()) == 24:
            raise InputTypeError(
                f"{pname}: {imp.getTitle()} is an RGB image; split the channels or convert it "
                "to 8-bit, 16-bit or 32-bit (Image > Type) first"
            )
        inputs[pname] = from_imageplus(imp)
        inputs[pname].path = inputs[pname].path or str(imp.getTitle())
    ctx = Context(
        progress=lambda f: IJ.showProgress(float(min(max(f, 0.0), 1.0))),
        status=lambda s: IJ.showStatus(f"{title}: {s}"),
        command_title=title,
    )
    IJ.showStatus(f"{title}: running")
    outputs = runner(checked, inputs, ctx)
    result = show_outputs(outputs)
    folder = checked.get("output")
    if folder and str(folder).strip():
        from pcfij.imagej.files import write_outputs

        write_outputs(outputs, str(folder).strip())
    result.values = checked
    IJ.showStatus(f"{title}: done")
    return result


def _find_image(title: str, current: Any) -> Any:
    WM = jclass("ij.WindowManager")
    if current is not None and str(current.getTitle()) == title:
        return current
    imp = WM.getImage(title)
    if imp is None:
        Interpreter = jclass("ij.macro.Interpreter")
        for i in range(int(Interpreter.getBatchModeImageCount())):
            cand = Interpreter.getBatchModeImage(int(Interpreter.getBatchModeImageIDs()[i]))
            if cand is not None and str(cand.getTitle()) == title:
                return cand
    return imp


# ------------------------------------------------------------------------ outputs
def make_imageplus(out: OutImage) -> Any:
    imp = to_imageplus(out.data, out.axes, out.calibration, title=out.title,
                       labels=out.labels, info=out.info or None)
    if out.luts:
        LUT = jclass("ij.process.LUT")
        Color = jclass("java.awt.Color")
        for c, name in enumerate(out.luts):
            color = getattr(Color, name.upper(), None) if name else None
            if color is None or not hasattr(imp, "setChannelLut"):
                continue
            imp.setChannelLut(LUT.createLutFromColor(color), c + 1)
    return imp


def make_plot(out: OutPlot) -> Any:
    import jpype

    Plot = jclass("ij.gui.Plot")
    Color = jclass("java.awt.Color")
    plot = Plot(out.title, out.xlabel, out.ylabel)
    for _label, x, y, shape, color in out.series:
        plot.setColor(getattr(Color, str(color).upper(), Color.BLUE))
        plot.add(shape, jpype.JArray(jpype.JDouble)(x.astype(float)),
                 jpype.JArray(jpype.JDouble)(y.astype(float)))
    if out.series:
        plot.addLegend("\n".join(str(s[0]) for s in out.series))
    plot.setLimitsToFit(False)
    return plot


def show_outputs(outputs: Outputs) -> CommandResult:
    """Show images, fill tables, draw plots; return them for Python callers."""
    IJ = jclass("ij.IJ")
    RT = jclass("ij.measure.ResultsTable")
    result = CommandResult()
    for tab in outputs.tables:
        if tab.title == RESULTS:
            rt = to_results_table(tab.columns, RT.getResultsTable(), labels=tab.labels)
        else:
            rt = to_results_table(tab.columns, labels=tab.labels)
        try:
            rt.show(tab.title)
        except Exception:
            pass  # headless: the system Results table is still visible to macros
        result.tables[tab.title] = tab.columns
    for out in outputs.plots:
        plot = make_plot(out)
        try:
            if _settings["headless"]:
                imp = plot.getImagePlus()
                imp.show()
            else:
                plot.show()
                imp = plot.getImagePlus()
        except Exception:
            imp = plot.getImagePlus()
        result.plots.append(imp)
    for out in outputs.images:
        imp = make_imageplus(out)
        imp.show()
        result.images.append(imp)
    for line in outputs.log:
        IJ.log(line)
    return result


# ------------------------------------------------------------------------ Python side
def run_command(
    command: str, options: str | None = None, imp: Any = None, **values: Any
) -> CommandResult:
    """Run a pcfij command through ImageJ (``IJ.run``) and return what it produced.

    ``command`` is the ImageJ title (``"pCF Analysis"``) or the CLI name (``"pcf"``);
    options are a macro options string, or keyword values turned into one.

    Raises
    ------
    CommandFailed
        With ImageJ's message when the command reported an error.
    """
    table = command_table()
    if command not in table:
        by_name = {c.name: t for t, (c, _) in table.items()}
        if command not in by_name:
            raise InputError(f"unknown pcfij command {command!r}; known: {', '.join(table)}")
        command = by_name[command]
    cmd = table[command][0]
    if values:
        # keyword values: start from the declared defaults (flags that default to True
        # stay on), as the Python API would
        merged = {p.name: p.default for p in cmd.params if p.imagej and not p.required}
        merged.update(values)
        extra = cmd.macro_options(merged)
        options = f"{options or ''} {extra}".strip()
    IJ = jclass("ij.IJ")
    _state.error = None
    _state.result = None
    try:
        # a blank (not empty) option string keeps ImageJ in macro mode: no dialog shows
        if imp is not None:
            IJ.run(imp, command, options or " ")
        else:
            IJ.run(command, options or " ")
    except Exception as exc:  # ImageJ aborted (e.g. Macro canceled)
        if getattr(_state, "error", None) is None:
            raise CommandFailed(f"{command}: {_one_line(exc)}") from None
    err = getattr(_state, "error", None)
    if err is not None:
        typ, msg = err
        if issubclass(typ, (InputError, InputTypeError)):
            raise typ(msg)
        raise CommandFailed(f"{command}: {msg}")
    return getattr(_state, "result", None) or CommandResult()


def run_macro(code: str, arg: str = "") -> str | None:
    """Run ImageJ macro code and return its return value (None if none or aborted)."""
    IJ = jclass("ij.IJ")
    out = IJ.runMacro(code, arg)
    return None if out is None else str(out)
