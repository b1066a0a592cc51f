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


def contribution_images(corr, fb, spare, g_source, source_a, source_b, out1, out2):
    """Compute both contribution images into ``out1`` and ``out2``.

    Parameters
    ----------
    corr : Correlator
    fb : partial spectrum of the masked image 2 (overwritten)
    spare : a second partial-spectrum buffer (overwritten)
    g_source, source_a, source_b : slab sources of the Gaussian-modified correlation image
        and of the masked images 1 and 2
    out1, out2 : float32 arrays of the image shape (host or back-end)
    """
    fg = corr.forward(g_source, out=spare, centred=True)
    # contribution of image 1: (b conv G) x a
    corr.combine(fb, fg, conj=False, b_centred=True, shift_out=False)
    corr.inverse(fb, out1, shift_out=False, post=lambda sl, y: _times(y, source_a(sl)))
    # contribution of image 2: (a corr G) x b
    fa = corr.forward(source_a, out=fb)
    corr.combine(fa, fg, conj=True, b_centred=True, shift_out=False)
    del fg
    corr.inverse(fa, out2, shift_out=False, post=lambda sl, y: _times(y, source_b(sl)))
    return out1, out2


def _times(y, x):
    y *= x
    return y
