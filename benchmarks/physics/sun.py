"""Solar position for an acquisition (NREL SPA through pvlib), and the sun-ward direction on the grid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np


@dataclass(frozen=True)
class Sun:
    """The sun seen from the site at one instant.

    ``azimuth_deg``: clockwise from north, 0..360; ``elevation_deg``: apparent elevation above the
    horizon (refraction included), degrees.
    """

    azimuth_deg: float
    elevation_deg: float

    def sunward_rc(self) -> tuple[float, float]:
        """Unit vector (row, col) pointing towards the sun on a north-up grid (rows grow southwards)."""
        a = np.radians(self.azimuth_deg)
        return (-float(np.cos(a)), float(np.sin(a)))

    def shadow_length(self, height_m: float) -> float:
        """Length in metres of the shadow an object ``height_m`` tall casts on flat ground."""
        return height_m / float(np.tan(np.radians(max(self.elevation_deg, 1.0))))


def sun_at(when: datetime, lon: float, lat: float) -> Sun:
    """The sun at ``when`` (timezone-aware UTC) over ``lon``/``lat`` (degrees), by NREL's SPA (pvlib)."""
    import pandas as pd
    import pvlib  # type: ignore[import-untyped]

    pos = pvlib.solarposition.get_solarposition(pd.DatetimeIndex([when]), lat, lon, method="nrel_numpy")
    return Sun(azimuth_deg=float(pos["azimuth"].iloc[0]), elevation_deg=float(pos["apparent_elevation"].iloc[0]))
