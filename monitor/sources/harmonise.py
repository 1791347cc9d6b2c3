"""Sentinel-2 L2A harmonisation: products from processing baseline 04.00 on carry a -1000 DN offset.

ESA added ``BOA_ADD_OFFSET = -1000`` to L2A products processed with baseline 04.00 or later (from
25 January 2022), so that dark pixels keep values below zero reflectance. Reflectance is then
``(DN - 1000) / 10000`` instead of ``DN / 10000``. Without removing the offset, every scene after that
date would look 0.1 brighter than the ones before, a change the detector would take for a formation.

Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np

#: The DN offset of baseline 04.00 and later products.
BOA_ADD_OFFSET = -1000.0
#: The first day of products processed with baseline 04.00 (for items that do not say their baseline).
BASELINE_04_START = datetime(2022, 1, 25, tzinfo=UTC)

#: What was done to a scene (recorded per scene): the offset removed here, removed by the provider
#: already, or no offset in the product.
REMOVED = "offset-removed"
BY_PROVIDER = "provider-harmonised"
NOT_NEEDED = "no-offset"
#: Recorded instead when the scene's level showed the item's flag was wrong (Earth Search's
#: ``boa_offset_applied`` for some 2022-2025 items, element84/earth-search issues 66 and 71) and the
#: scorer harmonised it (``detect.levels``): the offset was still in the product (the scene sat 0.1
#: above its neighbours) or had been removed twice (0.1 below).
LEVEL_REMOVED = "offset-removed-by-level"
LEVEL_RESTORED = "offset-restored-by-level"


def level_corrected(jump: float) -> str:
    """What to record for a scene whose level was ``jump`` (reflectance, +-0.1) off its baseline and
    was harmonised by the scorer: :data:`LEVEL_REMOVED` (it sat above) or :data:`LEVEL_RESTORED`."""
    return LEVEL_REMOVED if jump > 0 else LEVEL_RESTORED


def processing_baseline(properties: Mapping[str, Any]) -> tuple[int, int] | None:
    """(major, minor) of the processing baseline a STAC item states (``s2:processing_baseline``,
    ``processing:version``), or None."""
    for key in ("s2:processing_baseline", "processing:version", "sentinel:processing_baseline"):
        value = properties.get(key)
        if value is None:
            continue
        match = re.match(r"^\s*(\d+)(?:\.(\d+))?", str(value))
        if match:
            return int(match.group(1)), int(match.group(2) or 0)
    return None


def harmonisation(properties: Mapping[str, Any], acquired: datetime | None) -> str:
    """What a Sentinel-2 L2A item needs: :data:`REMOVED` (the offset is there and must go),
    :data:`BY_PROVIDER` (the provider removed it already) or :data:`NOT_NEEDED`.

    Earth Search says ``earthsearch:boa_offset_applied``; otherwise the processing baseline decides,
    and without one, the acquisition date (products before 25 January 2022 were all reprocessed
    without the offset only in the ``c1`` collection, which states its baseline).
    """
    applied = properties.get("earthsearch:boa_offset_applied")
    if applied is True or str(applied).lower() == "true":
        return BY_PROVIDER
    baseline = processing_baseline(properties)
    if baseline is not None:
        return REMOVED if baseline >= (4, 0) else NOT_NEEDED
    if acquired is not None and acquired >= BASELINE_04_START:
        return REMOVED
    return NOT_NEEDED


def remove_offset(dn: np.ndarray) -> np.ndarray:
    """Digital numbers (float, NaN for no data) with the -1000 offset removed: ``DN - 1000`` floored at 0.

    Values at or below the offset (only very dark pixels) become 0 reflectance rather than negative.
    """
    out = dn + np.float32(BOA_ADD_OFFSET)
    np.maximum(out, 0.0, out=out, where=np.isfinite(out))
    return out.astype(np.float32, copy=False)
