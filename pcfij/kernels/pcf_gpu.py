"""GPU (CuPy) kernels of the fast ipCF algorithm; mirrors :mod:`pcfij.kernels.pcf_cpu`.

The pair index lists, bin weights and output placement come from
:mod:`pcfij.kernels.pcf_plan` (host side, shared with the CPU path); the device does the
FFTs (cuFFT), the cross spectra (an elementwise kernel), the binning (cuBLAS GEMM),
normalisation and smoothing (a raw kernel, one thread per pair and direction).
"""

from __future__ import annotations

import numpy as np

from pcfij.kernels.device import cupy_or_none
from pcfij.kernels.pcf_plan import OffsetClass, pair_rows

#: pairs per batch on the GPU (scratch: 2 * CHUNK * (T/2+1) * 4 bytes)
CHUNK = 4096

_FINISH_SRC = r"""
extern "C" __global__
void finish_pairs(const float* a, const float* b, const double* norm,
                  const long long* out_fwd, const long long* out_rev,
                  const long long* fwd_points, int nfwd,
                  const long long* rev_points, int nrev,
                  int npairs, int nbins, int npoints, int do_smooth, float* result)
{
    int tid = blockDim.x * blockIdx.x + threadIdx.x;
    if (tid >= 2 * npairs) return;
    int p = tid >> 1;
    int direction = tid & 1;
    long long dst = direction ? out_rev[p] : out_fwd[p];
    int npts = direction ? nrev : nfwd;
    const long long* points = direction ? rev_points : fwd_points;
    if (dst < 0 || npts == 0) return;
    double sign = direction ? 1.0 : -1.0;
    double c[128];
    double s = norm[p];
    for (int k = 0; k < nbins; k++)
        c[k] = ((double)a[p * nbins + k] + sign * (double)b[p * nbins + k]) * s;
    if (do_smooth && nbins > 1) {
        c[0] = c[1];
        for (int i = 1; i < nbins; i++) c[i] = c[i] * 0.3 + c[i - 1] * 0.7;
        for (int i = nbins - 2; i >= 0; i--) c[i] = c[i] * 0.3 + c[i + 1] * 0.7;
    }
    for (int j = 0; j < npts; j++) {
        long long base = (dst * npoints + points[j]) * nbins;
        for (int k = 0; k < nbins; k++) result[base + k] = (float)c[k];
    }
}
"""

MAX_BINS = 128


def _kernels(cp):
    cross = cp.ElementwiseKernel(
        "raw float32 re, raw float32 im, raw int64 centre, raw int64 neighbour, int32 nf",
        "float32 xr, float32 xi",
        """
        long long p = i / nf;
        long long f = i % nf;
        long long a = centre[p] * nf + f;
        long long b = neighbour[p] * nf + f;
        float ar = re[a], ai = im[a], br = re[b], bi = im[b];
        xr = br * ar + bi * ai;
        xi = bi * ar - br * ai;
        """,
        "pcfij_cross_spectra",
    )
    finish = cp.RawKernel(_FINISH_SRC, "finish_pairs")
    return cross, finish


def ipcf_tile(
    traces: np.ndarray,
    inv_means: np.ndarray,
    height: int,
    width: int,
    radius: int,
    classes: list[OffsetClass],
    npoints: int,
    wr: np.ndarray,
    wi: np.ndarray,
    centre_ok: np.ndarray | None,
    smooth: bool,
    progress=None,
) -> np.ndarray:
    """GPU version of :func:`pcfij.kernels.pcf_cpu.ipcf_tile` (same arguments and result)."""
    cp = cupy_or_none()
    if cp is None:  # pragma: no cover - guarded by resolve_device
        raise RuntimeError("CuPy with a CUDA device is needed for device='gpu'")
    nbins = wr.shape[1]
    if nbins > MAX_BINS:
        raise ValueError(f"the GPU path supports at most {MAX_BINS} bins")
    cross, finish = _kernels(cp)
    oh, ow = height - 2 * radius, width - 2 * radius
    result = cp.full((oh * ow, npoints, nbins), cp.nan, cp.float32)
    spec = cp.fft.rfft(cp.asarray(traces, cp.float32), axis=1)
    re = cp.ascontiguousarray(spec.real)
    im = cp.ascontiguousarray(spec.imag)
    del spec
    nf = re.shape[1]
    wr_d = cp.asarray(wr, cp.float32)
    wi_d = cp.asarray(wi, cp.float32)
    inv_d = cp.asarray(np.asarray(inv_means, np.float64))
    for cls in classes:
        centre, neighbour, out_fwd, out_rev = pair_rows(height, width, radius, cls, centre_ok)
        fwd_points = cp.asarray(np.asarray(cls.forward, np.int64))
        rev_points = cp.asarray(np.asarray(cls.reverse, np.int64))
        for s in range(0, centre.size, CHUNK):
            e = min(s + CHUNK, centre.size)
            m = e - s
            c_d = cp.asarray(centre[s:e])
            n_d = cp.asarray(neighbour[s:e])
            xr = cp.empty((m, nf), cp.float32)
            xi = cp.empty((m, nf), cp.float32)
            cross(re, im, c_d, n_d, np.int32(nf), xr, xi)
            a = cp.ascontiguousarray(xr @ wr_d)
            b = cp.ascontiguousarray(xi @ wi_d)
            norm = inv_d[c_d] * inv_d[n_d] / traces.shape[1]
            threads = 128
            blocks = (2 * m + threads - 1) // threads
            finish(
                (blocks,), (threads,),
                (a, b, norm, cp.asarray(out_fwd[s:e]), cp.asarray(out_rev[s:e]),
                 fwd_points, np.int32(len(cls.forward)), rev_points, np.int32(len(cls.reverse)),
                 np.int32(m), np.int32(nbins), np.int32(npoints), np.int32(bool(smooth)), result),
            )
            if progress is not None:
                progress(int((out_fwd[s:e] >= 0).sum()) * len(cls.forward)
                         + int((out_rev[s:e] >= 0).sum()) * len(cls.reverse))
    return cp.asnumpy(result).reshape(oh, ow, npoints, nbins)
