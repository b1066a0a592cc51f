"""The declarations in :mod:`pcfij.commands` against the engine functions they describe.

Defaults are written in the functions' signatures and in the declarations' ``Param``s; this
test is what keeps the two equal: each parameter with ``python=True`` must be an argument of
the declared function (under ``Param.argument``) with the same default, read with
``inspect.signature`` of the function itself. Adapter-only parameters (``python=False``: output
paths, ``overwrite`` ...) are skipped, and so are commands without an engine function.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from pcfij.commands import COMMANDS, all_commands, command
from pcfij.kernels import parse_device
from pcfij.params import REQUIRED, Command, Param

ROOT = Path(__file__).resolve().parents[1]
WITH_FUNCTION = [c for c in COMMANDS if c.function is not None]
#: commands that are adapters only (no engine function behind them), checked to stay few
ADAPTER_ONLY = {"demo", "export", "install-plugins", "imagej-run"}


def _same_default(p: Param, sig_default) -> bool:
    if p.name in ("device", "gpu"):  # "cpu" on the CLI is gpu=False in algotom's signature
        return parse_device(p.default) == parse_device(sig_default)
    return p.default == sig_default and type(p.default) is type(sig_default)


@pytest.mark.parametrize("cmd", WITH_FUNCTION, ids=lambda c: c.name)
def test_declared_names_and_defaults_match_the_signature(cmd: Command):
    sig = inspect.signature(cmd.function).parameters
    checked = 0
    for p in cmd.params:
        if not p.python:
            continue
        assert p.argument in sig, (
            f"{cmd.name}: parameter {p.name!r} is not an argument of "
            f"{cmd.function.__qualname__}{inspect.signature(cmd.function)}; "
            "mark it python=False if only the adapters use it, or set arg=")
        default = sig[p.argument].default
        if p.default is REQUIRED:
            assert default is inspect.Parameter.empty, (
                f"{cmd.name}: {p.name} is required in the declaration but defaults to "
                f"{default!r} in the function")
        else:
            assert default is not inspect.Parameter.empty, (
                f"{cmd.name}: {p.name} has a default ({p.default!r}) only in the declaration")
            assert _same_default(p, default), (
                f"{cmd.name}: {p.name} defaults to {p.default!r} in the declaration and "
                f"{default!r} in {cmd.function.__qualname__}")
        checked += 1
    assert checked >= 2  # the comparison compared something


def test_the_checker_catches_a_changed_default():
    # the rule above, on a declaration whose default disagrees with its function
    def engine(data, radius=6):
        return data, radius

    bad = Command("x", "", "", (Param("data", "image", REQUIRED), Param("radius", "int", 5)),
                  function=engine)
    with pytest.raises(AssertionError, match="radius defaults to 5"):
        test_declared_names_and_defaults_match_the_signature(bad)
    unknown = Command("x", "", "", (Param("data", "image", REQUIRED),
                                    Param("radius", "int", 6), Param("out", "path", None)),
                      function=engine)
    with pytest.raises(AssertionError, match="'out' is not an argument"):
        test_declared_names_and_defaults_match_the_signature(unknown)


def test_every_command_is_declared_once_and_adapter_only_ones_are_known():
    assert len(all_commands()) == len(COMMANDS)
    assert {c.name for c in COMMANDS if c.function is None} == ADAPTER_ONLY
    assert command("pcf").function.__name__ == "ipcf"
    with pytest.raises(KeyError, match="known: pcf"):
        command("nope")


def test_every_command_has_a_cli_runner():
    from pcfij.cli.runners import RUNNERS

    assert set(RUNNERS) == {c.name for c in COMMANDS}
    assert all(callable(r) for r in RUNNERS.values())


def test_declarations_hold_no_import_strings():
    # functions are held as objects: no "pcfij.x:y" strings, no cli_runner/imagej_runner
    for path in sorted((ROOT / "pcfij" / "commands").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not (node.value.startswith("pcfij.") and ":" in node.value), path
            if isinstance(node, ast.keyword):
                assert node.arg not in ("cli_runner", "imagej_runner"), path
    fields = Command.__dataclass_fields__
    assert "cli_runner" not in fields and "imagej_runner" not in fields
