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


def _reflect_pad(x: np.ndarray) -> np.ndarray:
    """imglib2's single-mirror extension (``numpy.pad`` mode "reflect"), ``n // 2`` per side."""
    return np.pad(x, [(n // 2, n // 2) for n in x.shape], mode="reflect")


def mirror_contribution_images(g: np.ndarray, a: np.ndarray, b: np.ndarray,
                               workers: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """The plugin's contribution images (imglib2 ``FFTConvolution`` with its default image
    extension, the single mirror, and a zero-extended kernel centred at ``n // 2``).

    Parameters
    ----------
    g : ndarray
        Gaussian-modified correlation (zero shift at ``n // 2``), float32.
    a, b : ndarray
        The masked images 1 and 2 (float32), same shape.

    Returns
    -------
    contribution1, contribution2 : ndarray (float32)
        ``a x (mirror(b) * G)`` and ``b x (mirror(a) ★ G)``.

    Uses full padded spectra (about ``2**ndim`` times an image per spectrum, complex64).
    """
    import scipy.fft  # noqa: PLC0415

    shape = g.shape
    pad = tuple(n // 2 for n in shape)
    ext_shape = tuple(n + 2 * p for n, p in zip(shape, pad))
    lengths = tuple(scipy.fft.next_fast_len(m, real=True) for m in ext_shape)
    axes = tuple(range(g.ndim))
    # kernel: shift s = j - n // 2 stored at index s mod L
    gw = np.zeros(lengths, dtype=np.float32)
    gw[tuple(slice(0, n) for n in shape)] = g
    gw = np.roll(gw, [-(n // 2) for n in shape], axis=axes)
    fg = scipy.fft.rfftn(gw, lengths, axes=axes, workers=workers)
    del gw
    take = tuple(slice(p, p + n) for p, n in zip(pad, shape))
    out = []
    for img, partner, conj in ((b, a, False), (a, b, True)):
        fe = scipy.fft.rfftn(_reflect_pad(np.asarray(img, np.float32)), lengths, axes=axes,
                             workers=workers)
        fe *= np.conj(fg) if conj else fg
        full = scipy.fft.irfftn(fe, lengths, axes=axes, workers=workers)
        del fe
        res = np.asarray(full[take], dtype=np.float32)
        del full
        res *= np.asarray(partner, np.float32)
        out.append(res)
    return out[0], out[1]
