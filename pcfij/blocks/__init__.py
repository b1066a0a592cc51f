"""pcfij.blocks (being built)."""
