"""An independent, straightforward implementation of the tutorial's ipCF definitions.

Written for the tests only: per-pixel loops with numpy.fft, float64 throughout, no code
shared with pcfij. It follows the tutorial (ipcf.ipynb) definition by definition:

* circle: angle 2*pi*i/n from +x, offsets (round(r cos), round(r sin)) = (x, y);
* logbins: unique(int(2 ** linspace(0, log2(size), nbins)));
* correlate(neighbour, centre): circular, G[k] = N sum_n nb[(n+k)%N] ctr[n] / (sum nb sum ctr) - 1,
  k = 0 .. N/2 - 1;
* average: mean of c[0:bins[0]], then c[bins[i]:bins[i+1]];
* smooth: c[0] = c[1]; forward c[i] = .3 c[i] + .7 c[i-1]; backward c[i] = .3 c[i] + .7 c[i+1].
"""

from __future__ import annotations

import math

import numpy as np


def ref_circle(radius, npoints):
    out = []
    for i in range(npoints):
        angle = 2.0 * math.pi * i / npoints
        u = int(np.round(radius * math.cos(angle)))
        v = int(np.round(radius * math.sin(angle)))
        out.append((u, v))
    return np.array(out, dtype=np.int64)


def ref_logbins(size, nbins):
    values = [int(2.0 ** (math.log2(size) * j / (nbins - 1))) for j in range(nbins)]
    return np.array(sorted(set(values)), dtype=np.int64)


def ref_correlate(nb, ctr):
    nb = np.asarray(nb, np.float64)
    ctr = np.asarray(ctr, np.float64)
    n = nb.size
    full = np.fft.irfft(np.fft.rfft(nb) * np.conj(np.fft.rfft(ctr)), n)  # sum_n nb[n+k] ctr[n]
    return n * full[: n // 2] / (nb.sum() * ctr.sum()) - 1.0


def ref_average(c, bins):
    out = [np.mean(c[: bins[0]])]
    for i in range(len(bins) - 1):
        out.append(np.mean(c[bins[i] : bins[i + 1]]))
    return np.array(out)


def ref_smooth(c):
    out = list(c)
    out[0] = out[1]
    for i in range(1, len(out)):
        out[i] = out[i] * 0.3 + out[i - 1] * 0.7
    for i in range(len(out) - 2, -1, -1):
        out[i] = out[i] * 0.3 + out[i + 1] * 0.7
    return np.array(out)


def ref_ipcf(data, radius, npoints, nbins, *, pow2=True, smooth=True):
    """The tutorial's run_ipcf(ipcf_reference, ...) (pow2=True) or on all frames."""
    ntimes = data.shape[0]
    if pow2:
        ntimes = 2 ** int(math.log2(ntimes))
    ts = np.asarray(data[:ntimes])
    cc = ref_circle(radius, npoints)
    bins = ref_logbins(ntimes // 2, nbins)
    _, h, w = ts.shape
    out = np.zeros((h - 2 * radius, w - 2 * radius, npoints, len(bins)), np.float32)
    for y in range(radius, h - radius):
        for x in range(radius, w - radius):
            a = ts[:, y, x]
            for i, (u, v) in enumerate(cc):
                c = ref_average(ref_correlate(ts[:, y + v, x + u], a), bins)
                out[y - radius, x - radius, i] = ref_smooth(c) if smooth else c
    return out


def ref_correct_bleaching(x, filtersize):
    """The tutorial's compiled bleaching correction for one uint16 trace, as plain loops."""
    x = [int(v) for v in x]
    n = len(x)
    f0 = 1.0 / filtersize
    f1 = 1.0 - f0
    a = [0.0] * n
    a[0] = float(x[0])
    for i in range(1, n):
        a[i] = x[i] * f0 + a[i - 1] * f1
    for i in range(n - 2, -1, -1):
        a[i] = a[i] * f0 + a[i + 1] * f1
    mean = float(sum(x) // n)
    out = []
    for i in range(filtersize, n - filtersize):
        value = math.sqrt(abs(mean / a[i])) * (x[i] - a[i]) + mean
        r = math.floor(value + 0.5) if value >= 0 else math.ceil(value - 0.5)
        out.append(min(max(r, 0), 65535))
    return np.array(out, dtype=np.uint16)
