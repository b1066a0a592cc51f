"""pcfij.shift (being built)."""
