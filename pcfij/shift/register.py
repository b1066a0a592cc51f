"""Drift correction of stacks (placeholder)."""
DriftResult = register_stack = shift_stack = None
