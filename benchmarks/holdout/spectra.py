"""Surface reflectances in Sentinel-2's four 10 m bands, read off published laboratory and field spectra.

Band order everywhere: B02 (490 nm), B03 (560 nm), B04 (665 nm), B08 (842 nm); values are reflectance
0..1. Each value is a band mean read off the shape of the cited spectra and rounded to 0.01: these
are typical members of each class, not a fit to any one sample, and the injector varies each object by a
few percent around them (real paint, dust and age do). Sources, in ``docs/holdout.md``:

- [USGS7] Kokaly et al. 2017, USGS Spectral Library Version 7, Data Series 1035.
- [ECO] Meerdink et al. 2019, The ECOSTRESS spectral library version 1.0, RSE 230 (Baldridge et al. 2009
  ASTER library 2.0 included): man-made materials (asphalt, concrete, paints, fabrics), soils, vegetation.
- [HER] Herold, Roberts, Gardner, Dennison 2004, Spectrometry for urban area remote sensing, RSE 91:
  asphalt darkest when new and brightening with age; concrete 2-3x brighter than asphalt.
- [LEK] Lekner & Dorf 1988, Why some things are darker when wet, Applied Optics 27(7).
- [CARC] US Army chemical-agent-resistant coating green 383 / MIL-DTL-53072 camouflage paints: their
  pigments are made to reflect near-infrared like foliage, so olive drab is dark in the visible and
  bright (0.3-0.5) at 842 nm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BANDS = ("B02", "B03", "B04", "B08")


@dataclass(frozen=True)
class Material:
    """A surface with its reflectance per band (B02, B03, B04, B08; 0..1) and the source it follows."""

    name: str
    rho: tuple[float, float, float, float]
    source: str

    def array(self) -> np.ndarray:
        """Reflectance as a float array of shape (4,)."""
        return np.asarray(self.rho, dtype=float)


# Ground
ASPHALT_AGED = Material("aged asphalt", (0.08, 0.09, 0.10, 0.12), "HER, ECO asphalt road")
ASPHALT_NEW = Material("fresh asphalt", (0.04, 0.045, 0.05, 0.06), "HER (new asphalt, before ageing)")
CONCRETE = Material("concrete", (0.20, 0.23, 0.25, 0.28), "ECO construction concrete, HER")
GRAVEL = Material("gravel / compacted dirt", (0.11, 0.14, 0.18, 0.24), "USGS7 / ECO soils (brown sandy loam)")
GRASS_GREEN = Material("green grass", (0.04, 0.08, 0.05, 0.45), "USGS7 lawn grass")
GRASS_DRY = Material("dry grass", (0.08, 0.12, 0.16, 0.28), "USGS7 dry grass")

# Formations
OLIVE_PAINT = Material("olive drab paint (trucks)", (0.05, 0.07, 0.06, 0.40), "CARC green 383, ECO paints")
TANK_OLIVE = Material("dusty olive armour (tanks)", (0.07, 0.09, 0.09, 0.34), "CARC green + dust (ECO soils)")
WHITE_ROOF = Material("light bus roof (white paint)", (0.55, 0.58, 0.58, 0.60), "ECO white painted metal")
UNIFORM_DARK = Material("dark olive uniform cloth", (0.05, 0.06, 0.06, 0.25), "ECO dyed cotton/wool fabric")
UNIFORM_LIGHT = Material("light (white/khaki) uniform", (0.45, 0.48, 0.48, 0.55), "ECO undyed cotton")
CIVIL_CAR = Material("civilian cars (mixed colours + glass)", (0.12, 0.12, 0.13, 0.17), "ECO automotive paints")

# Construction yard
SAND = Material("sand / aggregate piles", (0.20, 0.26, 0.32, 0.38), "USGS7 quartz sand")
BRICK_PALLETS = Material("bricks and timber on pallets", (0.10, 0.13, 0.20, 0.30), "ECO brick, wood")
STEEL = Material("galvanised steel", (0.30, 0.31, 0.31, 0.32), "ECO galvanised metal")

#: Share of the illumination that reaches a shadowed surface (sky light only), per band. Clear-sky diffuse
#: fraction of global irradiance at mid elevations falls with wavelength (Rayleigh): ~0.35 blue to ~0.1 NIR.
SHADOW_DIFFUSE = np.array([0.35, 0.26, 0.20, 0.12])

#: Darkening of a wet paved surface per band: water filling the pores lowers the albedo by internal
#: reflection at the film (LEK), by 20-35 %, somewhat more in the NIR.
WET_FACTOR = np.array([0.78, 0.76, 0.74, 0.70])


def haze_path(strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Additive path reflectance and transmittance per band of a thin haze layer (0 none .. 1 thick).

    Aerosol optical depth falls with wavelength (Angstrom exponent ~1.3), so haze brightens blue most:
    path reflectance 0.06 x strength at 490 nm scaled by (lambda/490)^-1.3, transmittance exp(-tau).
    """
    lam = np.array([490.0, 560.0, 665.0, 842.0])
    tau = 0.5 * strength * (lam / 490.0) ** -1.3
    path = 0.12 * tau
    return path, np.exp(-tau)
