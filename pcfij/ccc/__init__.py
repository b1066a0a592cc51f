"""Colocalization by Cross Correlation (CCC), after the Fiji plugin of A. McCall.

Measures the mean distance between non-randomly associated particles in two images, its
spread (sigma) and how far to trust it (confidence, R-squared), in 2D/3D and over time.

>>> from pcfij.ccc import ccc                                    # doctest: +SKIP
>>> r = ccc(image1, image2, mask, scale=(0.1, 0.1, 0.3))         # doctest: +SKIP
>>> r.mean, r.sigma, r.confidence, r.r_squared                   # doctest: +SKIP

Commands: :func:`ccc` ("Colocalization by Cross Correlation"; ``confidence=False`` is
"CCC - No confidence") and :func:`cross_correlation_profile` ("Just Cross Correlation").
``method="plugin"`` (default) gives the Fiji plugin's numbers; ``method="unbiased"`` the
blurred ring/shell distance estimator. What a user sees (the plugin's tables, plot and image
names) is :func:`pcfij.ccc.present.ccc_outputs`.
"""

from pcfij.ccc.analysis import ccc, cross_correlation_profile
from pcfij.ccc.fit import GaussFit, fit_gaussian
from pcfij.ccc.result import CCCResult

__all__ = ["CCCResult", "GaussFit", "ccc", "cross_correlation_profile", "fit_gaussian"]
