"""One declaration feeds Python checks, CLI flags and ImageJ macro options."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pcfij.cli import build_parser
from pcfij.commands import all_commands, imagej_commands
from pcfij.commands.pcf import PCF
from pcfij.errors import InputError, InputTypeError
from pcfij.params import Command, Param, _split_macro_options


def test_macro_options_round_trip_and_brackets():
    values = PCF.parse_macro_options("radius=4 points=16 bins=20 pow2 mask=[my mask.tif]")
    assert values == {"radius": "4", "npoints": "16", "nbins": "20", "pow2": True,
                      "smooth": False, "mask": "my mask.tif"}
    checked = PCF.validate(values, require=False)
    assert checked["radius"] == 4 and checked["npoints"] == 16 and checked["pow2"] is True
    text = PCF.macro_options(checked)
    assert "radius=4" in text and "points=16" in text and "mask=[my mask.tif]" in text
    assert PCF.parse_macro_options(text)["npoints"] == "16"


def test_cli_flags_come_from_the_declaration():
    parser = build_parser()
    ns = parser.parse_args(["pcf", "in.tif", "-o", "out", "--points", "16", "--pow2",
                            "--no-smooth"])
    values = ns._command.values_from_namespace(ns)
    assert values["npoints"] == "16" and values["pow2"] is True and values["smooth"] is False
    assert PCF.validate(values)["npoints"] == 16


def test_validation_messages_name_the_parameter():
    with pytest.raises(InputError, match="radius must be at least 1"):
        PCF.validate(require=False, radius=0)
    with pytest.raises(InputError, match="npoints must be a whole number"):
        PCF.validate(require=False, npoints=2.5)
    with pytest.raises(InputError, match="device must be one of"):
        PCF.validate(require=False, device="tpu")
    with pytest.raises(InputError, match="unknown parameter"):
        PCF.validate(require=False, radious=3)
    with pytest.raises(InputTypeError):
        PCF.validate(require=False, radius=True)
    with pytest.raises(InputError, match="data must be given"):
        PCF.validate(output="x")


def test_floats_parameter():
    cmd = Command("t", "", "", (Param("scale", "floats", (1.0,), min=0),))
    assert cmd.validate(scale="0.1, 0.1,0.3")["scale"] == (0.1, 0.1, 0.3)
    with pytest.raises(InputError, match="at least 0"):
        cmd.validate(scale="-1,2")
    with pytest.raises(InputError, match="comma-separated"):
        cmd.validate(scale="a,b")


def test_registry_has_unique_names_and_macro_keys():
    cmds = all_commands()
    assert {"pcf", "bleach", "demo", "simulate"} <= set(cmds)
    assert "pCF Analysis" in imagej_commands()
    for cmd in cmds.values():
        keys = [p.macro_key for p in cmd.params if p.imagej]
        assert len(keys) == len(set(keys)), cmd.name


@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
                       st.from_regex(r"[A-Za-z0-9_.]{1,8}( [A-Za-z0-9_.]{1,8})?", fullmatch=True),
                       max_size=5))
def test_split_macro_options_inverts_imagej_quoting(d):
    text = " ".join(f"{k}=[{v}]" if " " in v else f"{k}={v}" for k, v in d.items())
    assert _split_macro_options(text) == {k: v for k, v in d.items()}


def test_macro_key_aliases_are_rewritten():
    from pcfij.commands.ccc import CCC

    text = CCC.canonical_macro_options("image1=[a b] image2=c mask=m generatecontributionimages")
    assert text == "dataset1=[a b] dataset2=c maskdataset=m generatecontributionimages"
    # the canonical key wins when both are given
    assert CCC.parse_macro_options("image1=x dataset1=y dataset2=z")["image1"] == "y"
