"""Sentinel-2 L2A scene simulator for the offline demo (``monitor demo``).

Renders a Mirim-like parade training ground on the monitor's 10 m UTM grid, date by date: procedural ground
(:mod:`.ground`), troop-block lattices and vehicle parks rendered at 1 m (:mod:`.formations`), clouds and
shadows (:mod:`.clouds`), sensor effects and SCL (:mod:`.sensor`), composed in :mod:`.scene` along a seeded
timeline (:mod:`.scenario`). Only :mod:`.writer` touches files. Every output is labelled as simulated.

Entry point: :func:`build_demo_imagery`; the config template for the demo is ``demo.toml`` in this package
(:func:`demo_config_text`, :func:`write_demo_config`).
"""

from __future__ import annotations

from .demo import (
    DEFAULT_SEED,
    DEMO_ZONES,
    SIMULATOR_VERSION,
    SITE_BBOX,
    SITE_ID,
    SITE_NAME,
    TRUTH_FILENAME,
    DemoTruth,
    DemoZone,
    TruthRecord,
    build_demo_imagery,
    layout_zones,
)
from .writer import demo_config_text, write_demo_config

__all__ = [
    "DEFAULT_SEED",
    "DEMO_ZONES",
    "SIMULATOR_VERSION",
    "SITE_BBOX",
    "SITE_ID",
    "SITE_NAME",
    "TRUTH_FILENAME",
    "DemoTruth",
    "DemoZone",
    "TruthRecord",
    "build_demo_imagery",
    "demo_config_text",
    "layout_zones",
    "write_demo_config",
]
