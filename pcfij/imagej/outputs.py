"""Compatibility alias: the presentation model lives in :mod:`pcfij.outputs`."""

from pcfij.outputs import RESULTS, Context, OutImage, OutPlot, Outputs, OutTable

__all__ = ["RESULTS", "Context", "OutImage", "OutPlot", "Outputs", "OutTable"]
