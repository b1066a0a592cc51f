"""The result of :func:`pcfij.pcf.ipcf`: the pCF array with what it takes to read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False, repr=False)
class IPCFResult(np.lib.mixins.NDArrayOperatorsMixin):
    """An ipCF result: the curves, their delay bins and circle, and how they were computed.

    It behaves like its ``pcf`` array where array code expects one: ``np.asarray(res)``,
    ``res.shape``, ``res[y, x]``, ``res - other`` and NumPy functions give plain ndarrays;
    other ndarray attributes and methods (``res.max()``, ``res.astype(...)``) are those of
    ``pcf``.

    Attributes
    ----------
    pcf : ndarray of float32, shape (H - 2r, W - 2r, npoints, nbins)
        Curve of every centre pixel (y, x) and circle point; NaN outside the mask.
    bins : ndarray of int, shape (nbins,)
        Upper delay of each bin in frames (:func:`pcfij.pcf.ipcf_bins`): bin 0 is delay 0,
        bin k the delays ``[bins[k-1], bins[k])``.
    delays : ndarray of float64, shape (nbins,)
        Representative delay of each bin in frames (:func:`pcfij.pcf.bin_delays`).
    circle : ndarray of int, shape (npoints, 2)
        ``(u, v)`` = (x, y) offsets of the circle points (:func:`pcfij.pcf.circle`).
    frames_used : int
        Frames analysed per trace, after the bleaching correction and ``pow2``
        (:func:`pcfij.pcf.frames_used`).
    params : dict
        ``radius``, ``npoints``, ``nbins``, ``pow2``, ``bleach_filter``, ``smooth`` and the
        ``device`` that ran (``"cpu"`` or ``"gpu"``).
    stats : dict
        Run statistics of a blocked run (:func:`pcfij.blocks.pipeline.run_blocked_ipcf`:
        ``output``, ``blocks``, ``blocks_computed``, ``seconds``, ``bytes_read``, ...); empty
        for an in-memory run. ``res["blocks"]`` (a string index) reads them, as from the
        dict the blocked run returned before. There ``pcf`` is the lazy Zarr array or HDF5
        dataset of the output: index it to load a part, ``np.asarray(res)`` loads all.
    """

    pcf: np.ndarray
    bins: np.ndarray
    delays: np.ndarray
    circle: np.ndarray
    frames_used: int
    params: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    # -- array protocol: existing array code keeps working
    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        if copy:
            return np.array(self.pcf, dtype=dtype, copy=True)
        # np.asarray: no copy of an ndarray, a load of a lazy (Zarr/HDF5) array
        return np.asarray(self.pcf) if dtype is None else np.asarray(self.pcf, dtype=dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        args = [np.asarray(x) if isinstance(x, IPCFResult) else x for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(
                x.pcf if isinstance(x, IPCFResult) else x for x in kwargs["out"]
            )
        return getattr(ufunc, method)(*args, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return func(*_plain(args), **_plain(kwargs))

    def __getitem__(self, index) -> Any:
        if isinstance(index, str):  # run statistics of a blocked run (see ``stats``)
            return self.stats[index]
        return self.pcf[index]

    def __setitem__(self, index, value) -> None:
        self.pcf[index] = value

    def __contains__(self, item) -> bool:
        if isinstance(item, str):  # a run statistic's name (see ``stats``)
            return item in self.stats
        return item in np.asarray(self.pcf)

    def __len__(self) -> int:
        return len(self.pcf)

    def __iter__(self):
        return iter(self.pcf)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``pcf``: (y, x, point, bin)."""
        return self.pcf.shape

    @property
    def dtype(self) -> np.dtype:
        """``float32``."""
        return self.pcf.dtype

    @property
    def ndim(self) -> int:
        """4."""
        return self.pcf.ndim

    def __getattr__(self, name: str):
        # only reached for names the result does not have: those of the pcf array
        if name.startswith("__") or not hasattr(np.ndarray, name):
            raise AttributeError(f"'IPCFResult' object has no attribute {name!r}")
        return getattr(self.pcf, name)

    def __repr__(self) -> str:
        p = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return (f"IPCFResult(shape={self.shape}, dtype={self.dtype}, "
                f"frames_used={self.frames_used}, {p})")


def _plain(obj):
    """``obj`` with every IPCFResult (also inside lists, tuples, dicts) replaced by its array."""
    if isinstance(obj, IPCFResult):
        return obj.pcf
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(x) for x in obj)
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj
