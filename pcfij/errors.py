"""Error types shared by the engine and its adapters."""

from __future__ import annotations

import re


class InputError(ValueError):
    """Bad user input.

    The message names the problem and says what to do about it. The CLI prints it as one
    line on stderr (no traceback) and exits non-zero; the ImageJ bridge shows it with
    ``IJ.error``; Python callers can catch it as a ``ValueError``.
    """


class InputTypeError(TypeError):
    """An argument of the wrong type (e.g. a non-numeric image); message says what to pass."""


class ShiftAtMarginWarning(RuntimeWarning):
    """A shift was found on the edge of its search range, so the true shift may be larger.

    Raised as a warning by :mod:`pcfij.shift` when the correlation peak lies on the border of
    the search window (``|shift| == margin``): the number is a lower bound, not a measurement.
    The CLI prints it as one ``warning:`` line on stderr; the ImageJ commands log it.
    """


def renamed(exc: InputError | InputTypeError, names: dict[str, str]):
    """The same error with the engine's argument names replaced by what the user knows.

    Engine messages name Python arguments (``ref_mat``, ``mat``); an adapter knows them as
    files or image titles. ``names`` maps argument name -> user-facing name; whole words
    only. Returns a new exception of the same type (raise it ``from None``).
    """
    text = str(exc)
    for old, new in names.items():
        text = re.sub(rf"(?<![\w-]){re.escape(old)}(?![\w-])", new, text)
    return type(exc)(text)
