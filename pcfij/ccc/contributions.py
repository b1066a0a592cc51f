"""Contribution images: which signal of each image made the fitted correlation.

The subtracted correlation image is multiplied by the fitted Gaussian, normalised to a peak
of 1 (``exp(-(d - |mean|)^2 / (2 sigma^2))`` at each shift's calibrated distance ``d``): the
"Gaussian-modified" correlation ``G``. Then, as documented for the plugin,

* contribution of image 1 = ``(image2 * G) x image1`` (``*`` = convolution),
* contribution of image 2 = ``(image1 ★ G) x image2`` (``★`` = correlation),

with the masked images, the same size as the images. Method "plugin"
(:func:`mirror_contribution_images`) follows the Fiji plugin: the Gaussian weights are measured
from the profile centre ``(n - 1) / 2`` and the images are mirror-extended (imglib2's single
mirror, ``FFTConvolution``'s default) for both convolutions. Method "unbiased" measures from
the zero shift and zero-extends (:func:`contribution_images`).
"""

from __future__ import annotations

import numpy as np

from pcfij.ccc.fit import GaussFit


def gaussian_weights(distance: np.ndarray, fit: GaussFit) -> np.ndarray:
    """Per-distance weight of the Gaussian-modified correlation (peak 1); for the unbiased
    method's ring fit, its model profile without offset, scaled to a peak of 1."""
    d = np.asarray(distance, dtype=np.float64)
    if hasattr(fit, "offset"):
        prof = fit.curve(d) - fit.offset
        top = float(np.max(prof)) if prof.size else 0.0
        return prof / top if top > 0 else np.zeros(d.shape)
    return np.exp(-((d - abs(fit.mean)) ** 2) / (2.0 * fit.sigma**2))


def contribution_images(corr, g_holder: list, source_a, source_b, get_out1, get_out2):
    """Compute both contribution images.

    Parameters
    ----------
    corr : Correlator
    g_holder : list holding the Gaussian-modified correlation image; emptied as soon as its
        spectrum is computed so that the image can be freed before the spectrum of image 2
        is computed
    source_a, source_b : slab sources of the masked images 1 and 2
    get_out1, get_out2 : callables returning the float32 output arrays (allocated only when
        needed, to keep the peak memory low)

    At most two partial spectra (about 1.5 float32 image copies each) and the first
    output exist at once.
    """
    fg = corr.forward(lambda sl: g_holder[0][sl], centred=True)
    g_holder.clear()
    corr.backend.release()
    fb = corr.forward(source_b)
    # contribution of image 1: (b conv G) x a
    corr.combine(fb, fg, conj=False, b_centred=True, shift_out=False)
    corr.inverse(fb, get_out1(), shift_out=False, post=lambda sl, y: _times(y, source_a(sl)))
    # contribution of image 2: (a corr G) x b
    fa = corr.forward(source_a, out=fb)
    del fb
    corr.combine(fa, fg, conj=True, b_centred=True, shift_out=False)
    del fg
    corr.inverse(fa, get_out2(), shift_out=False, post=lambda sl, y: _times(y, source_b(sl)))


def _times(y, x):
    y *= x
    return y


#: scratch bytes per slab / block of the plugin's contribution FFTs
_BLOCK_BYTES = 1 << 21


def _mirror(i: np.ndarray, n: int) -> np.ndarray:
    """imglib2's single-mirror index: ... 2 1 | 0 1 .. n-1 | n-2 n-3 ..."""
    if n == 1:
        return np.zeros_like(i)
    period = 2 * n - 2
    i = np.mod(i, period)
    return np.where(i >= n, period - i, i)


def _spectrum(rows_of, nrows: int, lengths, row_target, workers: int, rows_per_slab: int):
    """Full spectrum (complex64, ``lengths[:-1] + (nfreq,)``) of an array given slab by slab.

    ``rows_of(start, stop)`` returns rows ``start:stop`` (axis 0) already placed along the other
    axes (last axis of length ``lengths[-1]``); ``row_target(start, stop)`` says where along
    axis 0 of the padded array they go. The last axis is transformed per slab, the others per
    block of last-axis frequencies, so no padded real array is ever held.
    """
    import scipy.fft  # noqa: PLC0415

    nfreq = lengths[-1] // 2 + 1
    spec = np.zeros(tuple(lengths[:-1]) + (nfreq,), dtype=np.complex64)
    for start in range(0, nrows, rows_per_slab):
        stop = min(start + rows_per_slab, nrows)
        x = rows_of(start, stop)
        spec[row_target(start, stop)] = scipy.fft.rfft(x, n=lengths[-1], axis=-1,
                                                      workers=workers)
        del x
    _other_axes(spec, lengths, inverse=False, workers=workers)
    return spec


def _other_axes(spec, lengths, *, inverse: bool, workers: int) -> None:
    import scipy.fft  # noqa: PLC0415

    axes = tuple(range(spec.ndim - 1))
    outer = int(np.prod(lengths[:-1]))
    cols = max(1, _BLOCK_BYTES // (8 * outer))
    fn = scipy.fft.ifftn if inverse else scipy.fft.fftn
    for c0 in range(0, spec.shape[-1], cols):
        blk = slice(c0, min(c0 + cols, spec.shape[-1]))
        spec[..., blk] = fn(spec[..., blk], axes=axes, workers=workers)


def mirror_contribution_images(g: np.ndarray, source_a, source_b, out1: np.ndarray,
                               out2: np.ndarray, workers: int = -1) -> None:
    """The plugin's contribution images (imglib2 ``FFTConvolution`` with its default image
    extension, the single mirror, and a zero-extended kernel centred at ``n // 2``).

    Parameters
    ----------
    g : ndarray
        Gaussian-modified correlation (zero shift at ``n // 2``), float32.
    source_a, source_b : callable
        ``source(sl)`` returns rows ``sl`` (axis 0) of the masked image 1 / 2 as float32
        host arrays.
    out1, out2 : ndarray (float32, image shape)
        Receive ``a x (mirror(b) * G)`` and ``b x (mirror(a) ★ G)``.

    The images are extended by ``n // 2`` on every side, so the two spectra held at once are
    each about ``2**ndim`` image sizes (complex64); everything else is done in slabs.
    """
    import scipy.fft  # noqa: PLC0415

    shape = g.shape
    nd = g.ndim
    pad = tuple(n // 2 for n in shape)
    ext = tuple(n + 2 * p for n, p in zip(shape, pad))
    lengths = tuple(scipy.fft.next_fast_len(m, real=(i == nd - 1)) for i, m in enumerate(ext))
    inner = int(np.prod(lengths[1:]))
    rows = max(1, _BLOCK_BYTES // (8 * inner))

    # kernel: shift s = j - n // 2 stored at index s mod L (all axes)
    kidx = [np.mod(np.arange(n) - n // 2, length) for n, length in zip(shape, lengths)]

    def g_rows(start, stop):
        out = np.zeros((stop - start,) + tuple(lengths[1:]), dtype=np.float32)
        out[(slice(None),) + np.ix_(*kidx[1:])] = g[start:stop]
        return out

    fg = _spectrum(g_rows, shape[0], lengths, lambda s0, s1: kidx[0][s0:s1], workers, rows)
    # mirror-extended images: extended index e <-> image index mirror(e - pad)
    midx = [_mirror(np.arange(m) - p, n) for m, p, n in zip(ext, pad, shape)]
    for src, partner, res, conj in ((source_b, source_a, out1, False),
                                    (source_a, source_b, out2, True)):
        img = np.asarray(src(slice(None)), dtype=np.float32)

        def e_rows(start, stop, img=img):
            sub = img[midx[0][start:stop]]
            return sub[(slice(None),) + np.ix_(*midx[1:])]

        fe = _spectrum(e_rows, ext[0], lengths, lambda s0, s1: slice(s0, s1), workers, rows)
        del img, e_rows
        for r0 in range(0, fe.shape[0], rows):  # in blocks: no full-size temporaries
            blk = slice(r0, r0 + rows)
            fe[blk] *= np.conj(fg[blk]) if conj else fg[blk]
        _other_axes(fe, lengths, inverse=True, workers=workers)
        # circular result index u = y + pad (both operations), last axis by inverse real FFT
        take = tuple(slice(p, p + n) for p, n in zip(pad[1:-1], shape[1:-1]))
        for start in range(0, shape[0], rows):
            stop = min(start + rows, shape[0])
            blk = fe[(slice(start + pad[0], stop + pad[0]),) + take]
            y = scipy.fft.irfft(blk, n=lengths[-1], axis=-1, workers=workers)
            sl = slice(start, stop)
            res[sl] = y[..., pad[-1]:pad[-1] + shape[-1]]
            del y
            res[sl] *= np.asarray(partner(sl), dtype=np.float32)
        del fe, blk  # the view would keep this spectrum alive during the next one
