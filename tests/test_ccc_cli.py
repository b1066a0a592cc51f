"""``pcfij ccc`` / ``ccc-noconf`` / ``xcorr`` command lines and output folders."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import tifffile

from pcfij.ccc import ccc
from pcfij.cli import main
from pcfij.commands import all_commands, imagej_commands
from pcfij.commands.ccc import CCC, CCC_NO_CONFIDENCE, XCORR
from pcfij.io.tiff import Calibration, read_image, write_imagej_tiff
from pcfij.simulate.pairs import correlated_pairs


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("ccc")
    s = correlated_pairs((10, 48, 48), distance=0.8, n_pairs=40, scale=(0.1, 0.1, 0.3),
                         psf_sigma=0.15, noise=0.3, cells=1, cell_radius=2.3, seed=3)
    cal = Calibration(0.1, 0.1, 0.3, "micron")
    write_imagej_tiff(d / "a.tif", s.image1, "ZYX", cal)
    write_imagej_tiff(d / "b.tif", s.image2, "ZYX", cal)
    write_imagej_tiff(d / "m.tif", s.mask.astype(np.uint8) * 255, "ZYX", cal)
    frames = [correlated_pairs((40, 40), distance=dd, n_pairs=20, seed=i)
              for i, dd in enumerate((3.0, 6.0))]
    tcal = Calibration(0.2, 0.2, 1.0, "micron", frame_interval=2.0)
    write_imagej_tiff(d / "ta.tif", np.stack([f.image1 for f in frames]), "TYX", tcal)
    write_imagej_tiff(d / "tb.tif", np.stack([f.image2 for f in frames]), "TYX", tcal)
    rgb = np.zeros((3, 40, 40), np.float32)
    tifffile.imwrite(d / "rgb.tif", rgb, imagej=True, metadata={"axes": "CYX"})
    return d, s


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def test_declarations_registered():
    cmds = all_commands()
    assert cmds["ccc"] is CCC and cmds["ccc-noconf"] is CCC_NO_CONFIDENCE
    assert cmds["xcorr"] is XCORR
    titles = imagej_commands()
    for title in ("Colocalization by Cross Correlation", "CCC - No confidence",
                  "Just Cross Correlation"):
        assert title in titles
    # the plugin's own macro keys work
    v = CCC.parse_macro_options(
        "dataset1=a.tif dataset2=b.tif maskabsent=false maskdataset=[m 1.tif] "
        "significantdigits=4 showintermediates generatecontributionimages=true")
    assert v["mask"] == "m 1.tif" and v["no_mask"] is False and v["intermediates"] is True
    assert v["contributions"] is True and v["significant_digits"] == "4"
    assert v.get("method", "plugin") == "plugin"
    assert CCC.parse_macro_options("dataset1=a dataset2=b method=unbiased")["method"] == "unbiased"
    assert CCC.validate(image1=np.zeros((4, 4)), image2=np.zeros((4, 4)))["method"] == "plugin"


def test_ccc_cli_3d_with_calibration(files, tmp_path, capsys):
    d, s = files
    out = tmp_path / "out"
    rc = main(["ccc", str(d / "a.tif"), str(d / "b.tif"), "--mask", str(d / "m.tif"),
               "--contributions", "--intermediates", "--significant-digits", "4",
               "-o", str(out)])
    assert rc == 0
    names = {p.name for p in out.iterdir()}
    # the Fiji plugin's file names
    assert names == {"CC Results.csv", "Summary.txt", "Correlation of images.csv",
                     "Correlation of images.png", "Contribution of a.tif.tif",
                     "Contribution of b.tif.tif", "Original CC result.tif",
                     "Subtracted CC result.tif", "Gaussian-modified CC result.tif"}
    # same numbers as the Python API with the calibration from the TIFF
    r = ccc(s.image1, s.image2, s.mask, scale=(0.1, 0.1, 0.3))
    table = read_csv(out / "CC Results.csv")
    assert table[0] == ["", "Value"]
    rows = dict(table[1:])
    assert list(rows) == ["Mean (micron)", "StDev (micron)", "Confidence", "R-squared",
                          "Gaussian Height"]
    assert float(rows["Mean (micron)"]) == pytest.approx(r.mean, rel=1e-3)
    assert float(rows["Confidence"]) == pytest.approx(r.confidence, rel=1e-3)
    corr = read_csv(out / "Correlation of images.csv")
    assert corr[0] == ["Distance (micron)", "Original CC", "Subtracted CC", "Gaussian fit"]
    assert len(corr) - 1 == r.distance.size
    img = read_image(out / "Contribution of a.tif.tif")
    assert img.data.shape == s.image1.shape and img.data.dtype == np.float32
    assert img.calibration.voxel_depth == pytest.approx(0.3)
    assert img.calibration.pixel_width == pytest.approx(0.1)
    assert "Mean (micron)" in capsys.readouterr().out


def test_time_series_cli(files, tmp_path):
    d, _ = files
    out = tmp_path / "ts"
    assert main(["ccc-noconf", str(d / "ta.tif"), str(d / "tb.tif"), "--no-mask",
                 "-o", str(out)]) == 0
    frames = read_csv(out / "Gaussian fits over time.csv")
    assert frames[0] == ["", "Mean", "SD", "R-squared", "Gaussian height"]
    assert [row[0] for row in frames[1:]] == ["0.0 sec", "2.0 sec"]  # frame interval 2 s
    results = dict(read_csv(out / "CC Results.csv")[1:])
    assert "Time of best CC (sec)" in results
    hm = tifffile.imread(out / "Correlation over time of ta.tif and tb.tif.tif")
    assert hm.shape[0] == 2 and hm.shape[2] == 2  # fit + subtracted channels, frames
    out2 = tmp_path / "xc"
    assert main(["xcorr", str(d / "ta.tif"), str(d / "tb.tif"), "--no-mask",
                 "-o", str(out2)]) == 0
    assert tifffile.imread(out2 / "Original CC result.tif").shape == (2, 40, 40)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["{d}/a.tif", "{d}/b.tif", "-o", "{o}"], "--mask MASK"),
        (["{d}/a.tif", "{d}/b.tif", "--mask", "{d}/m.tif", "--no-mask", "-o", "{o}"],
         "not both"),
        (["{d}/a.tif", "{d}/b.tif", "--no-mask"], "-o OUTDIR"),
        (["{d}/a.tif", "{d}/ta.tif", "--no-mask", "-o", "{o}"], "different shapes"),
        (["{d}/rgb.tif", "{d}/rgb.tif", "--no-mask", "-o", "{o}"], "channels"),
        (["{d}/a.tif", "{d}/nothere.tif", "--no-mask", "-o", "{o}"], "does not exist"),
        (["{d}/a.tif", "{d}/b.tif", "--no-mask", "--scale", "0.1,0.1,0", "-o", "{o}"],
         "positive"),
        (["{d}/a.tif", "{d}/b.tif", "--mask", "{d}/ta.tif", "-o", "{o}"], "mask shape"),
    ],
)
def test_cli_errors_are_one_line(files, tmp_path, capsys, args, words):
    d, _ = files
    o = tmp_path / "never"
    argv = ["ccc"] + [a.format(d=d, o=o) for a in args]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("pcfij ccc: error:") and words in err and "\n" not in err
    assert not o.exists()


def test_failed_write_leaves_no_output(files, tmp_path, monkeypatch):
    d, _ = files
    import pcfij.plot.ccc

    def boom(*a, **k):
        import errno

        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pcfij.plot.ccc, "render_plot", boom)
    out = tmp_path / "out"
    assert main(["ccc", str(d / "a.tif"), str(d / "b.tif"), "--no-mask", "-o", str(out)]) == 1
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_write_outputs_from_python(tmp_path):
    from pcfij.cli.ccc import write_outputs

    s = correlated_pairs((40, 40), distance=5, n_pairs=15, seed=2)
    r = ccc(s.image1, s.image2, contributions=True)
    write_outputs(r, tmp_path / "res", image_names=("red", "green"))
    names = {p.name for p in (tmp_path / "res").iterdir()}
    assert {"Contribution of red.tif", "Contribution of green.tif", "CC Results.csv"} <= names


def test_unbiased_method_on_the_command_line(files, tmp_path, capsys):
    d, _ = files
    out = tmp_path / "u"
    assert main(["ccc", str(d / "a.tif"), str(d / "b.tif"), "--mask", str(d / "m.tif"),
                 "--method", "unbiased", "-o", str(out)]) == 0
    rows = dict(read_csv(out / "CC Results.csv")[1:])
    assert "Distance 95% CI low (micron)" in rows
    lo, mid, hi = (float(rows[k]) for k in ("Distance 95% CI low (micron)", "Mean (micron)",
                                            "Distance 95% CI high (micron)"))
    assert lo < mid < hi
    with pytest.raises(SystemExit):
        main(["ccc", str(d / "a.tif"), str(d / "b.tif"), "--no-mask", "--method", "best",
              "-o", str(tmp_path / "never")])
    assert "invalid choice: 'best'" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


def test_engine_does_not_import_the_cli():
    import subprocess
    import sys

    code = ("import sys, pcfij.ccc, pcfij.ccc.present; "
            "print(any(m.startswith('pcfij.cli') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
