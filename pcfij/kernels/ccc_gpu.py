"""GPU back-end of CCC: CuPy FFTs and profile sums, mirroring :mod:`pcfij.kernels.ccc_cpu`.

CuPy is imported only when a :class:`GpuBackend` is created. The host-side pieces
(:func:`group_index`) are written against an array module argument so that they are
tested with NumPy on machines without a GPU.
"""

from __future__ import annotations

import numpy as np

from pcfij.kernels import backend


def group_index(xp, fold, lut):
    """Full-size int32 image of distance-group numbers.

    ``xp`` is ``numpy`` or ``cupy``; ``fold`` holds one fold-index array per axis and ``lut``
    is the folded table (see :class:`pcfij.ccc.profile.RadialBinning`), on that module.
    """
    idx = []
    nd = len(fold)
    for axis, f in enumerate(fold):
        view = [1] * nd
        view[axis] = int(f.shape[0])
        idx.append(xp.asarray(f).reshape(view))
    return lut[tuple(idx)].astype(xp.int32, copy=False)


class GpuBackend(backend.GpuBackend):
    """The GPU :class:`~pcfij.kernels.backend.Backend` plus CCC's profile kernels.

    Parameters
    ----------
    xp : module, optional
        The array module (default CuPy; tests pass a NumPy stand-in).
    """

    def __init__(self, xp=None) -> None:
        super().__init__(xp)
        self._groups: dict = {}

    def release(self) -> None:
        """Return freed host memory to the operating system (the device pool is kept for
        the next frame)."""
        from pcfij.kernels.memory import release_free_memory  # noqa: PLC0415

        release_free_memory()

    def to_host(self, arr):
        """A host copy of ``arr`` (always a copy: callers may keep it while the device
        array is weighted in place)."""
        return self.xp.asnumpy(arr)

    def store(self, out, index, block) -> None:
        if isinstance(out, np.ndarray):
            out[index] = self.xp.asnumpy(block)
        else:
            out[index] = block

    def _group(self, fold, lut):
        key = (tuple(np.asarray(f).tobytes() for f in fold), id(lut))
        if key not in self._groups:
            self._groups.clear()
            self._groups[key] = group_index(self.xp, fold, self.xp.asarray(lut))
        return self._groups[key]

    def profile_sums(self, image, lut, ngroups: int, fold, *, out=None) -> np.ndarray:
        """Sums per distance group (host float64); ``fold`` as in the CPU back-end (for a
        slab, the slab's part of the first axis), sums added to ``out`` when given."""
        g = self._group(fold, lut)
        sums = self.xp.asnumpy(self.xp.bincount(
            g.ravel(), weights=image.ravel().astype(self.xp.float64), minlength=ngroups
        ))
        if out is None:
            return sums
        out += sums
        return out

    def apply_group_weights(self, image, lut, weights, fold):
        g = self._group(fold, lut)
        w = self.xp.asarray(np.asarray(weights, dtype=np.float32))
        image *= w[g]
        return image
