"""The Python worker of the ImageJ command host, driven over its line protocol without Java:
``python -m pcfij.imagej.worker DIR`` in a fresh process, requests as the host sends them,
pixels in memory-mapped files of DIR (what Java's ``FileChannel.map`` writes)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from pcfij.commands import imagej_commands
from pcfij.params import _split_macro_options


class WorkerProcess:
    def __init__(self, folder):
        self.folder = folder
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pcfij.imagej.worker", str(folder)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self.ready = self.read()

    def send(self, **req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read()
        return json.loads(line)

    def until_final(self, timeout=120) -> tuple[dict, list[dict]]:
        events = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            m = self.read()
            if m["event"] in ("progress", "status"):
                events.append(m)
                continue
            return m, events
        raise AssertionError("no answer")

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(30)


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    """One worker for the module, as one ImageJ session uses one."""
    w = WorkerProcess(tmp_path_factory.mktemp("shm"))
    yield w
    w.close()


def _write(folder, name, arr: np.ndarray, title: str, roi=None) -> dict:
    """What Host.writeImage sends: planes in ImageJ order (T, Z, C, H, W)."""
    shape = {2: (1, 1, 1) + arr.shape, 3: (arr.shape[0], 1, 1) + arr.shape[1:]}[arr.ndim]
    path = folder / f"in-{name}.raw"
    mm = np.memmap(path, arr.dtype, mode="w+", shape=shape)
    mm[...] = arr.reshape(shape)
    mm.flush()
    del mm
    return {"path": str(path), "dtype": str(arr.dtype), "shape": list(shape), "title": title,
            "cal": {"pw": 0.5, "ph": 0.5, "pd": 1.0, "unit": "micron", "fi": 20.0,
                    "tunit": "ms"}, "roi": roi}


def _read_out(d: dict) -> np.ndarray:
    return np.fromfile(d["path"], d["dtype"]).reshape(d["shape"])


def test_ready_and_spec_of_every_command(worker):
    assert worker.ready["event"] == "ready" and worker.ready["pid"] == worker.proc.pid
    for title, cmd in imagej_commands().items():
        worker.send(op="prepare", command=title, options=None, titles=["a"])
        m = worker.read()
        assert m["event"] == "spec", m
        labels = [f["label"] for f in m["spec"]["fields"]]
        # ImageJ's macro key of a field is its label's first word: every key is distinct
        keys = [label.split()[0].lower() for label in labels]
        assert len(set(keys)) == len(keys), (title, keys)
        assert m["spec"]["title"] == title == cmd.title


@pytest.mark.parametrize("options, expected", [
    ("dataset1=a dataset2=b maskabsent=true", "dataset1=a dataset2=b maskabsent"),
    ("image1=[a] image2=b mask=[none] showintermediates=false",
     "dataset1=a dataset2=b maskdataset=*None*"),
    ("dataset1=[a b.tif] dataset2=b generatecontributionimages",
     "dataset1=[a b.tif] dataset2=b generatecontributionimages"),
    ("dataset1=a image1=b dataset2=b", "dataset1=a dataset2=b"),  # the key wins
])
def test_options_rewritten_for_generic_dialog(worker, options, expected):
    worker.send(op="prepare", command="Colocalization by Cross Correlation", options=options,
                titles=["a", "b", "a b.tif"])
    m = worker.read()
    assert m["event"] == "spec", m
    assert _split_macro_options(m["options"]) == _split_macro_options(expected)


@pytest.mark.parametrize("options, needle", [
    ("dataset1=a dataset2=b bogus=1", "unknown macro key bogus"),
    ("dataset1=a dataset2=[nope.tif]", "no open image is titled 'nope.tif'"),
    ("dataset1=a dataset2=b maskabsent=maybe", "check box"),
    ("dataset1=a dataset2=b significantdigits=many", "must be a number"),
    ("dataset1=a dataset2=b device=tpu", "must be one of auto, cpu, gpu"),
])
def test_bad_options_are_one_line_errors(worker, options, needle):
    worker.send(op="prepare", command="ccc", options=options, titles=["a", "b"])
    m = worker.read()
    assert m["event"] == "error" and needle in m["message"], m
    assert "\n" not in m["message"]


def test_pcf_run_progress_and_outputs(worker, tmp_path):
    from pcfij.pcf import ipcf

    rng = np.random.default_rng(1)
    data = rng.poisson(20, (64, 14, 16)).astype(np.uint16)
    d = _write(tmp_path, "data", data, "cells.tif")
    worker.send(op="run", id=1, command="pCF Analysis",
                values={"radius": 2, "npoints": 4, "nbins": 6, "bleach_filter": 0,
                        "pow2": False, "smooth": True, "mask": None, "device": "cpu"},
                images={"data": d})
    m, events = worker.until_final()
    assert m["event"] == "done", m
    assert any(e["event"] == "progress" for e in events)
    assert any(e["event"] == "status" for e in events)
    img = m["outputs"]["images"][0]
    assert img["title"] == "cells pCF" and img["cal"]["pw"] == 0.5
    ref = ipcf(data, 2, 4, 6, smooth=True, device="cpu")  # (y, x, point, bin)
    out = _read_out(img)                                   # (T=bin, Z=point, C, y, x)
    np.testing.assert_array_equal(out[:, :, 0], ref.transpose(3, 2, 0, 1))
    tables = {t["title"]: dict(t["columns"]) for t in m["outputs"]["tables"]}
    res = {k: np.fromfile(v["f64"], "<f8") for k, v in tables["Results"].items()}
    assert all(len(v) == ref.shape[3] for v in res.values())
    # frame interval 20 ms -> delays in seconds
    np.testing.assert_allclose(res["Delay (s)"], res["Delay (frames)"] * 0.02)
    assert (tmp_path / "in-data.raw").exists()  # inputs are the host's to delete


def test_selection_crops_and_cancel_keeps_worker(worker, tmp_path):
    from pcfij.pcf import correct_bleaching

    rng = np.random.default_rng(2)
    data = rng.poisson(50, (40, 12, 12)).astype(np.uint16)
    d = _write(tmp_path, "data", data, "s.tif", roi=[2, 3, 6, 5])
    values = {"filtersize": 4, "output_type": "float32", "mean": "integer"}
    worker.send(op="run", id=7, command="pCF Bleach Correction", values=values,
                images={"data": d})
    m, _ = worker.until_final()
    assert m["event"] == "done", m
    out = _read_out(m["outputs"]["images"][0])[:, 0, 0]
    np.testing.assert_allclose(out, correct_bleaching(data[:, 3:8, 2:8], 4, output="float32"))
    assert any("x=2 y=3 6x5" in line for line in m["outputs"]["log"])
    # cancel (here: sent before the run starts, so the first check point sees it); the
    # output files of run 7 are kept for reuse and must not be written by the cancelled run
    before = {f.name: f.read_bytes() for f in worker.folder.glob("out-*")}
    assert before
    worker.send(op="cancel", id=8)
    worker.send(op="run", id=8, command="pCF Bleach Correction", values=values,
                images={"data": d})
    m, _ = worker.until_final()
    assert m == {"event": "cancelled", "id": 8}
    assert {f.name: f.read_bytes() for f in worker.folder.glob("out-*")} == before
    worker.send(op="run", id=9, command="pCF Bleach Correction", values=values,
                images={"data": d})
    m, _ = worker.until_final()
    assert m["event"] == "done"  # the same worker goes on
    assert worker.proc.poll() is None


def test_errors_are_one_line_and_the_worker_goes_on(worker, tmp_path):
    plane = _write(tmp_path, "p", np.ones((10, 10), np.float32), "plane.tif")
    worker.send(op="run", id=1, command="pCF Analysis",
                values={"radius": 2, "npoints": 4, "nbins": 6, "bleach_filter": 0,
                        "pow2": False, "smooth": True, "mask": None, "device": "cpu"},
                images={"data": plane})
    m, _ = worker.until_final()
    assert m["event"] == "error" and "single image" in m["message"], m
    worker.send(op="prepare", command="nope", options=None, titles=[])
    m = worker.read()
    assert m["event"] == "error" and "unknown pcfij command" in m["message"]
    worker.send(op="ping")
    assert worker.read() == {"event": "pong"}
