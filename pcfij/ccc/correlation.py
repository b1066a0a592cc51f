"""Memory-lean linear (zero-extended) FFT correlation of same-shaped 2D/3D images.

Definitions (``n`` = image size per axis, zero shift at index ``n // 2``):

* correlation image ``C[i] = sum_x a[x + s] * b[x]`` with shift ``s = i - n // 2``, i.e.
  ``scipy.signal.correlate(a, b, mode="same")``: a bright pixel 2 units left of the centre
  means image 1 matches image 2 shifted 2 units to the left (the plugin's convention);
* convolution with a shift image ``(b * G)[y] = sum_s G[s] * b[y - s]`` and correlation
  ``(a ★ G)[x] = sum_s a[x + s] * G[s]`` (used for the contribution images).

Only shifts up to ``n // 2`` are kept, so FFT lengths of ``n + n // 2`` per axis avoid
wrap-around (instead of ``2 n - 1``). The transform is split: a real FFT along the last axis,
done in slabs of the first axis (the "partial spectrum", complex64, about 0.75 of the padded
last axis), then full FFTs along the other axes in blocks of last-axis frequencies, the
product, the inverse along those axes written back into the partial spectrum, and a final
inverse real FFT in slabs. The full padded spectrum is never held: per image pair the memory
is two partial spectra (about 1.5 float32 image copies each in 2D) plus the output.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
import scipy.fft

#: scratch budget per block, in bytes (bounded below and above; see Correlator)
MIN_BLOCK_BYTES = 1 << 21
MAX_BLOCK_BYTES = 1 << 25


def fft_lengths(shape: tuple[int, ...]) -> tuple[int, ...]:
    """FFT lengths that hold shifts ``-n//2 .. n-1-n//2`` without wrap-around."""
    out = [scipy.fft.next_fast_len(n + n // 2) for n in shape[:-1]]
    out.append(scipy.fft.next_fast_len(shape[-1] + shape[-1] // 2, real=True))
    return tuple(out)


def _place_pairs(n: int, length: int, offset: int):
    """(padded slice, data slice) pairs putting data index i at ``(i - offset) % length``."""
    pairs = [(slice(0, n - offset), slice(offset, n))]
    if offset:
        pairs.append((slice(length - offset, length), slice(0, offset)))
    return pairs


def _take_pairs(n: int, length: int, offset: int):
    """(output slice, padded slice) pairs reading output i from ``(i - offset) % length``."""
    pairs = [(slice(offset, n), slice(0, n - offset))]
    if offset:
        pairs.append((slice(0, offset), slice(length - offset, length)))
    return pairs


class Correlator:
    """Linear correlations/convolutions of images of one shape on one back-end.

    Parameters
    ----------
    shape : tuple of int
        Image shape (2D or 3D).
    backend : CpuBackend or GpuBackend
        FFT and array back-end (:mod:`pcfij.kernels.ccc_cpu`, :mod:`pcfij.kernels.ccc_gpu`).
    block_bytes : int, optional
        Scratch memory per processing block (default: 1/16 of a float32 image copy,
        between 2 and 32 MiB).
    """

    def __init__(self, shape, backend, block_bytes: int | None = None) -> None:
        self.shape = tuple(int(n) for n in shape)
        self.nd = len(self.shape)
        self.backend = backend
        self.xp = backend.xp
        self.lengths = fft_lengths(self.shape)
        self.nfreq = self.lengths[-1] // 2 + 1
        self.spec_shape = self.shape[:-1] + (self.nfreq,)
        if block_bytes is None:
            img_bytes = 4 * math.prod(self.shape)
            block_bytes = min(MAX_BLOCK_BYTES, max(MIN_BLOCK_BYTES, img_bytes // 16))
        inner = math.prod(self.shape[1:-1])
        self.rows = max(1, min(self.shape[0], block_bytes // (8 * inner * self.lengths[-1])))
        outer = math.prod(self.lengths[:-1])
        self.cols = max(1, min(self.nfreq, block_bytes // (8 * outer)))

    # ------------------------------------------------------------------ pieces
    def empty_spectrum(self):
        """An uninitialised partial spectrum (complex64, ``spec_shape``)."""
        return self.xp.empty(self.spec_shape, dtype=self.xp.complex64)

    def forward(self, source: Callable, out=None, *, centred: bool = False):
        """Partial spectrum of an image given slab by slab.

        ``source(sl)`` returns the float32 slab ``image[sl]`` (``sl`` a slice of axis 0) on
        the back-end. ``centred`` marks a shift image (zero shift at ``n // 2``) rather than
        an image.
        """
        xp = self.xp
        out = self.empty_spectrum() if out is None else out
        n_last, l_last = self.shape[-1], self.lengths[-1]
        for start in range(0, self.shape[0], self.rows):
            sl = slice(start, min(start + self.rows, self.shape[0]))
            x = source(sl)
            if centred:
                buf = xp.zeros(x.shape[:-1] + (l_last,), dtype=xp.float32)
                for dst, src in _place_pairs(n_last, l_last, n_last // 2):
                    buf[..., dst] = x[..., src]
                x = buf
            out[sl] = self.backend.rfft(x, l_last)
            del x
        return out

    def combine(self, fa, fb, *, conj: bool, a_centred=False, b_centred=False, shift_out=True):
        """Finish the transforms of ``fa`` and ``fb``, multiply, and transform back.

        The result (inverse along all axes but the last) overwrites ``fa``. ``conj`` selects
        correlation (``A * conj(B)``) or convolution (``A * B``); ``shift_out`` reads the
        result as a shift image (zero shift at ``n // 2``) rather than an image.
        """
        xp = self.xp
        axes = tuple(range(self.nd - 1))
        outer = self.lengths[:-1]
        dims = self.shape[:-1]

        def place(block, centred):
            buf = xp.zeros(outer + (block.shape[-1],), dtype=xp.complex64)
            per_axis = [
                _place_pairs(n, length, n // 2 if centred else 0)
                for n, length in zip(dims, outer)
            ]
            for combo in itertools.product(*per_axis):
                dst = tuple(p[0] for p in combo)
                src = tuple(p[1] for p in combo)
                buf[dst] = block[src]
            return self.backend.fftn(buf, axes)

        take = [
            _take_pairs(n, length, n // 2 if shift_out else 0) for n, length in zip(dims, outer)
        ]
        for start in range(0, self.nfreq, self.cols):
            blk = slice(start, min(start + self.cols, self.nfreq))
            a = place(fa[..., blk], a_centred)
            b = place(fb[..., blk], b_centred)
            if conj:
                xp.conjugate(b, out=b)
            a *= b
            del b
            a = self.backend.ifftn(a, axes)
            for combo in itertools.product(*take):
                dst = tuple(p[0] for p in combo) + (blk,)
                src = tuple(p[1] for p in combo)
                fa[dst] = a[src]
            del a
        return fa

    def inverse(self, spec, out, *, factor: float = 1.0, shift_out=True, post=None):
        """Inverse real FFT along the last axis, slab by slab, into ``out`` (float32).

        ``post(sl, block)`` may transform each slab (e.g. multiply by the image) before it
        is stored; ``out`` may be a host array when the back-end is the GPU, or None when
        ``post`` consumes the slabs (e.g. a radial profile taken slab by slab).
        """
        n_last, l_last = self.shape[-1], self.lengths[-1]
        take = _take_pairs(n_last, l_last, n_last // 2 if shift_out else 0)
        xp = self.xp
        for start in range(0, self.shape[0], self.rows):
            sl = slice(start, min(start + self.rows, self.shape[0]))
            y = self.backend.irfft(spec[sl], l_last)
            block = xp.empty(y.shape[:-1] + (n_last,), dtype=xp.float32)
            for dst, src in take:
                block[..., dst] = y[..., src]
            del y
            if factor != 1.0:
                block *= xp.float32(factor)
            if post is not None:
                block = post(sl, block)
            if out is not None:
                self.backend.store(out, sl, block)
            del block
        return out

    # ------------------------------------------------------------------ whole operations
    def correlate(self, source_a, source_b, out=None, *, factor: float = 1.0, fb=None):
        """Correlation image of two images given as slab sources (see :meth:`forward`)."""
        fb = self.forward(source_b) if fb is None else fb
        fa = self.forward(source_a)
        self.combine(fa, fb, conj=True)
        if out is None:
            out = self.xp.empty(self.shape, dtype=self.xp.float32)
        return self.inverse(fa, out, factor=factor)


def array_source(arr, backend) -> Callable:
    """A slab source reading a (host) array, converting slabs to float32 on the back-end."""

    def source(sl):
        return backend.xp.asarray(backend.asarray(np.asarray(arr[sl])), dtype=backend.xp.float32)

    return source
