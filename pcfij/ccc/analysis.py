"""The CCC analyses: :func:`ccc` (with or without confidence) and
:func:`cross_correlation_profile` ("Just Cross Correlation").

Method (the plugin's v2.1 variant), per frame:

1. the mask is applied to both images (pixels outside set to 0; no mask = all inside);
2. original correlation ``O = corr(a, b) / V`` with ``V`` the mask volume in calibrated units
   (pixels inside x voxel volume), linear (zero-extended) correlation;
3. subtracted correlation ``S = corr(a - mean_mask(a) inside the mask, b) / V``: subtracting
   the mean of image 1 under the mask before correlating removes the low spatial frequency
   (cell-to-cell) component;
4. radial profiles of ``O`` and ``S`` at exact calibrated distances (method ``"plugin"``:
   from the plugin's centre ``(n - 1) / 2``; ``"unbiased"``: from the zero shift ``n // 2``);
5. fit of the profile of ``S`` (``"plugin"``: the plugin's Gaussian fit, :mod:`pcfij.ccc.fit`;
   ``"unbiased"``: the blurred ring/shell model, :mod:`pcfij.ccc.unbiased`); confidence and
   R-squared within mean +- 3 sigma;
6. optional contribution images from the Gaussian-modified correlation.
"""

from __future__ import annotations

import math

import numpy as np

from pcfij.ccc import fit as fitting
from pcfij.ccc import timeseries, unbiased
from pcfij.ccc.contributions import (
    contribution_images,
    gaussian_weights,
    mirror_contribution_images,
)
from pcfij.ccc.correlation import Correlator
from pcfij.ccc.inputs import Inputs, check_inputs, mask_statistics
from pcfij.ccc.parameters import CCC_PARAMS, XCORR_PARAMS
from pcfij.ccc.profile import RadialBinning
from pcfij.ccc.result import CCCResult
from pcfij.errors import InputError
from pcfij.kernels import get_backend, parse_device
from pcfij.params import check_values

LOW_CONFIDENCE = 0.1
LOW_R_SQUARED = 0.05


def _backend(device: str):
    """CCC's back-end (the kernels :class:`~pcfij.kernels.Backend` plus profile kernels)
    for a device already resolved to ``"cpu"`` or ``"gpu"``."""
    if device == "gpu":
        from pcfij.kernels.ccc_gpu import GpuBackend  # noqa: PLC0415

        return GpuBackend()
    from pcfij.kernels.ccc_cpu import CpuBackend  # noqa: PLC0415

    return CpuBackend()


def _where(device) -> str:
    """``"cpu"`` or ``"gpu"`` for a user's ``device`` (the one rule of
    :func:`pcfij.kernels.get_backend`: ``"gpu"`` without a GPU is an InputError, ``"auto"``
    falls back to the CPU silently)."""
    return get_backend(device).name


class _Engine:
    """Per-shape state shared by the frames of one analysis."""

    def __init__(self, inputs: Inputs, device: str, method: str = "plugin") -> None:
        self.inputs = inputs
        self.device = device
        self.method = method
        self.backend = _backend(device)
        self.xp = self.backend.xp
        self.corr = Correlator(inputs.frame_shape, self.backend)
        self.bins = RadialBinning(inputs.frame_shape, inputs.spacing,
                                  centre="plugin" if method == "plugin" else "zero")
        self.voxel = math.prod(inputs.spacing)
        self.backend.release()  # the distance table's temporaries

    def source(self, image, mask, subtract: float | None = None):
        """Slab source of a masked (and optionally mean-subtracted) float32 image."""
        xp, be = self.xp, self.backend

        def src(sl):
            x = be.asarray(np.asarray(image[sl])).astype(xp.float32)  # always a new array
            if subtract is not None:
                x -= xp.float32(subtract)
            if mask is not None:
                m = be.asarray(np.asarray(mask[sl]))
                x = xp.where(m != 0, x, xp.float32(0))  # not x *= m: NaN outside stays NaN
            return x

        return src

    def _correlate(self, source_a, fb, spare, volume: float, keep: bool):
        """Correlate ``source_a`` with the image whose partial spectrum is ``fb``, normalised
        by ``volume``; return its radial profile and the correlation image (None unless
        ``keep``: the profile is accumulated slab by slab during the inverse transform)."""
        corr, bins, be = self.corr, self.bins, self.backend
        corr.forward(source_a, out=spare)
        corr.combine(spare, fb, conj=True)
        sums = bins.new_sums()

        def post(sl, block):
            bins.add_slab(sums, sl, block, be)
            return block

        img = self.xp.empty(corr.shape, dtype=self.xp.float32) if keep else None
        corr.inverse(spare, img, factor=1.0 / volume, post=post)
        return bins.mean(sums), img

    def frame(self, a, b, m, *, mode: str, contributions: bool, intermediates: bool,
              get_out=None) -> dict:
        """Analyse one frame; return its profiles, fit and images."""
        corr, bins, be = self.corr, self.bins, self.backend
        mean_a, count = mask_statistics(a, b, m, corr.rows)
        volume = count * self.voxel
        out: dict = {"mask_volume": volume}
        fb = corr.forward(self.source(b, m))
        spare = corr.empty_spectrum()
        if mode in ("ccc", "xcorr"):
            keep = intermediates or mode == "xcorr"
            out["original"], img = self._correlate(self.source(a, m), fb, spare, volume, keep)
            if keep:
                out["original_image"] = be.to_host(img)
            del img
            if mode == "xcorr":
                return out
        # the subtracted correlation image is kept only when it is asked for or needed for
        # the contributions; otherwise its profile is taken slab by slab
        keep = intermediates or contributions
        sub, cimg = self._correlate(self.source(a, m, subtract=mean_a), fb, spare, volume, keep)
        out["subtracted"] = sub
        if intermediates:
            out["subtracted_image"] = be.to_host(cimg)
            if be.name == "cpu" and contributions:
                cimg = cimg.copy()  # weighted in place below
        # neither spectrum is held during the fit (it needs memory for large profiles);
        # the contributions recompute the spectrum of image 2 (one slab-wise real FFT)
        # after that of the Gaussian-modified image, which is then freed
        del spare, fb
        be.release()  # freed spectra and slabs: the fit allocates on the host
        gfit = fitting.fit_gaussian(bins.distance, sub, self.inputs.scale[0])
        if self.method == "unbiased":
            start = (gfit.mean, gfit.sigma) if gfit.ok else None
            gfit = unbiased.fit_ring(bins, sub, start=start, pixel=min(self.inputs.spacing))
        out["gfit"] = gfit
        out["fit"] = gfit.curve(bins.distance)
        if mode == "ccc":
            out["confidence"] = fitting.confidence(bins.distance, sub, out["original"], gfit)
        out["r_squared"] = fitting.r_squared(bins.distance, sub, gfit, curve=out["fit"])
        be.release()  # the fit's temporaries
        if contributions:
            if not gfit.ok:
                get_out("contribution1")[...] = 0
                get_out("contribution2")[...] = 0
            else:
                bins.weight(cimg, be, gaussian_weights(bins.distance, gfit))
                if intermediates:
                    out["gaussian_modified_image"] = be.to_host(cimg)
                if self.method == "plugin":
                    src_a, src_b = self.source(a, m), self.source(b, m)
                    mirror_contribution_images(
                        be.to_host(cimg), lambda sl: be.to_host(src_a(sl)),
                        lambda sl: be.to_host(src_b(sl)), get_out("contribution1"),
                        get_out("contribution2"))
                    return out
                holder = [cimg]
                del cimg
                contribution_images(
                    corr, holder, self.source(a, m), self.source(b, m),
                    lambda: get_out("contribution1"), lambda: get_out("contribution2"),
                )
        return out


def _validate(params, owner: str, **values) -> dict:
    values["device"] = parse_device(values.get("device"))
    return check_values(params, values, owner=owner)


def _collect(inputs: Inputs, frames: list[dict], *, command: str, device: str,
             significant_digits, unit, distance, images: dict, method: str = "plugin",
             frame_interval: float = 0.0, time_unit: str | None = None) -> CCCResult:
    series = inputs.time_axis is not None
    res = CCCResult(command=command, distance=distance, scale=inputs.scale,
                    unit=unit, method=method, frame_interval=frame_interval,
                    time_unit=time_unit,
                    significant_digits=significant_digits, device=device,
                    n_frames=inputs.n_frames if series else None, time_axis=inputs.time_axis)

    def stack(key):
        vals = [f.get(key) for f in frames]
        if vals[0] is None:
            return None
        return np.stack(vals) if series else vals[0]

    def scalars(key, fn):
        if key not in frames[0] and fn is None:
            return None
        vals = [fn(f) for f in frames]
        if vals[0] is None:
            return None
        return np.asarray(vals, dtype=np.float64) if series else vals[0]

    res.original = stack("original")
    res.subtracted = stack("subtracted")
    res.fit = stack("fit")
    vol = [f["mask_volume"] for f in frames]
    res.mask_volume = np.asarray(vol) if series else vol[0]
    messages = []
    if command != "xcorr":
        res.mean = scalars("gfit", lambda f: f["gfit"].mean)
        res.sigma = scalars("gfit", lambda f: f["gfit"].sigma)
        res.height = scalars("gfit", lambda f: f["gfit"].peak_height)
        res.r_squared = scalars("r_squared", lambda f: f["r_squared"])
        if command == "ccc":
            res.confidence = scalars("confidence", lambda f: f["confidence"])
        oks = [f["gfit"].ok for f in frames]
        res.fit_ok = np.asarray(oks) if series else oks[0]
        if method == "unbiased":
            res.distance_ci = scalars("gfit", lambda f: getattr(f["gfit"], "ci",
                                                                (math.nan, math.nan)))
            res.sigma_z = scalars("gfit", lambda f: getattr(f["gfit"], "sigma_z", math.nan))
        for t, f in enumerate(frames):
            where = f"frame {t}: " if series else ""
            g = f["gfit"]
            if not g.ok:
                messages.append(where + g.message)
                continue
            if g.plugin_error:
                messages.append(where + g.plugin_error + "; pcfij kept the last acceptable fit")
            c = f.get("confidence")
            if c is not None and c < LOW_CONFIDENCE:
                messages.append(
                    where + f"low confidence ({c:.3g} < {LOW_CONFIDENCE}): no significant spatial "
                    "correlation, or more pre-processing (background subtraction on 32-bit "
                    "images, deconvolution) is needed"
                )
            if f["r_squared"] < LOW_R_SQUARED:
                messages.append(
                    where + f"very low R-squared ({f['r_squared']:.3g}): low signal to noise, "
                    "or the curve was fitted to noise"
                )
        if series:
            res.best_frame = timeseries.best_frame(res.confidence, res.sigma)
    res.message = "\n".join(messages)
    for key, arr in images.items():
        setattr(res, key, arr)
    return res


def _run(inputs: Inputs, *, mode: str, device: str, contributions: bool, intermediates: bool,
         significant_digits, unit, method: str = "plugin", frame_interval: float = 0.0,
         time_unit: str | None = None) -> CCCResult:
    eng = _Engine(inputs, device, method)
    shape = (inputs.n_frames,) + inputs.frame_shape
    images: dict = {}
    keep = []
    if mode == "xcorr":
        keep.append("original_image")
    elif intermediates:
        keep += (["original_image"] if mode == "ccc" else []) + ["subtracted_image"]
        if contributions:
            keep.append("gaussian_modified_image")
    frames = []
    for t in range(inputs.n_frames):
        a, b, m = inputs.frame(t)

        def get_out(key, t=t):
            if key not in images:  # allocated when first written (lower peak memory)
                images[key] = np.empty(shape, dtype=np.float32)
            return images[key][t]

        f = eng.frame(
            a, b, m, mode=mode, contributions=contributions and mode != "xcorr",
            intermediates=intermediates, get_out=get_out,
        )
        for key in keep:
            if key in f:
                if key not in images:
                    images[key] = np.zeros(shape, dtype=np.float32)
                images[key][t] = f.pop(key)
        frames.append(f)
    # back to the caller's layout: single frames drop the time axis, series keep its place
    for key, arr in list(images.items()):
        images[key] = arr[0] if inputs.time_axis is None else np.moveaxis(arr, 0, inputs.time_axis)
    return _collect(inputs, frames, command={"ccc": "ccc", "noconf": "ccc-noconf",
                                             "xcorr": "xcorr"}[mode],
                    device=device, significant_digits=significant_digits, unit=unit,
                    distance=eng.bins.distance, images=images, method=method,
                    frame_interval=frame_interval, time_unit=time_unit)


def ccc(image1, image2, mask=None, *, scale=None, time_axis=None, confidence=True,
        contributions=False, intermediates=False, significant_digits=None, device="auto",
        method="plugin", unit=None, frame_interval=None, time_unit=None) -> CCCResult:
    """Colocalization by Cross Correlation of two images.

    Parameters
    ----------
    image1, image2 : array_like
        Single-channel 2D ``(y, x)`` or 3D ``(z, y, x)`` images of the same shape, optionally
        with a time axis (see ``time_axis``). Background-subtracted float images work best.
    mask : array_like, optional
        Where the signal could be (non-zero = inside), e.g. the whole cell: the mean of
        image 1 under the mask is what is subtracted. Same shape as the images, or as one
        frame of a time series. None analyses the whole image (not recommended).
    scale : float or sequence of float, optional
        Pixel size in ``x, y[, z]`` order (ImageJ's Image > Properties order), or one number
        for all axes; default 1 (results in pixels).
    time_axis : int, optional
        Axis of the arrays that holds time; every frame is analysed like a single image.
    confidence : bool
        Compute the original correlation and the confidence (False = "CCC - No confidence":
        less memory, ``confidence`` is None, best frame = smallest sigma).
    contributions : bool
        Also return the contribution images ``contribution1``/``contribution2``.
    intermediates : bool
        Also return the correlation images (original, subtracted and, with contributions,
        Gaussian-modified).
    significant_digits : int, optional
        Digits used by the result's tables (the values themselves keep full precision).
    device : {"auto", "cpu", "gpu"}
        Where to compute: "auto" uses the GPU when CuPy sees one, else the CPU (silently);
        "gpu" without CuPy and a CUDA GPU raises InputError.
    method : {"plugin", "unbiased"}
        "plugin" (default): the Fiji plugin's numbers, quirks included (profile centre
        ``(n-1)/2``, exact distance keys, commons-math3 Gaussian fit with the plugin's
        mirroring, rejection and moving-average refits, mirror-extended contributions).
        "unbiased": distances from the true zero shift and a blurred ring (2D) / shell (3D)
        model, ``mean`` = the pair distance with a 95 % interval ``distance_ci``; see
        docs/ccc.md.
    unit : str, optional
        Name of the length unit for tables and plots (default "pixel" when uncalibrated).
    frame_interval, time_unit : optional
        Time between frames and its unit, for the tables of a time series ("Time of best
        CC"); kept in the result.

    Returns
    -------
    CCCResult
        Statistics (floats, or arrays over frames), profiles, requested images. A fit that
        fails gives NaN statistics, ``fit_ok=False`` and a message, not an exception (the
        plugin's -1 values appear in the tables of :func:`pcfij.ccc.present.ccc_outputs`).

    Raises
    ------
    InputError, InputTypeError
        Bad input (shapes, mask, NaN/Inf inside the mask, scale ...), with what to do.
    """
    v = _validate(CCC_PARAMS, "ccc", image1=image1, image2=image2, mask=mask, scale=scale,
                  time_axis=time_axis, confidence=confidence, contributions=contributions,
                  intermediates=intermediates, significant_digits=significant_digits,
                  device=device, method=method)
    inputs = check_inputs(image1, image2, mask, scale=v["scale"], time_axis=v["time_axis"])
    dev = _where(v["device"])
    unit = unit or ("pixel" if scale is None else "unit")
    return _run(inputs, mode="ccc" if v["confidence"] else "noconf", device=dev,
                contributions=v["contributions"], intermediates=v["intermediates"],
                significant_digits=v["significant_digits"], unit=unit, method=v["method"],
                frame_interval=float(frame_interval or 0.0), time_unit=time_unit)


def cross_correlation_profile(image1, image2, mask=None, *, scale=None, time_axis=None,
                              significant_digits=None, device="auto", unit=None,
                              frame_interval=None, time_unit=None) -> CCCResult:
    """"Just Cross Correlation": the correlation image and its radial profile, no fit.

    The images are masked and correlated exactly as in :func:`ccc` (normalised by the mask
    volume) without subtracting anything; the profile is the plugin's (centre ``(n-1)/2``,
    exact distance keys). The result has ``original`` (profile),
    ``original_image`` and ``distance``; the fit statistics are None.
    """
    v = _validate(XCORR_PARAMS, "xcorr", image1=image1, image2=image2, mask=mask, scale=scale,
                  time_axis=time_axis, significant_digits=significant_digits,
                  device=device)
    inputs = check_inputs(image1, image2, mask, scale=v["scale"], time_axis=v["time_axis"])
    dev = _where(v["device"])
    unit = unit or ("pixel" if scale is None else "unit")
    return _run(inputs, mode="xcorr", device=dev, contributions=False, intermediates=False,
                significant_digits=v["significant_digits"], unit=unit,
                frame_interval=float(frame_interval or 0.0), time_unit=time_unit)


__all__ = ["ccc", "cross_correlation_profile", "InputError"]
