"""One declaration per command: parameters feed the Python checks, the CLI, ImageJ dialogs
and macro options.

A :class:`Command` lists its :class:`Param` objects once. From that list

* :meth:`Command.validate` checks and coerces keyword arguments for the Python API
  (raising :class:`~pcfij.errors.InputError` / :class:`~pcfij.errors.InputTypeError`),
* :meth:`Command.add_to_parser` builds the ``pcfij <name>`` argparse sub-command,
* :meth:`Command.parse_macro_options` / :meth:`Command.macro_options` read and write
  ImageJ macro option strings (``"radius=6 points=32 pow2"``), and
* :mod:`pcfij.imagej.dialogs` builds a macro-recordable ``GenericDialog``.

ImageJ derives a macro key from a dialog label: the label's first word, lower-cased.
Each parameter therefore has a one-word ``key`` (default: its name) used as the first word
of its dialog label and as its macro key, so ``run("pCF Analysis", "radius=4 points=16")``
and the CLI's ``--radius 4 --points 16`` set the same Python arguments.
"""

from __future__ import annotations

import argparse
import math
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pcfij.errors import InputError, InputTypeError

KINDS = ("int", "float", "bool", "choice", "str", "floats", "image", "path")


@dataclass(frozen=True)
class Param:
    """A command parameter.

    Parameters
    ----------
    name : str
        Python keyword argument name (``bleach_filter``).
    kind : str
        One of ``int``, ``float``, ``bool``, ``choice``, ``str``, ``floats`` (comma separated
        numbers, e.g. a per-axis scale), ``image`` (an input image: an array in Python, a
        file path on the CLI, an image chooser in ImageJ) or ``path`` (an output or extra
        file).
    default : Any
        Default value; ``REQUIRED`` for parameters without one.
    help : str
        One sentence for ``--help`` and docs.
    choices : tuple
        Allowed values for ``choice`` parameters.
    min, max : float, optional
        Inclusive bounds for numbers.
    unit : str
        Unit shown in the dialog label and help (``"pixels"``, ``"frames"``).
    key : str, optional
        One-word macro key and first word of the dialog label (default: ``name``).
    cli : str, optional
        CLI flag (default ``--name-with-dashes``); ``image`` parameters are positional
        unless ``optional`` is True.
    optional : bool
        The value may be None (e.g. "no mask").
    aliases : tuple of str
        Other macro keys accepted for this parameter (e.g. ``image1`` for the plugin's
        ``dataset1``); options are rewritten to :attr:`macro_key` before dialogs read them.
    imagej : bool
        Show this parameter in the ImageJ dialog (False for CLI-only options such as
        output paths).
    python : bool
        The parameter is an argument of the command's engine function (False for what only
        the adapters use: output paths, ``overwrite``, file-format options ...). The
        declaration test compares the others' names and defaults with the function's
        signature.
    arg : str, optional
        The function's name for this argument when it differs from ``name`` (``ref`` on
        the CLI is ``ref_mat`` in algotom's signature).
    """

    name: str
    kind: str
    default: Any = None
    help: str = ""
    choices: tuple = ()
    min: float | None = None
    max: float | None = None
    unit: str = ""
    key: str | None = None
    cli: str | None = None
    optional: bool = False
    imagej: bool = True
    aliases: tuple[str, ...] = ()
    python: bool = True
    arg: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown parameter kind {self.kind!r}")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"choice parameter {self.name!r} needs choices")
        if " " in self.macro_key:
            raise ValueError("macro keys are one word")

    @property
    def macro_key(self) -> str:
        """The ImageJ macro key (first word of the dialog label, lower case)."""
        return (self.key or self.name).lower()

    @property
    def label(self) -> str:
        """Dialog label: the macro key, then the unit in brackets."""
        return f"{self.macro_key} ({self.unit})" if self.unit else self.macro_key

    @property
    def argument(self) -> str:
        """The name of this parameter in the engine function's signature."""
        return self.arg or self.name

    @property
    def flag(self) -> str:
        return self.cli or "--" + self.name.replace("_", "-")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    # ------------------------------------------------------------------ checking
    def coerce(self, value: Any) -> Any:
        """Check and convert one value; raise InputError/InputTypeError naming the parameter."""
        if value is None:
            if self.optional or self.kind in ("image", "path") and not self.required:
                return None
            raise InputError(f"{self.name} must be given")
        kind = self.kind
        if kind == "bool":
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise InputError(f"{self.name} must be true or false; got {value!r}")
            return bool(value)
        if kind == "int":
            out = self._number(value, int)
        elif kind == "float":
            out = self._number(value, float)
        elif kind == "choice":
            text = str(value)
            matches = [c for c in self.choices if str(c).lower() == text.lower()]
            if not matches:
                raise InputError(
                    f"{self.name} must be one of {', '.join(map(str, self.choices))}; got {value!r}"
                )
            return matches[0]
        elif kind == "floats":
            return self._floats(value)
        else:  # str, image, path: passed through
            return value
        self._check_range(out)
        return out

    def _number(self, value: Any, typ: type) -> int | float:
        if isinstance(value, bool):
            raise InputTypeError(f"{self.name} must be a number, not a bool")
        try:
            if typ is int:
                if isinstance(value, str):
                    value = float(value.strip())
                if isinstance(value, float):
                    if not value.is_integer():
                        raise InputError(f"{self.name} must be a whole number; got {value!r}")
                out = int(value)
                if out != value:
                    raise InputError(f"{self.name} must be a whole number; got {value!r}")
                return out
            out = float(value)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"{self.name} must be a number; got {value!r}") from None
        if not math.isfinite(out):
            raise InputError(f"{self.name} must be a finite number; got {value!r}")
        return out

    def _floats(self, value: Any) -> tuple[float, ...]:
        if isinstance(value, str):
            parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
        elif isinstance(value, Iterable):
            parts = list(value)
        else:
            parts = [value]
        try:
            out = tuple(float(p) for p in parts)
        except (TypeError, ValueError):
            raise InputError(
                f"{self.name} must be comma-separated numbers like 0.1,0.1,0.3; got {value!r}"
            ) from None
        if not out or not all(math.isfinite(v) for v in out):
            raise InputError(f"{self.name} must be finite numbers; got {value!r}")
        for v in out:
            self._check_range(v)
        return out

    def _check_range(self, v: float) -> None:
        unit = f" {self.unit}" if self.unit else ""
        if self.min is not None and v < self.min:
            raise InputError(f"{self.name} must be at least {self.min:g}{unit}; got {v:g}")
        if self.max is not None and v > self.max:
            raise InputError(f"{self.name} must be at most {self.max:g}{unit}; got {v:g}")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Command:
    """A command: its names, its parameters and the engine function it runs.

    Parameters
    ----------
    name : str
        CLI sub-command (``pcfij pcf``); the CLI finds its runner by this name
        (:data:`pcfij.cli.runners.RUNNERS`), ImageJ by this name too.
    title : str
        ImageJ menu command under *Plugins > pcfij* (``"pCF Analysis"``).
    summary : str
        One line for ``--help``, menus and docs.
    params : tuple of Param
        The parameters, in dialog order.
    function : callable, optional
        The engine function the command runs (``pcfij.pcf.ipcf``), None for commands that
        are adapters only (``install-plugins``). Its signature holds the defaults of every
        parameter with ``python=True``.
    cli_extra : callable, optional
        Adds arguments that are not parameters (positional CLI-only words) to the argparse
        parser.
    """

    name: str
    title: str
    summary: str
    params: tuple[Param, ...]
    function: Callable[..., Any] | None = field(default=None, compare=False)
    cli_extra: Callable[[argparse.ArgumentParser], None] | None = field(default=None)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params if not p.required}

    def validate(
        self, values: Mapping[str, Any] | None = None, *, require: bool = True, **kwargs: Any
    ) -> dict[str, Any]:
        """Return a complete, checked set of values (defaults filled in).

        With ``require=False`` missing required parameters are left out instead of being
        an error (the Python API passes its arrays separately).

        Raises
        ------
        InputError
            Unknown parameter, missing required value or value out of range.
        """
        return check_values(self.params, dict(values or {}, **kwargs), require=require,
                            owner=self.name)

    # ------------------------------------------------------------------ CLI
    def add_to_parser(self, subparsers: Any) -> argparse.ArgumentParser:
        """Add ``pcfij <name>`` with one option per parameter to an argparse sub-parser set."""
        parser = subparsers.add_parser(self.name, help=self.summary.replace("%", "%%"),
                                       description=self.summary)
        for p in self.params:
            unit = f" [{p.unit}]" if p.unit else ""
            text = (p.help + unit).replace("%", "%%")  # argparse formats help with %
            if p.kind == "image" and not p.optional and p.cli is None:
                parser.add_argument(p.name, metavar=p.name.upper(), help=text)
                continue
            if p.kind == "bool":
                group = parser.add_mutually_exclusive_group()
                group.add_argument(
                    p.flag, dest=p.name, action="store_true", default=None,
                    help=text + (" (default)" if p.default else ""),
                )
                group.add_argument(
                    "--no-" + p.flag.lstrip("-"), dest=p.name, action="store_false",
                    help=argparse.SUPPRESS if not p.default else f"turn off {p.flag}",
                )
                continue
            kw: dict[str, Any] = {"dest": p.name, "default": None,
                                  "metavar": p.macro_key.upper()}
            if p.kind == "choice":
                kw["choices"] = [str(c) for c in p.choices]
            default = "" if p.required or p.default is None else f" (default {p.default})"
            parser.add_argument(p.flag, help=text + default, required=p.required, **kw)
        if self.cli_extra is not None:
            self.cli_extra(parser)
        return parser

    def values_from_namespace(self, ns: argparse.Namespace) -> dict[str, Any]:
        """Collect the declared parameters from parsed CLI arguments (unset ones omitted)."""
        given = {p.name: getattr(ns, p.name) for p in self.params}
        return {k: v for k, v in given.items() if v is not None}

    # ------------------------------------------------------------------ ImageJ macro options
    def canonical_macro_options(self, options: str | None) -> str | None:
        """Rewrite alias keys (:attr:`Param.aliases`) to the parameters' macro keys.

        The canonical key wins when both are given. Other text is kept as it is.
        """
        if not options:
            return options
        alias = {a.lower(): p.macro_key for p in self.params if p.imagej for a in p.aliases}
        if not alias:
            return options
        tokens = _split_macro_options(options)
        parts = []
        for key, value in tokens.items():
            canon = alias.get(key, key)
            if canon != key and canon in tokens:
                continue
            if value is None:
                parts.append(canon)
            else:
                parts.append(f"{canon}=[{value}]" if " " in value else f"{canon}={value}")
        return " ".join(parts)

    def parse_macro_options(self, options: str | None) -> dict[str, Any]:
        """Read an ImageJ macro option string (``"radius=4 points=16 pow2 image1=[a b.tif]"``).

        Flags (bool parameters) are true when their key is present and false otherwise,
        like ImageJ check boxes; missing keys of other kinds keep their defaults.
        Brackets quote values with spaces, as ImageJ writes them.
        """
        tokens = _split_macro_options(self.canonical_macro_options(options) or "")
        out: dict[str, Any] = {}
        for p in self.params:
            if not p.imagej:
                continue
            if p.kind == "bool":
                out[p.name] = p.macro_key in tokens and tokens[p.macro_key] in (None, "true")
            elif tokens.get(p.macro_key) is not None:
                out[p.name] = tokens[p.macro_key]
        return out

    def macro_options(self, values: Mapping[str, Any]) -> str:
        """Write values as an ImageJ macro option string (the inverse of parsing)."""
        parts = []
        for p in self.params:
            if not p.imagej or p.name not in values or values[p.name] is None:
                continue
            v = values[p.name]
            if p.kind == "bool":
                if v:
                    parts.append(p.macro_key)
                continue
            if p.kind == "floats":
                v = ",".join(f"{x:g}" for x in v)
            text = str(v)
            if " " in text:
                text = f"[{text}]"
            parts.append(f"{p.macro_key}={text}")
        return " ".join(parts)


def check_values(params: Sequence[Param], given: Mapping[str, Any], *, require: bool = True,
                 owner: str = "") -> dict[str, Any]:
    """Check ``given`` against ``params``: a complete, coerced set of values.

    The one checking rule of :meth:`Command.validate`, also used by the engines with their
    own parameter lists (they never import the command declarations).

    Parameters
    ----------
    params : sequence of Param
        The parameters allowed.
    given : mapping
        Values by parameter name.
    require : bool
        Missing required parameters are an error (True) or left out (False).
    owner : str
        Command or function name that starts unknown/missing messages ("" for none).

    Raises
    ------
    InputError
        Unknown parameter, missing required value or value out of range.
    """
    who = f"{owner}: " if owner else ""
    names = {p.name for p in params}
    unknown = sorted(set(given) - names)
    if unknown:
        raise InputError(
            f"{who}unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}"
        )
    out: dict[str, Any] = {}
    for p in params:
        if p.name in given:
            out[p.name] = p.coerce(given[p.name])
        elif p.required:
            if require:
                raise InputError(f"{who}{p.name} must be given")
        else:
            out[p.name] = p.default
    return out


def _split_macro_options(options: str) -> dict[str, str | None]:
    """Split ``key=value key=[value with spaces] flag`` into a dict (flags map to None)."""
    out: dict[str, str | None] = {}
    i, n = 0, len(options)
    while i < n:
        while i < n and options[i].isspace():
            i += 1
        if i >= n:
            break
        j = i
        while j < n and not options[j].isspace() and options[j] != "=":
            j += 1
        key = options[i:j].lower()
        if j < n and options[j] == "=":
            j += 1
            if j < n and options[j] == "[":
                k = options.find("]", j)
                k = n if k < 0 else k
                value = options[j + 1 : k]
                j = k + 1
            else:
                k = j
                while k < n and not options[k].isspace():
                    k += 1
                value = options[j:k]
                j = k
            out[key] = value
        else:
            out[key] = None
        i = j
    return out


def join_cli(argv: Sequence[str]) -> str:
    """Quote a command line for messages and logs."""
    return " ".join(shlex.quote(a) for a in argv)
