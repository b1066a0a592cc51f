"""pcfij: correlation analyses of fluorescence microscopy images.

Three analyses share one engine (arrays in, arrays and small result objects out):

* :mod:`pcfij.pcf`   -- image pair correlation function (ipCF) of image time series;
* :mod:`pcfij.ccc`   -- colocalization by cross correlation (CCC) of two images;
* :mod:`pcfij.shift` -- correlation-based global and local shifts
  (the ``algotom.util.correlation`` API).

Adapters sit on top: :mod:`pcfij.io` (files), :mod:`pcfij.cli` (the ``pcfij`` command) and
:mod:`pcfij.imagej` (ImageJ/Fiji commands). The engine never imports ImageJ or touches files.
"""

__version__ = "0.1.0"
