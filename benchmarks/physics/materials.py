"""Surface reflectance spectra at the Sentinel-2 10 m bands (B02 492, B03 560, B04 665, B08 833 nm).

Every value is a hemispherical-directional reflectance (0..1) read off published spectra at the band
centres; sources in docs/physics-injection.md. Arrays are ordered (B02, B03, B04, B08).
"""

from __future__ import annotations

import numpy as np

BANDS = ("B02", "B03", "B04", "B08")
WAVELENGTH_NM = np.array([492.0, 560.0, 665.0, 833.0])

#: Aged asphalt (Herold & Roberts 2005 road ageing spectra): dark, rising slowly towards the NIR.
ASPHALT = np.array([0.075, 0.085, 0.095, 0.115])
#: Fresh (new, black) asphalt, nearly flat and very dark (Herold & Roberts 2005).
FRESH_ASPHALT = np.array([0.045, 0.048, 0.050, 0.055])
#: Weathered construction concrete (ECOSTRESS/ASTER spectral library, concrete 0424UUUCNC).
CONCRETE = np.array([0.24, 0.27, 0.29, 0.32])
#: New, bright concrete slab (construction confounder).
NEW_CONCRETE = np.array([0.33, 0.37, 0.39, 0.42])
#: Olive-drab military paint (CARC green 383 class, made NIR-reflective to mimic foliage):
#: dark in the visible with a small green peak, bright in the NIR.
OLIVE_PAINT = np.array([0.045, 0.070, 0.055, 0.38])
#: Olive canvas tarpaulin over truck beds: like the paint, a little brighter in the visible, less NIR.
OLIVE_CANVAS = np.array([0.060, 0.085, 0.075, 0.30])
#: Light (white/silver) coach roof: bright and nearly flat in every band.
COACH_ROOF = np.array([0.55, 0.58, 0.60, 0.62])
#: Dark military uniform cloth (cotton/wool, olive/khaki dyes): dark visible, moderate NIR (cellulose).
UNIFORM = np.array([0.050, 0.065, 0.065, 0.25])
#: White painted ground markings on parade squares (road paint).
MARKING = np.array([0.45, 0.48, 0.50, 0.52])

#: Share of clear-sky global irradiance that is diffuse (sky light) at each band: what a shadow keeps.
#: Blue sky light makes shadows bluish. Clear-sky values for mid-latitudes (Bird & Riordan 1986).
DIFFUSE_FRACTION = np.array([0.32, 0.24, 0.18, 0.12])

#: Wet pavement: reflectance ratio wet/dry (Lekner & Dorf 1988; water films darken most in the NIR/SWIR).
WET_RATIO = np.array([0.80, 0.78, 0.75, 0.62])


def diffuse_fraction(elevation_deg: float) -> np.ndarray:
    """The diffuse share of irradiance per band, rising as the sun sinks (longer slant path)."""
    air_mass = 1.0 / max(np.sin(np.radians(max(elevation_deg, 5.0))), 0.087)
    return np.clip(DIFFUSE_FRACTION * (air_mass / 1.5) ** 0.5, 0.0, 0.8)
