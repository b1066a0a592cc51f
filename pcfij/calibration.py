"""Physical calibration of an image (pixel size, unit, frame interval).

A leaf module (imports nothing from pcfij) so engines' presentations, the presentation
model (:mod:`pcfij.outputs`), the file layer and the adapters all share one class.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Calibration:
    """Physical size of a pixel/voxel and time step.

    Attributes
    ----------
    pixel_width, pixel_height, voxel_depth : float
        Size in ``unit`` (1.0 = uncalibrated).
    unit : str
        Length unit (``"pixel"`` when uncalibrated, else e.g. ``"micron"``).
    frame_interval : float
        Seconds between frames (0 = unknown).
    extra : dict
        Other metadata read with the image (kept, not interpreted).
    """

    pixel_width: float = 1.0
    pixel_height: float = 1.0
    voxel_depth: float = 1.0
    unit: str = "pixel"
    frame_interval: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def calibrated(self) -> bool:
        """True when ``unit`` is a physical unit (not pixels)."""
        return self.unit not in ("", "pixel", "pixels")
