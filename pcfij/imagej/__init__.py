"""pcfij.imagej (being built)."""
