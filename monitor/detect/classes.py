"""The classes a changed region is given (``detect.formations.classify``), as stored in the score
table's ``detections`` and drawn in the evidence. Str-valued: ``DetectionClass.CROWD_BLOCK ==
"crowd-block"`` and JSON holds the plain text."""

from __future__ import annotations

from enum import StrEnum


class DetectionClass(StrEnum):
    """What a changed region looks like: a block of troops, a row or park of vehicles, a bright radar
    target, change that has persisted for months (construction, not a rehearsal), vegetation, the shadow
    of a cloud SCL left clear (``detect.clouds``), other."""

    CROWD_BLOCK = "crowd-block"
    VEHICLE_ROW = "vehicle-row"
    VEHICLE_PARK = "vehicle-park"
    BRIGHT_TARGET = "bright-target"
    PERSISTENT_CHANGE = "persistent-change"
    VEGETATION = "vegetation"
    CLOUD_SHADOW = "cloud-shadow"
    OTHER = "other"


#: The classes that make a formation (scored, tracked and boxed in the evidence).
FORMATION_CLASSES = (DetectionClass.CROWD_BLOCK, DetectionClass.VEHICLE_ROW, DetectionClass.VEHICLE_PARK)
#: Vehicle formations.
VEHICLE_CLASSES = (DetectionClass.VEHICLE_ROW, DetectionClass.VEHICLE_PARK)
