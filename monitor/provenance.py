"""Facts read from a scene's provenance tags, defined once for crops, archive records, messages and reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The provenance tag the simulator sets on every scene it renders.
SIMULATED_TAG = "SIMULATED"


def is_simulated(provenance: Mapping[str, Any]) -> bool:
    """True when imagery came from the simulator (``SIMULATED`` tag yes/true/1): it must be labelled so
    wherever it is shown."""
    return str(provenance.get(SIMULATED_TAG, "")).lower() in {"yes", "true", "1"}
