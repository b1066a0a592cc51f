"""CCC method "plugin": against an independent implementation of the Fiji plugin's rules
written here (profile centre, exact keys, mirroring, rejection, moving-average refits, -1
failures, mirror-extended contributions) and against the real commons-math3
``GaussianCurveFitter`` (Debian's jar, called through JPype in a subprocess: a JVM starts
once per process and the ImageJ tests need their own)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.signal

from pcfij.ccc import ccc, cross_correlation_profile
from pcfij.ccc.cmfit import fit as cm_fit
from pcfij.ccc.fit import fit_gaussian
from pcfij.ccc.present import ccc_outputs
from pcfij.simulate.pairs import correlated_pairs

CM_JAR = "/usr/share/java/commons-math3.jar"
REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ plugin profile, by hand
def plugin_profile(image: np.ndarray, scale_xyz) -> tuple[np.ndarray, np.ndarray]:
    """The plugin's RadialProfiler written out: every pixel, centre (n-1)/2 per axis,
    distance = sqrt of squares summed in x, y, z order, one key per distinct double."""
    shape = image.shape
    nd = len(shape)
    dims_xyz = shape[::-1]
    centre = [(float(n) - 1.0) / 2 for n in dims_xyz]
    sums: dict = {}
    for idx in np.ndindex(*shape):
        pos = idx[::-1]  # x, y, z
        sq = 0.0
        for i in range(nd):
            sq += ((pos[i] - centre[i]) * scale_xyz[i]) ** 2
        key = math.sqrt(sq)
        s = sums.setdefault(key, [0.0, 0])
        s[0] += float(image[idx])
        s[1] += 1
    keys = sorted(sums)
    return np.array(keys), np.array([sums[k][0] / sums[k][1] for k in keys])


def plugin_correlations(a, b, mask, scale_xyz):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    m = np.ones(a.shape, bool) if mask is None else mask != 0
    a0, b0 = np.where(m, a, 0), np.where(m, b, 0)
    volume = m.sum() * math.prod(scale_xyz)
    orig = scipy.signal.correlate(a0, b0, mode="same", method="direct") / volume
    sub = scipy.signal.correlate(np.where(m, a - a[m].mean(), 0), b0, mode="same",
                                 method="direct") / volume
    return orig, sub, a0, b0


# ------------------------------------------------------------------ Java reference (subprocess)
JAVA_SCRIPT = r'''
import json, math, os, sys
from pcfij.imagej.start import find_java_home
os.environ["JAVA_HOME"] = str(find_java_home())
import scyjava
scyjava.config.set_java_constraints(fetch="never")
scyjava.config.add_classpath(sys.argv[1])
scyjava.start_jvm()
import jpype
GCF = jpype.JClass("org.apache.commons.math3.fitting.GaussianCurveFitter")
WOP = jpype.JClass("org.apache.commons.math3.fitting.WeightedObservedPoints")
TMI = jpype.JClass("org.apache.commons.math3.exception.TooManyIterationsException")

def java_fit(obs_pts, iters):
    obs = WOP()
    for x, y in obs_pts:
        obs.add(float(x), float(y))
    try:
        return list(GCF.create().withMaxIterations(iters).fit(obs.toList())), ""
    except TMI:
        return None, ""
    except jpype.JException as e:
        return None, str(e.getClass().getSimpleName())

def observations(keys, vals):
    # the plugin: max from 0 with '>', first key counts as 0, mirror beyond twice the peak
    mx, loc = 0.0, 0.0
    for k, v in zip(keys, vals):
        if v > mx:
            mx, loc = v, k
    if loc == keys[0]:
        loc = 0.0
    pts = []
    for k, v in zip(keys, vals):
        pts.append((k, v))
        if k > 2 * loc:
            pts.append((2 * loc - k, v))
    return pts

def averaged(keys, vals, w):
    out = {}
    for k in keys:
        sel = [i for i, kk in enumerate(keys) if k - w <= kk < k + w]
        nk = math.fsum(keys[i] for i in sel) / len(sel)
        out[nk] = math.fsum(vals[i] for i in sel) / len(sel)
    ks = sorted(out)
    return ks, [out[k] for k in ks]

def curve_fit(keys, vals, px):
    crash = ""
    out, err = java_fit(observations(keys, vals), 100)
    crash = crash or err
    if out is None or out[2] <= px or out[1] < -px or out[0] < 0:
        w = px / 10
        while (out is None or out[2] <= px or out[1] < 0) and w <= px / 2:
            ks, vs = averaged(keys, vals, w)
            res, err = java_fit(observations(ks, vs), 50)
            crash = crash or err
            if res is not None or err:
                out = res
            w += px / 10
    if out is None or out[2] <= px or out[1] < -px or out[0] < 0:
        return {"ok": False, "crash": crash}
    return {"ok": True, "params": out, "crash": crash}

cases = json.load(sys.stdin)
results = []
for c in cases:
    if c["kind"] == "rules":
        results.append(curve_fit(c["x"], c["y"], c["px"]))
    else:
        p, err = java_fit(list(zip(c["x"], c["y"])), c["iters"])
        results.append({"params": p, "crash": err})
print(json.dumps(results))
'''


def java_reference(cases: list[dict]) -> list[dict]:
    pytest.importorskip("jpype")
    pytest.importorskip("scyjava")
    if not os.path.isfile(CM_JAR):
        pytest.skip(f"{CM_JAR} missing (apt-get install libcommons-math3-java)")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", JAVA_SCRIPT, CM_JAR], input=json.dumps(cases),
                          capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode != 0:
        pytest.skip(f"Java reference could not run: {proc.stderr.strip()[-300:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ scenarios
def _scenarios():
    out = []
    s = correlated_pairs((40, 46), distance=2.5, n_pairs=14, noise=0.5, cells=1,
                         cell_radius=8.5, scale=(0.5, 0.7), seed=3)
    out.append(("2D even, calibrated anisotropic, masked", s.image1, s.image2, s.mask,
                (0.5, 0.7)))
    s = correlated_pairs((41, 45), distance=5, n_pairs=20, noise=0.5, seed=4)
    out.append(("2D odd, uncalibrated", s.image1, s.image2, None, (1.0, 1.0)))
    s = correlated_pairs((41, 44), distance=0, n_pairs=20, noise=0.3, seed=5)
    out.append(("2D colocalised (peak at 0, mirrored)", s.image1, s.image2, None, (1.0, 1.0)))
    sc = (0.1, 0.1, 0.3)
    s = correlated_pairs((8, 30, 33), distance=0.6, n_pairs=30, scale=sc, psf_sigma=0.15,
                         noise=0.3, cells=1, cell_radius=1.3, seed=6)
    out.append(("3D anisotropic, masked, odd/even", s.image1, s.image2, s.mask, sc))
    s = correlated_pairs((7, 24, 26), distance=0.5, n_pairs=25, scale=sc, psf_sigma=0.15,
                         noise=0.3, seed=7)
    out.append(("3D odd z", s.image1, s.image2, None, sc))
    s = correlated_pairs((40, 40), distance=4, n_pairs=15, noise=0.5, seed=8)
    out.append(("2D low intensity", s.image1 * 1e-6, s.image2 * 1e-6, None, (1.0, 1.0)))
    a = correlated_pairs((40, 42), n_pairs=15, noise=1.0, seed=9).image1
    b = correlated_pairs((40, 42), n_pairs=15, noise=1.0, seed=19).image2
    out.append(("2D independent images", a, b, None, (1.0, 1.0)))
    rng = np.random.default_rng(1)
    out.append(("2D pure noise (the plugin cannot fit)", rng.normal(size=(32, 34)).astype(
        np.float32), rng.normal(size=(32, 34)).astype(np.float32), None, (1.0, 1.0)))
    return out


SCENARIOS = _scenarios()


@pytest.fixture(scope="module")
def plugin_runs():
    """pcfij's plugin method on every scenario and the independent reference of its fit."""
    runs = []
    for name, a, b, m, sc in SCENARIOS:
        r = ccc(a, b, m, scale=sc, intermediates=True)
        runs.append((name, a, b, m, sc, r))
    cases = [{"kind": "rules", "x": r.distance.tolist(), "y": r.subtracted.tolist(),
              "px": sc[0]} for *_, sc, r in runs]
    return runs, java_reference(cases)


@pytest.mark.parametrize("i", range(len(SCENARIOS)), ids=[s[0] for s in SCENARIOS])
def test_profile_centre_and_exact_keys(i):
    name, a, b, m, sc = SCENARIOS[i]
    r = ccc(a, b, m, scale=sc, intermediates=True)
    orig, sub, _, _ = plugin_correlations(a, b, m, sc)
    keys, po = plugin_profile(orig, sc)
    _, ps = plugin_profile(sub, sc)
    np.testing.assert_array_equal(r.distance, keys)  # the same doubles, the same number
    np.testing.assert_allclose(r.original, po, rtol=0, atol=2e-5 * np.abs(po).max())
    np.testing.assert_allclose(r.subtracted, ps, rtol=0, atol=2e-5 * np.abs(ps).max())


def test_fit_rules_match_reference_with_real_commons_math(plugin_runs):
    runs, ref = plugin_runs
    failures = 0
    for (name, *_, r), want in zip(runs, ref):
        assert bool(r.fit_ok) == want["ok"], name
        if not want["ok"]:
            failures += 1
            assert math.isnan(r.mean) and math.isnan(r.confidence)
            continue
        h, mu, sg = want["params"]
        np.testing.assert_allclose([r.mean, r.sigma], [mu, sg], rtol=1e-9, atol=1e-12,
                                   err_msg=name)
        g = h * np.exp(-((mu - abs(mu)) ** 2) / (2 * sg * sg))
        assert r.height == pytest.approx(g, rel=1e-9), name
        d, ps, po = r.distance, r.subtracted, r.original
        sel = (d > mu - 3 * sg) & (d < mu + 3 * sg)
        assert r.confidence == pytest.approx(ps[sel].sum() / po[sel].sum(), rel=1e-9), name
        sel = (d >= mu - 3 * sg) & (d < mu + 3 * sg)
        f = h * np.exp(-((d[sel] - abs(mu)) ** 2) / (2 * sg * sg))
        y = ps[sel]
        r2 = 1 - np.sum((y - f) ** 2) / np.sum((y - y.mean()) ** 2)
        assert r.r_squared == pytest.approx(r2, rel=1e-9, abs=1e-12), name
    assert failures >= 1  # the independent pair fails in the plugin too
    assert failures < len(runs)


def test_moving_average_refit_and_mirroring_match_reference():
    """Profiles built to need the refits: a noise spike taller than the peak where keys are
    dense, a narrow spike, a peak at zero, and nothing to fit."""
    d = np.sqrt(np.arange(0, 400, dtype=float))
    cases = []
    v = 10 * np.exp(-((d - 6) ** 2) / (2 * 2.0**2))
    v[300] = 60.0
    cases.append((d, v, 1.0))
    rng = np.random.default_rng(2)
    cases.append((d * 0.2, 3 * np.exp(-((d * 0.2 - 1.5) ** 2) / (2 * 0.5**2))
                  + rng.normal(0, 0.4, d.size), 0.2))
    cases.append((d, 5 * np.exp(-(d**2) / (2 * 3.0**2)), 1.0))
    cases.append((d, -np.abs(rng.normal(0, 1, d.size)), 1.0))
    cases.append((d, rng.normal(0, 1, d.size), 1.0))
    ref = java_reference([{"kind": "rules", "x": x.tolist(), "y": y.tolist(), "px": px}
                          for x, y, px in cases])
    smoothed = 0
    for (x, y, px), want in zip(cases, ref):
        got = fit_gaussian(x, y, px)
        assert got.ok == want["ok"]
        if got.ok:
            np.testing.assert_allclose([got.height, got.mean, got.sigma], want["params"],
                                       rtol=1e-9, atol=1e-12)
            smoothed += got.smoothing > 0
    assert smoothed >= 1  # at least one case went through the moving-average refits


def test_fitter_matches_commons_math_on_random_points():
    rng = np.random.default_rng(0)
    cases = []
    for _ in range(60):
        m, s, h = rng.uniform(0, 10), rng.uniform(0.3, 4), 10 ** rng.uniform(-6, 3)
        x = np.sqrt(np.arange(rng.integers(5, 300))) * rng.uniform(0.05, 1.5)
        y = h * np.exp(-((x - m) ** 2) / (2 * s * s)) + rng.normal(0, h * rng.uniform(0, .5),
                                                                     x.size)
        cases.append({"kind": "raw", "x": x.tolist(), "y": y.tolist(),
                      "iters": int(rng.choice([100, 50, 5]))})
    ref = java_reference(cases)
    both = 0
    for c, want in zip(cases, ref):
        p, status = cm_fit(np.array(c["x"]), np.array(c["y"]), c["iters"])
        assert (p is None) == (want["params"] is None)
        if p is not None:
            np.testing.assert_allclose(p, want["params"], rtol=1e-9, atol=1e-300)
            both += 1
    assert 10 < both < len(cases)  # some converge, some run out of iterations


# ------------------------------------------------------------------ failures: -1 tables
def test_failed_fit_tables_use_the_plugins_error_values(plugin_runs):
    runs, ref = plugin_runs
    name, a, b, m, sc, r = next(run for run, want in zip(runs, ref) if not want["ok"])
    shown = ccc_outputs(r, title1="A", title2="B", values={})
    res = next(t for t in shown.tables if t.title == "CC Results")
    rows = dict(zip(res.labels, res.columns["Value"]))
    keys, _ = plugin_profile(r.subtracted_image, sc)
    assert rows[f"Mean ({r.unit})"] == keys[-1] and rows[f"StDev ({r.unit})"] == keys[-1]
    assert rows["Confidence"] == -1 and rows["R-squared"] == -1
    assert rows["Gaussian Height"] == pytest.approx(math.exp(-((keys[-1] + 1) ** 2) / 2))
    table = next(t for t in shown.tables if t.title == "Table of correlations")
    np.testing.assert_allclose(table.columns["Gaussian fit"],
                               np.exp(-((keys + 1) ** 2) / 2), rtol=1e-12)
    assert any("Failed to fit gaussian" in line for line in shown.log)
    assert not r.fit_ok and math.isnan(r.r_squared)  # Python keeps NaN


# ------------------------------------------------------------------ contributions
def _mirror_index(i: int, n: int) -> int:
    """imglib2's single mirror: ... 2 1 | 0 1 .. n-1 | n-2 n-3 ..."""
    if n == 1:
        return 0
    p = 2 * n - 2
    i %= p
    return p - i if i >= n else i


def mirrored_shift_sum(img, weights, sign):
    """sum_s weights[s] * mirror(img)[y + sign * s], explicit loops over shifts."""
    out = np.zeros(img.shape)
    shape = img.shape
    centre = [n // 2 for n in shape]
    idx = [np.arange(n) for n in shape]
    for s_idx in np.ndindex(weights.shape):
        w = weights[s_idx]
        if w == 0:
            continue
        src = [np.array([_mirror_index(int(i) + sign * (k - c), n) for i in ix])
               for ix, k, c, n in zip(idx, s_idx, centre, shape)]
        out += w * img[np.ix_(*src)]
    return out


@pytest.mark.parametrize(("shape", "scale"), [((18, 20), (1.0, 1.0)), ((17, 15), (0.5, 0.5)),
                                              ((6, 12, 13), (0.1, 0.1, 0.3))])
def test_contributions_are_mirror_extended_with_weights_from_the_centre(shape, scale):
    s = correlated_pairs(shape, distance=3 * scale[0], n_pairs=8, psf_sigma=1.2 * scale[0],
                         scale=scale, seed=5)
    mask = np.ones(shape, bool)
    mask[..., :2, :] = False
    r = ccc(s.image1, s.image2, mask, scale=scale, contributions=True, intermediates=True)
    assert r.fit_ok
    _, sub, a0, b0 = plugin_correlations(s.image1, s.image2, mask, scale)
    # weights from the plugin's centre (n-1)/2, Gaussian at |mean|
    grids = np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * sc
                          for n, sc in zip(shape, scale[::-1])], indexing="ij")
    dist = np.sqrt(sum(g**2 for g in grids[::-1]))
    g = sub * np.exp(-((dist - abs(r.mean)) ** 2) / (2 * r.sigma**2))
    np.testing.assert_allclose(r.gaussian_modified_image, g, atol=1e-4 * np.abs(g).max())
    c1 = a0 * mirrored_shift_sum(b0, g, -1)
    c2 = b0 * mirrored_shift_sum(a0, g, +1)
    np.testing.assert_allclose(r.contribution1, c1, atol=1e-4 * np.abs(c1).max())
    np.testing.assert_allclose(r.contribution2, c2, atol=1e-4 * np.abs(c2).max())


def test_just_cross_correlation_uses_the_plugin_profile():
    rng = np.random.default_rng(4)
    a = rng.random((6, 11, 12)).astype(np.float32)
    b = rng.random((6, 11, 12)).astype(np.float32)
    sc = (0.1, 0.1, 0.3)
    r = cross_correlation_profile(a, b, scale=sc)
    orig, _, _, _ = plugin_correlations(a, b, None, sc)
    keys, po = plugin_profile(orig, sc)
    np.testing.assert_array_equal(r.distance, keys)
    np.testing.assert_allclose(r.original, po, rtol=1e-4)


def test_time_series_tables_with_a_failed_frame():
    good = correlated_pairs((40, 42), distance=4, n_pairs=20, noise=0.3, seed=3)
    rng = np.random.default_rng(1)
    noise_a = rng.normal(size=(32, 34)).astype(np.float32)
    noise_b = rng.normal(size=(32, 34)).astype(np.float32)
    a = np.stack([np.pad(noise_a, ((4, 4), (4, 4))), good.image1])
    b = np.stack([np.pad(noise_b, ((4, 4), (4, 4))), good.image2])
    r = ccc(a, b, time_axis=0, frame_interval=0.5, time_unit="sec")
    single = [ccc(a[t], b[t]) for t in range(2)]
    assert [bool(v) for v in r.fit_ok] == [s.fit_ok for s in single] == [False, True]
    shown = ccc_outputs(r, title1="A", title2="B", values={})
    over = next(t for t in shown.tables if t.title == "Correlation over time")
    assert list(over.labels) == ["0.0 sec", "0.5 sec"]
    for t, s in enumerate(single):
        if s.fit_ok:
            assert over.columns["Mean"][t] == pytest.approx(s.mean, rel=1e-9)
        else:
            assert over.columns["Confidence"][t] == -1 and over.columns["R-squared"][t] == -1
            assert over.columns["Mean"][t] == r.distance[-1]
    res = next(t for t in shown.tables if t.title == "CC Results")
    best = int(np.argmax([s.confidence if s.fit_ok else -1 for s in single]))
    assert res.labels[0] == "Time of best CC (sec)" and res.columns["Value"][0] == 0.5 * best
    heat = next(i for i in shown.images if i.title == "Correlation over time of A and B")
    assert heat.data.shape == (3, r.distance.size, 2)


def test_significant_digits_round_half_up_like_bigdecimal():
    from pcfij.ccc.present import round_digits

    assert round_digits(0.125, 2) == 0.13  # BigDecimal(0.125) is exact: HALF_UP gives 0.13
    assert round_digits(2.675, 3) == 2.67  # the double is 2.67499999...: rounds down
    assert round_digits(-1.0, 3) == -1.0 and round_digits(123456.0, 2) == 120000.0
    assert round_digits(0.3333333, None) == 0.3333333
