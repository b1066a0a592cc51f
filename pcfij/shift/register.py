"""Drift correction of image stacks: per-frame drift and the corrected stack."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from pcfij.errors import InputError, ShiftAtMarginWarning
from pcfij.shift._common import check_array, check_margin, method_code
from pcfij.shift.corrmap import FLAT_MESSAGE, correlation_peak

REGISTER_METHODS = ("correlation", "phase")
FILL_MODES = ("constant", "nearest", "reflect", "mirror")


@dataclass
class DriftResult:
    """Per-frame drift of a stack and, optionally, the corrected stack.

    Attributes
    ----------
    drift : ndarray, shape (N, 2), float64
        (dx, dy) of every frame: how far its content moved from the reference, in pixels
        (columns, rows). Correcting moves frame t by ``-drift[t]``.
    reference : str or int
        The reference used ("first", "mean" or a frame index).
    method : str
        "correlation" or "phase".
    corrected : ndarray or None
        The drift-corrected stack (float32), if asked for.
    valid : tuple of 4 int
        (row0, row1, col0, col1): the region that holds image data in every corrected frame
        (outside it, some frames were filled).
    at_margin : ndarray, shape (N,), bool
        True for frames whose correlation peak lay on the edge of the search window
        ("correlation" method): their drift is ``margin`` along that axis and the true
        drift may be larger (a :class:`~pcfij.errors.ShiftAtMarginWarning` names them).
    """

    drift: np.ndarray
    reference: str | int
    method: str
    corrected: np.ndarray | None = None
    valid: tuple[int, int, int, int] = (0, 0, 0, 0)
    info: dict = field(default_factory=dict)
    at_margin: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.at_margin is None:
            self.at_margin = np.zeros(len(self.drift), bool)

    def table(self) -> list[dict]:
        """Rows ``{"frame", "dx", "dy", "at_margin"}`` (for a CSV file or an ImageJ
        ResultsTable); ``at_margin``: the drift may be larger than found (see
        :attr:`at_margin`)."""
        return [{"frame": i, "dx": float(dx), "dy": float(dy), "at_margin": bool(e)}
                for i, ((dx, dy), e) in enumerate(zip(self.drift, self.at_margin))]


def register_stack(stack, reference="first", method="correlation", *, margin=10,
                   sub_pixel_method="diff", size=3, block=1, correct=True, order=3,
                   mode="constant", cval=0.0, upsample=100, gpu=False,
                   device=None):
    """Find the drift of every frame of a stack and optionally correct it.

    Parameters
    ----------
    stack : array_like
        (N, H, W): a time series or a z-stack (each plane registered in 2D), or
        (T, Z, H, W): a time series of z-stacks (x/y drift from each volume's mean
        projection, applied to all its planes).
    reference : "first", "mean" or int
        What each frame is registered against: the first frame, the mean of all frames,
        or the frame with that index.
    method : {"correlation", "phase"}
        "correlation": Pearson correlation map of the frame cropped by ``margin`` slid over
        the reference (:func:`find_shift_based_correlation_map`), sub-pixel by
        ``sub_pixel_method``; finds drifts up to ``margin`` pixels from the reference.
        "phase": FFT cross-correlation upsampled ``upsample`` times
        (``skimage.registration.phase_cross_correlation``); any drift below half the image.
    margin : int
        Search range of the "correlation" method (pixels).
    sub_pixel_method : {"diff", "poly_fit"}
        Sub-pixel peak method of the "correlation" method; ``size`` its window.
    block : int
        Average frames in groups of ``block`` before registering (for noisy frames, e.g.
        single-molecule movies); the drift of each group is assigned to its middle frame
        and interpolated linearly in between.
    correct : bool
        Also return the corrected stack.
    order : int
        Spline order of the sub-pixel interpolation (0-5; 1 = linear, 3 = cubic).
    mode : {"constant", "nearest", "reflect", "mirror"}
        How pixels moved in from outside the frame are filled (never wrapped around).
    cval : float
        Fill value for ``mode="constant"``.
    gpu : bool
        Compute correlation maps on the GPU.
    device : {"auto", "cpu", "gpu"}, optional
        pcfij's device choice, shared with ipCF and CCC (None: use ``gpu``). ``"gpu"``
        without CuPy and a CUDA GPU raises InputError; ``"auto"`` falls back to the CPU
        silently. When given, it decides over ``gpu``.

    Returns
    -------
    DriftResult

    Raises
    ------
    InputError (a ValueError)
        Bad parameters, frames too small for ``margin`` (the message names the largest
        margin that fits), NaN or infinite pixel values, or a constant (blank) frame or
        reference, whose drift cannot be measured.

    Warns
    -----
    ShiftAtMarginWarning (a RuntimeWarning)
        Once, naming the frames whose drift lies on the edge of the search window
        (``result.at_margin``): increase ``margin`` or use ``method="phase"``.
    """
    stack = check_array(stack, "stack", ndims=(3, 4))
    if method not in REGISTER_METHODS:
        raise InputError(f"method must be one of {', '.join(REGISTER_METHODS)}; got {method!r}")
    if mode not in FILL_MODES:
        raise InputError(f"mode must be one of {', '.join(FILL_MODES)}; got {mode!r}")
    margin = check_margin(margin)
    method_code(sub_pixel_method)
    if not 0 <= int(order) <= 5:
        raise InputError(f"order must be between 0 and 5; got {order!r}")
    block = int(block)
    if block < 1:
        raise InputError(f"block must be at least 1; got {block!r}")
    data = np.asarray(stack)
    n = data.shape[0]
    if n < 1:
        raise InputError("the stack has no frames")
    planes = data.astype(np.float64) if data.ndim == 3 else data.mean(axis=1, dtype=np.float64)
    _check_finite_frames(planes)
    h, w = planes.shape[-2:]
    if method == "correlation" and (h - 2 * margin <= 3 or w - 2 * margin <= 3):
        raise InputError(
            f"margin {margin} is too large for frames of {h} x {w} pixels: the largest "
            f"margin that fits is {max((min(h, w) - 4) // 2, 0)}; use a smaller margin (or "
            "method 'phase')")
    groups = [(s, min(s + block, n)) for s in range(0, n, block)]
    means = np.stack([planes[a:b].mean(axis=0) for a, b in groups])
    if isinstance(reference, str):
        if reference == "first":
            ref = means[0]
        elif reference == "mean":
            ref = planes.mean(axis=0)
        else:
            raise InputError(f"reference must be 'first', 'mean' or a frame index; "
                             f"got {reference!r}")
    else:
        try:
            idx = int(reference)
        except (TypeError, ValueError):
            raise InputError(f"reference must be 'first', 'mean' or a frame index; "
                             f"got {reference!r}") from None
        if not -n <= idx < n:
            raise InputError(f"reference frame {idx} is outside the stack (0..{n - 1})")
        idx %= n
        g = idx // block
        ref = means[g]
    gdrift = np.zeros((len(groups), 2))
    gedge = np.zeros(len(groups), bool)
    for k, img in enumerate(means):
        if method == "correlation":
            peak = correlation_peak(ref, img, margin=margin, method=sub_pixel_method,
                                    size=size, gpu=gpu, device=device)
            if peak.flat:
                raise InputError(_flat_message(groups[k], planes, ref))
            gdrift[k] = (-peak.x, -peak.y)
            gedge[k] = peak.at_margin
        else:
            from skimage.registration import phase_cross_correlation

            sh = phase_cross_correlation(ref, img, upsample_factor=upsample,
                                         normalization=None)[0]
            gdrift[k] = (-sh[1], -sh[0])
    centres = np.array([(a + b - 1) / 2.0 for a, b in groups])
    frames = np.arange(n, dtype=np.float64)
    drift = np.stack([np.interp(frames, centres, gdrift[:, i]) for i in range(2)], axis=1)
    if isinstance(reference, (int, np.integer)) and block == 1:
        drift[int(reference) % n] = 0.0
    at_margin = np.zeros(n, bool)
    for (a, b), e in zip(groups, gedge):
        at_margin[a:b] = e
    if at_margin.any():
        warnings.warn(_edge_message(at_margin, margin), ShiftAtMarginWarning, stacklevel=2)
    result = DriftResult(drift=drift, reference=reference, method=method,
                         at_margin=at_margin)
    result.valid = _valid_box(drift, h, w)
    if correct:
        result.corrected = shift_stack(data, -drift, order=order, mode=mode, cval=cval)
    return result


def shift_stack(stack, shifts, *, order=3, mode="constant", cval=0.0) -> np.ndarray:
    """Move every frame of a stack by its own (dx, dy) with spline interpolation.

    Parameters
    ----------
    stack : array_like
        (N, H, W) or (T, Z, H, W) (all planes of a volume move together).
    shifts : array_like, shape (N, 2)
        (dx, dy) per frame, in pixels; content moves right/down for positive values.
        To correct a drift found by :func:`register_stack`, pass ``-result.drift``.
    order, mode, cval :
        As in :func:`register_stack`. Nothing wraps around the frame edges.

    Returns
    -------
    ndarray, float32
    """
    data = np.asarray(stack)
    shifts = np.asarray(shifts, dtype=np.float64)
    if data.ndim not in (3, 4):
        raise InputError(f"stack must be 3D or 4D; got shape {data.shape}")
    if shifts.shape != (data.shape[0], 2):
        raise InputError(f"shifts must have shape ({data.shape[0]}, 2); got {shifts.shape}")
    if mode not in FILL_MODES:
        raise InputError(f"mode must be one of {', '.join(FILL_MODES)}; got {mode!r}")
    out = np.empty(data.shape, np.float32)
    for t in range(data.shape[0]):
        dx, dy = shifts[t]
        sh = (0.0,) * (data.ndim - 3) + (dy, dx)
        frame = np.asarray(data[t], dtype=np.float64)
        if dx == 0 and dy == 0:
            out[t] = frame
        else:
            out[t] = ndi.shift(frame, sh, order=int(order), mode=mode, cval=cval,
                               prefilter=int(order) > 1)
    return out


def _check_finite_frames(planes: np.ndarray) -> None:
    bad = ~np.isfinite(planes).reshape(len(planes), -1).all(axis=1)
    if bad.any():
        frames = np.flatnonzero(bad)
        which = ("every frame" if frames.size == len(planes) else
                 f"{frames.size} frame{'s' if frames.size > 1 else ''} (first: frame "
                 f"{frames[0]}, counted from 0)")
        raise InputError(f"the stack has NaN or infinite values in {which}; drift "
                         "correction needs finite pixel values: replace them (e.g. by the "
                         "frame mean) or remove those frames first")


def _flat_message(group: tuple[int, int], planes: np.ndarray, ref: np.ndarray) -> str:
    a, b = group
    frames = f"frame {a}" if b - a == 1 else f"frames {a}-{b - 1}"
    if np.ptp(ref) == 0:
        return ("the reference is constant (every pixel the same), so no drift can be "
                "measured against it; choose another reference")
    if np.ptp(planes[a:b].mean(axis=0)) == 0:
        return (f"{frames} of the stack {'is' if b - a == 1 else 'are'} constant (blank), "
                "so no drift can be measured; remove blank frames first")
    return FLAT_MESSAGE


def _edge_message(at_margin: np.ndarray, margin: int) -> str:
    frames = np.flatnonzero(at_margin)
    shown = ", ".join(map(str, frames[:10])) + (", ..." if frames.size > 10 else "")
    return (f"{frames.size} of {at_margin.size} frames have their drift on the edge of the "
            f"search window (margin {margin} px): frames {shown} (counted from 0); their "
            "drift may be larger than found (marked at_margin in the drift table); increase "
            "margin or use method 'phase'")


def _valid_box(drift: np.ndarray, h: int, w: int) -> tuple[int, int, int, int]:
    dx = drift[:, 0]
    dy = drift[:, 1]
    # frame t moves by -drift[t]: a positive dx empties columns on the right
    r0 = int(np.ceil(max(0.0, float(-dy.min()))))
    r1 = h - int(np.ceil(max(0.0, float(dy.max()))))
    c0 = int(np.ceil(max(0.0, float(-dx.min()))))
    c1 = w - int(np.ceil(max(0.0, float(dx.max()))))
    return r0, max(r0, r1), c0, max(c0, c1)
