"""Figures of pcfij results (matplotlib; the Agg backend is used when no display is set).

* :mod:`pcfij.plot.pcf` -- ipCF: pixel curves, pCF images, maximum-delay maps (re-exported
  here, so ``from pcfij import plot; plot.plot_pixel_curves(...)`` works);
* :mod:`pcfij.plot.ccc` -- CCC: the presentation's plots rendered as figures, heat maps;
* :mod:`pcfij.plot.shift` -- shift finding: vector fields of local shift maps.

The CCC and shift modules are imported on demand (``from pcfij.plot.shift import
plot_shift_map``): importing this package does not load matplotlib.
"""

from pcfij.plot.pcf import (  # noqa: F401 - _pyplot: the CLI's figure writer uses it
    _pyplot,
    max_delay_map,
    plot_max_delay_map,
    plot_pcf_image,
    plot_pixel_curves,
)

__all__ = ["max_delay_map", "plot_max_delay_map", "plot_pcf_image", "plot_pixel_curves"]
