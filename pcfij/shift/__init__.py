"""Correlation-based shift finding between images and stacks, and drift correction.

The seven functions of ``algotom.util.correlation`` with the same names, parameters,
defaults and return conventions — switching from algotom is a change of import::

    from pcfij.shift import find_local_shifts   # was: from algotom.util.correlation import ...

plus :func:`register_stack` / :func:`shift_stack` (drift correction of time series and
z-stacks). All shifts are (x, y) = (column, row); if ``mat = scipy.ndimage.shift(ref,
(dy, dx))`` every function reports about ``(-dx, -dy)``: the position of ``mat``'s content
in ``ref`` relative to its own. CPU kernels use numba, GPU kernels CuPy (``gpu=True``).
"""

from pcfij.shift.corrmap import find_shift_based_correlation_map, generate_correlation_map
from pcfij.shift.global_shift import find_global_shift_based_local_shifts
from pcfij.shift.local import find_local_shifts
from pcfij.shift.normalize import normalize_image
from pcfij.shift.peak import locate_peak
from pcfij.shift.register import DriftResult, register_stack, shift_stack
from pcfij.shift.umpa import find_local_shifts_umpa

__all__ = [
    "DriftResult",
    "find_global_shift_based_local_shifts",
    "find_local_shifts",
    "find_local_shifts_umpa",
    "find_shift_based_correlation_map",
    "generate_correlation_map",
    "locate_peak",
    "normalize_image",
    "register_stack",
    "shift_stack",
]
