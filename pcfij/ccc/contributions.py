"""Contribution images: which signal of each image made the fitted correlation.

The subtracted correlation image is multiplied by the fitted Gaussian, normalised to a peak
of 1 (``exp(-(d - |mean|)^2 / (2 sigma^2))`` at each shift's calibrated distance ``d``): the
"Gaussian-modified" correlation ``G``. Then, as documented for the plugin,

* contribution of image 1 = ``(image2 * G) x image1`` (``*`` = convolution),
* contribution of image 2 = ``(image1 ★ G) x image2`` (``★`` = correlation),

with the masked images, zero-extended (linear) and the same size as the images.
"""

from __future__ import annotations

import numpy as np

from pcfij.ccc.fit import GaussFit


def gaussian_weights(distance: np.ndarray, fit: GaussFit) -> np.ndarray:
    """Per-distance weight of the Gaussian-modified correlation (peak 1)."""
    d = np.asarray(distance, dtype=np.float64)
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
