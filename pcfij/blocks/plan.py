"""Block plan of the out-of-core ipCF: overlapping spatial blocks sized from a memory limit.

The ipCF curve of a pixel depends on its own trace and on the traces of its circle
neighbours (at most ``radius`` pixels away); photobleaching correction is per trace. So the
result over an output tile ``[y0, y1) x [x0, x1)`` needs exactly the input block
``[y0, y1 + 2r) x [x0, x1 + 2r)`` (all frames) -- a halo of ``radius`` pixels, and no
overlap at all along time. Output tiles do not overlap; their union is the in-memory
result of shape ``(H - 2r, W - 2r, npoints, nbins)``.

Memory model of one block (``P`` input pixels, ``T0`` raw frames of ``s`` bytes, ``T`` frames
after bleaching correction, ``F = T // 2 + 1`` frequencies), following what
:func:`pcfij.pcf.ipcf` holds at its peak (the spectra step):

    raw block            P * T0 * s           (twice: the next block is read meanwhile)
    bleach-corrected     P * T * 2            (only with a bleach filter)
    float32 traces       Q * T * 4            (Q = pixels of one ipcf tile with halo, <= P)
    complex64 spectra    Q * F * 8
    result               P_out * npoints * nbins * 4
    pair scratch         ncores * 2 * 128 * F * 4 (+ the binned batches)
    bleach row buffers   ncores * :func:`pcfij.pcf.bleach.buffer_bytes` (with a bleach
                         filter: checkpoints, segment and output buffers of a row group)

plus 10% slack. :func:`pcfij.pcf.ipcf` works in square tiles of ``tile`` result pixels on a
fixed grid (:func:`pcfij.pcf.ipcf_tile_size`); block sides are whole multiples of the tile
(unless a block is the whole image side), and each block's ``ipcf`` runs with the same tile,
so a blocked result is bit-identical to the in-memory ``ipcf`` with that tile size (the
default tile when the memory limit leaves room for it).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import asdict, dataclass

from pcfij.errors import InputError
from pcfij.pcf.bleach import buffer_bytes as bleach_buffer_bytes
from pcfij.pcf.bleach import group_pixels as bleach_buffer_group

ALIGN = 8
MIN_SIDE = 8
SLACK = 1.10


def parse_memory(text) -> int:
    """Parse ``"4GB"``, ``"512 MiB"``, ``"2e9"`` or a number of bytes into bytes."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        m = re.fullmatch(r"\s*([0-9.]+(?:[eE][0-9]+)?)\s*([kKmMgGtT]?)(i?)([bB]?)\s*", str(text))
        if not m:
            raise InputError(f"memory limit must look like 4GB or 512MB; got {text!r}")
        value = float(m.group(1))
        unit = m.group(2).upper()
        base = 1024 if m.group(3) else 1000
        value *= base ** " KMGT".index(unit or " ")
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"memory limit must be positive; got {text!r}")
    return int(value)


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n:.1f} TB"


def output_size(h: int, w: int, radius: int) -> tuple[int, int]:
    """Result size (h - 2 radius, w - 2 radius) of an h x w input; InputError if empty."""
    out_h, out_w = h - 2 * radius, w - 2 * radius
    if out_h < 1 or out_w < 1:
        raise InputError(
            f"radius {radius} is too large for {h}x{w} pixel images: the ROI must be at least "
            f"{2 * radius + 1}x{2 * radius + 1} pixels"
        )
    return out_h, out_w


def suggest_limit(need: int) -> str:
    """A memory limit of at least ``need`` bytes, for messages: 5% more (the program's own
    memory differs from run to run: 2.3% was seen between two fresh processes of a new
    checkout, whose numba cache was being written), rounded up to 0.1 MB / 0.1 GB."""
    n = need * 1.05
    if n < 1e9:
        return f"{math.ceil(n / 1e5) / 10:.1f} MB"
    return f"{math.ceil(n / 1e8) / 10:.1f} GB"


def tile_budget(tile: int, radius: int, frames: int) -> int:
    """The ``memory_budget`` for which :func:`pcfij.pcf.ipcf_tile_size` returns ``tile``."""
    return (tile + 2 * radius) ** 2 * (frames * 4 + (frames // 2 + 1) * 8)


def choose_tile(frames: int, radius: int, budget: int) -> int:
    """ipcf tile side for blocks: the default tile if it leaves room, else a smaller one."""
    from pcfij.pcf import ipcf_tile_size
    from pcfij.pcf.ipcf import DEFAULT_MEMORY_BUDGET

    return ipcf_tile_size(frames, radius, min(DEFAULT_MEMORY_BUDGET, max(budget // 3, 1)))


def block_bytes(h: int, w: int, *, radius: int, raw_frames: int, frames: int, itemsize: int,
                npoints: int, nbins: int, bleach: bool, ncores: int | None = None,
                tile: int = 64, raw_copies: int = 2) -> int:
    """Estimated peak bytes to compute one block of ``h x w`` input pixels (see module).

    ``raw_copies`` raw blocks are counted (2: the next block is read meanwhile; 0 in band
    mode, where the raw data are part of the band, see :func:`band_bytes`).
    """
    ncores = ncores or os.cpu_count() or 1
    p = h * w
    q = min(p, (tile + 2 * radius) ** 2)
    pout = max(h - 2 * radius, 0) * max(w - 2 * radius, 0)
    nf = frames // 2 + 1
    total = raw_copies * p * raw_frames * itemsize
    if bleach:
        groups = -(-h * w // bleach_buffer_group(h, w))
        total += p * frames * 2 + min(ncores, groups) * bleach_buffer_bytes(raw_frames, h, w)
    total += q * frames * 4 + q * nf * 8
    total += pout * npoints * nbins * 4
    total += ncores * 2 * 128 * nf * 4
    return int(total * SLACK)


@dataclass(frozen=True)
class Block:
    """One block: its index, output tile and input slices (series coordinates)."""

    index: int
    y0: int
    y1: int
    x0: int
    x1: int

    def input_slices(self, radius: int) -> tuple[slice, slice]:
        return slice(self.y0, self.y1 + 2 * radius), slice(self.x0, self.x1 + 2 * radius)

    @property
    def pixels(self) -> int:
        return (self.y1 - self.y0) * (self.x1 - self.x0)


@dataclass(frozen=True)
class Plan:
    """The block grid over the output ``(out_h, out_w)`` with blocks of ``(by, bx)``."""

    out_h: int
    out_w: int
    by: int
    bx: int
    radius: int
    block_bytes: int
    tile: int = 0  # ipcf tile side (0: plans from before tiles; ipcf's default)
    bands: int = 0  # 1: row-band mode (whole-width bands read once, see make_band_plan)
    band_bytes: int = 0  # bytes of one band's raw data (band mode)

    @property
    def grid(self) -> tuple[int, int]:
        return -(-self.out_h // self.by), -(-self.out_w // self.bx)

    def blocks(self) -> list[Block]:
        gy, gx = self.grid
        out = []
        for j in range(gy):
            for i in range(gx):
                y0, x0 = j * self.by, i * self.bx
                out.append(Block(j * gx + i, y0, min(self.out_h, y0 + self.by),
                                 x0, min(self.out_w, x0 + self.bx)))
        return out

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Plan:
        return cls(**{k: int(d[k]) for k in ("out_h", "out_w", "by", "bx", "radius",
                                              "block_bytes")}, tile=int(d.get("tile", 0)),
                   bands=int(d.get("bands", 0)), band_bytes=int(d.get("band_bytes", 0)))

    def band_rows(self) -> list[list[Block]]:
        """The blocks grouped by row band (band mode: one band = one row of blocks)."""
        gy, gx = self.grid
        blocks = self.blocks()
        return [blocks[j * gx : (j + 1) * gx] for j in range(gy)]


def make_plan(shape: tuple[int, int, int], *, radius: int, frames: int, itemsize: int,
              npoints: int, nbins: int, bleach: bool, budget: int, limit_text: str = "",
              block_shape: tuple[int, int] | None = None, row_reads: bool = False,
              baseline: int | None = None) -> Plan:
    """Choose the largest blocks whose estimated peak memory fits ``budget`` bytes.

    Parameters
    ----------
    shape : (T0, H, W)
        Input series shape (after ROI and frame range).
    frames : int
        Frames analysed per trace (after bleaching correction / pow2).
    budget : int
        Bytes one block may use.
    block_shape : (by, bx), optional
        Force the output tile size (tests, tuning); still checked against the budget.
    row_reads : bool
        The source reads whole image rows per frame (a folder of TIFF files): every block
        reads ``by + 2r`` full rows of every file, so a row of ``n`` blocks reads each file
        about ``n`` times. Blocks are then made half as tall and up to twice as wide when
        that fits the budget: the same tiles and pair work, about half the bytes read.

    Raises
    ------
    InputError
        When not even a minimal block (8 x 8 output pixels, or the image if smaller) fits.
    """
    t0, h, w = shape
    out_h, out_w = output_size(h, w, radius)
    tile = choose_tile(frames, radius, budget)
    kw = dict(radius=radius, raw_frames=t0, frames=frames, itemsize=itemsize, npoints=npoints,
              nbins=nbins, bleach=bleach, tile=tile)

    def cost(by: int, bx: int) -> int:
        return block_bytes(by + 2 * radius, bx + 2 * radius, **kw)

    if block_shape is not None:
        by, bx = (max(1, min(int(b), n)) for b, n in zip(block_shape, (out_h, out_w)))
        return Plan(out_h, out_w, by, bx, radius, cost(by, bx), tile)
    mby, mbx = min(MIN_SIDE, out_h), min(MIN_SIDE, out_w)
    if cost(mby, mbx) > budget:
        need = cost(mby, mbx)
        base = _baseline_hint() if baseline is None else baseline
        raise InputError(
            f"memory limit {limit_text or format_bytes(budget)} is too small: one minimal block "
            f"of {mby + 2 * radius}x{mbx + 2 * radius} pixels x {t0} frames needs about "
            f"{format_bytes(need)} besides the ~{format_bytes(base)} the program "
            f"itself uses; give `memory_limit` of at least "
            f"{suggest_limit(need + base)} (a few GB gives bigger, faster blocks)"
        )
    # grow a square tile, then the longer side, while it fits
    side = MIN_SIDE
    while side < max(out_h, out_w) and cost(min(side * 2, out_h), min(side * 2, out_w)) <= budget:
        side *= 2
    lo, hi = side, max(out_h, out_w, side)
    while hi - lo > 1:  # largest square side that fits
        mid = (lo + hi) // 2
        if cost(min(mid, out_h), min(mid, out_w)) <= budget:
            lo = mid
        else:
            hi = mid
    by, bx = min(lo, out_h), min(lo, out_w)
    # if one side is already the whole image, extend the other one
    if bx == out_w and by < out_h:
        while by < out_h and cost(by + 1, bx) <= budget:
            by += 1
    elif by == out_h and bx < out_w:
        while bx < out_w and cost(by, bx + 1) <= budget:
            bx += 1
    # whole tiles per block, so blocks reproduce the in-memory tile grid bit for bit
    align = tile if min(by, bx) >= tile else ALIGN
    by = by if by == out_h or by < align else by // align * align
    bx = bx if bx == out_w or bx < align else bx // align * align
    if row_reads and by >= 2 * tile and bx < out_w:
        wy = by // 2 // tile * tile
        wx = min(out_w, by * bx // wy // tile * tile)
        if wx > bx and cost(wy, wx) <= budget:
            by, bx = wy, wx
    return Plan(out_h, out_w, by, bx, radius, cost(by, bx), tile)


def _baseline_hint() -> int:
    return 300 * 10**6


#: preferred width of the blocks inside a band (result pixels)
BAND_BLOCK_WIDTH = 256
#: smallest ipCF tile tried for taller bands (smaller tiles only when nothing else fits:
#: their halo makes the traces and FFTs several times the work)
BAND_MIN_TILE = 16


def band_bytes(rows: int, width: int, nblocks: int, radius: int, raw_frames: int,
               itemsize: int) -> int:
    """Bytes of one band: ``rows`` input rows of all frames, stored per block (each block's
    columns with its halo, so halo columns are held twice)."""
    return rows * (width + 2 * radius * max(0, nblocks - 1)) * raw_frames * itemsize


def carry_rows(by: int, out_h: int, radius: int, row_align: int, row_offset: int = 0) -> int:
    """Most rows a chunked input's band reading carries past a band: a band of result rows
    ``[j by, (j+1) by)`` ends at input row ``y1 = (j+1) by + 2r`` and is read up to the next
    multiple of ``row_align`` source rows (``row_offset``: the ROI's first source row);
    0 for inputs stored as rows (``row_align`` 1) and for the last band."""
    if row_align <= 1:
        return 0
    ends = [min((j + 1) * by, out_h) + 2 * radius for j in range(-(-out_h // by) - 1)]
    return max(((-(row_offset + y1)) % row_align for y1 in ends), default=0)


def read_buffer_bytes(rows: int, width: int, raw_frames: int, itemsize: int, carry: int,
                      read_frames: int) -> int:
    """Bytes of a chunked input's reads, held besides the band: twice one read of
    ``read_frames`` frames (whole time chunks) of the band's new rows and the ``carry`` rows
    past it (the reader's buffer and the array the HDF5/Zarr library returns). 0 for inputs
    stored as rows (no carry, reads of 64 frames)."""
    if carry <= 0 and read_frames <= 64:
        return 0
    return 2 * min(read_frames, raw_frames) * (rows + carry) * width * itemsize


def read_ahead_bytes(rows: int, width: int, raw_frames: int, itemsize: int, carry: int,
                     read_frames: int) -> int:
    """Bytes a chunked input's band reading holds besides the band: ``carry`` rows read past
    the band (all frames, see :func:`carry_rows`) and the read buffers
    (:func:`read_buffer_bytes`). 0 for inputs stored as rows."""
    return carry * width * raw_frames * itemsize + read_buffer_bytes(
        rows, width, raw_frames, itemsize, carry, read_frames)


def make_band_plan(shape: tuple[int, int, int], *, radius: int, frames: int, itemsize: int,
                   npoints: int, nbins: int, bleach: bool, budget: int, limit_text: str = "",
                   baseline: int = 0, block_shape: tuple[int, int] | None = None,
                   row_align: int = 1, read_frames: int = 64, row_offset: int = 0) -> Plan:
    """Plan for inputs stored as whole rows per frame: full-width row bands read once.

    Blocks are grouped in bands of ``by`` result rows spanning the image width; the pipeline
    reads each band's rows once for all its blocks (halo rows kept from the band above)
    and keeps one band plus the computation of one block within ``budget``; the next band
    is read into the memory that is left and that finished blocks free. The ipCF tile (and
    so ``by``, a multiple of it) is the largest that leaves room for bands; taller bands
    mean fewer, larger reads per file (what a disk is fast at).

    Parameters
    ----------
    shape : (T0, H, W)
        Input series shape (after ROI and frame range).
    budget : int
        Bytes the bands and the computation of one block may use together.
    baseline : int
        Bytes the program uses besides (only for the message when nothing fits).
    row_align, read_frames, row_offset : int
        A chunked input (:class:`pcfij.io.rows.ChunkRows`): its chunks' rows, the frames of
        one read (whole time chunks) and the ROI's first source row; the rows carried past
        a band and the read buffer are counted with the band (:func:`read_ahead_bytes`).
    """
    t0, h, w = shape
    out_h, out_w = output_size(h, w, radius)
    kw = dict(radius=radius, raw_frames=t0, frames=frames, itemsize=itemsize, npoints=npoints,
              nbins=nbins, bleach=bleach, raw_copies=0)

    def layout(by: int, bx: int, tile: int) -> tuple[int, int, int]:
        nbx = -(-out_w // bx)
        # the band, the copies of its last 2r rows kept for the band below (made while the
        # next band is read), and a chunked input's rows read ahead
        band = (band_bytes(by + 2 * radius, w, nbx, radius, t0, itemsize)
                + band_bytes(2 * radius, w, nbx, radius, t0, itemsize)
                + read_ahead_bytes(by, w, t0, itemsize,
                                   carry_rows(by, out_h, radius, row_align, row_offset),
                                   read_frames))
        compute = block_bytes(by + 2 * radius, bx + 2 * radius, tile=tile, **kw)
        return band + compute, band, compute

    default_tile = choose_tile(frames, radius, budget)
    if block_shape is not None:
        by, bx = (max(1, min(int(b), n)) for b, n in zip(block_shape, (out_h, out_w)))
        cost, band, _ = layout(by, bx, default_tile)
        return Plan(out_h, out_w, by, bx, radius, cost, default_tile, 1, band)
    # the tallest bands that fit (fewest reads per file), then the largest tile (least halo
    # work), then the widest blocks (chunked inputs: the largest tile first, see below)
    best = best_key = None
    tile = default_tile
    while tile >= min(MIN_SIDE, default_tile):
        for width in sorted({min(out_w, max(tile, k // tile * tile))
                             for k in (64, 128, BAND_BLOCK_WIDTH, 512)}):
            by = min(tile, out_h)
            if layout(by, width, tile)[0] > budget:
                continue
            while by < out_h and layout(min(by + tile, out_h), width, tile)[0] <= budget:
                by = min(by + tile, out_h)
            # a chunked input decodes each chunk once at any band height: the largest tile
            # first there (least halo work); rows read from files: the tallest band first
            key = (tile, by, width) if row_align > 1 else (by, tile, width)
            if best is None or key > best_key:
                best, best_key = (by, tile, width), key
        if tile <= MIN_SIDE or (best is not None and tile <= BAND_MIN_TILE):
            break
        tile //= 2
    if best is None:  # the cheapest minimal layout, for the message
        tile = min(default_tile, MIN_SIDE)
        by = min(tile, out_h)
        bx = min((min(out_w, max(tile, k // tile * tile)) for k in (64, 128, 256, 512, out_w)),
                 key=lambda b: layout(by, b, tile)[0])
    else:
        by, tile, bx = best
    cost, band, _ = layout(by, bx, tile)
    if cost > budget:
        raise InputError(
            f"memory limit {limit_text or format_bytes(budget)} is too small: one band of "
            f"{by + 2 * radius} rows x {w} pixels x {t0} frames and its computation need "
            f"about {format_bytes(cost)} besides the {format_bytes(baseline)} the program "
            f"itself uses; give `memory_limit` of at least {suggest_limit(cost + baseline)} "
            "(a few GB gives taller bands and fewer reads)"
        )
    return Plan(out_h, out_w, by, bx, radius, cost, tile, 1, band)
