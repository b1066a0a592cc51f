"""pcfij.ccc (being built)."""
