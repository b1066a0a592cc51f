"""ImageJ dialogs built from a command's declaration, and macro-option parsing without them.

The dialog uses each parameter's :attr:`~pcfij.params.Param.label` (its one-word macro key
first), so ImageJ's macro recorder writes ``run("pCF Analysis", "radius=4 points=16")`` and
a macro's options fill the dialog without showing it. Images are chosen by title;
optional images (masks) offer :data:`NONE` ("*None*", ImageJ's usual spelling; ``none`` and
``[no mask]`` are accepted in macro options too).

With ``java.awt.headless=true`` plain ImageJ cannot build dialogs; :func:`values_from_options`
reads the same options with :meth:`pcfij.params.Command.parse_macro_options`.
"""

from __future__ import annotations

from typing import Any

from pcfij.errors import InputError
from pcfij.params import Command, Param

NONE = "*None*"
NONE_ALIASES = ("*none*", "none", "no mask", "no", "")

# values used interactively last time, per command (ImageJ's usual "remember" behaviour;
# macros always start from the declared defaults so that they are reproducible)
_last: dict[str, dict[str, Any]] = {}


class Canceled(Exception):
    """The user pressed Cancel."""


def image_params(cmd: Command) -> list[Param]:
    return [p for p in cmd.params if p.kind == "image" and p.imagej]


def uses_current_image(cmd: Command) -> Param | None:
    """The single required image parameter taken from the current image (no chooser)."""
    req = [p for p in image_params(cmd) if not p.optional]
    return req[0] if len(req) == 1 else None


def _format_default(p: Param, value: Any) -> Any:
    if p.kind == "floats" and value is not None and not isinstance(value, str):
        return ",".join(f"{v:g}" for v in value)
    return value


def _digits(p: Param, value: Any) -> int:
    if p.kind == "int":
        return 0
    text = f"{float(value):g}" if value is not None else "0"
    if "e" in text:
        return 3
    return max(1, min(6, len(text.split(".")[1]) if "." in text else 1))


def show_dialog(cmd: Command, titles: list[str], current: str | None, macro: bool) -> dict:
    """Show (or, in a macro, fill from its options) a GenericDialog; return raw values.

    Image parameters come back as titles (or None for "*None*").
    """
    from pcfij.imagej.convert import jclass

    GenericDialog = jclass("ij.gui.GenericDialog")
    gd = GenericDialog(cmd.title)
    remembered = {} if macro else _last.get(cmd.name, {})
    single = uses_current_image(cmd)
    shown: list[Param] = []
    req_index = 0
    ordered = ([current] if current else []) + [t for t in titles if t != current]
    for p in cmd.params:
        if not p.imagej or p is single:
            continue
        default = remembered.get(p.name, p.default if not p.required else None)
        if p.kind == "image":
            items = ([NONE] if p.optional else []) + ordered
            if not items:
                items = [NONE]
            if p.optional:
                pick = default if default in items else NONE
            else:
                pick = ordered[min(req_index, len(ordered) - 1)] if ordered else items[0]
                req_index += 1
            gd.addChoice(p.label, items, pick)
        elif p.kind in ("int", "float"):
            value = 0 if default is None else default
            gd.addNumericField(p.label, float(value), _digits(p, value))
        elif p.kind == "bool":
            gd.addCheckbox(p.label, bool(default))
        elif p.kind == "choice":
            items = [str(c) for c in p.choices]
            gd.addChoice(p.label, items, str(default if default is not None else items[0]))
        else:  # str, floats, path
            gd.addStringField(p.label, str(_format_default(p, default) or ""), 12)
        shown.append(p)
    if cmd.summary:
        gd.addMessage(cmd.summary)
    gd.showDialog()
    if gd.wasCanceled():
        raise Canceled()
    out: dict[str, Any] = {}
    for p in shown:
        if p.kind in ("image", "choice"):
            out[p.name] = str(gd.getNextChoice())
        elif p.kind in ("int", "float"):
            value = float(gd.getNextNumber())
            if value != value:  # NaN: ImageJ's "not a number" from a bad field
                raise InputError(f"{p.name} must be a number")
            out[p.name] = value
        elif p.kind == "bool":
            out[p.name] = bool(gd.getNextBoolean())
        else:
            out[p.name] = str(gd.getNextString())
    for p in shown:
        if p.kind == "image" and str(out[p.name]).lower() in NONE_ALIASES:
            out[p.name] = None
    if not macro:
        _last[cmd.name] = {k: v for k, v in out.items()}
    return out


def values_from_options(cmd: Command, options: str | None) -> dict:
    """Read macro options without a dialog (headless); image values are titles or None."""
    if not options or not options.strip():
        # no options at all: the declared defaults (ImageJ would have shown a dialog)
        return {p.name: p.default for p in cmd.params
                if p.imagej and p.kind != "image" and not p.required}
    out = cmd.parse_macro_options(options)
    for p in image_params(cmd):
        if p.name in out and str(out[p.name]).strip().lower() in NONE_ALIASES:
            out[p.name] = None
    return out


def check_values(cmd: Command, raw: dict) -> dict:
    """Check the ImageJ-visible, non-image values; fill defaults (CLI-only ones are skipped)."""
    out: dict[str, Any] = {}
    for p in cmd.params:
        if not p.imagej or p.kind == "image":
            continue
        value = raw.get(p.name)
        if p.kind in ("str", "path", "floats") and isinstance(value, str) and not value.strip():
            value = None
        if (value is not None and p.optional and p.kind in ("int", "float")
                and p.min is not None and p.min > 0 and float(value) == 0.0):
            value = None  # the dialog's 0 means "not set" for optional numbers
        if value is not None:
            out[p.name] = p.coerce(value)
        elif p.required:
            raise InputError(f"{p.macro_key} must be given")
        else:
            out[p.name] = p.coerce(p.default) if p.default is not None else None
    return out


def record_options(cmd: Command, values: dict) -> str:
    """The macro options string that reproduces ``values`` (for logs and the recorder)."""
    return cmd.macro_options(values)
