"""Detection stages: pure numpy / scikit-image functions, no I/O.

``baseline`` builds per-pixel robust statistics, ``change`` turns a scene into a per-pixel change
statistic against them, ``formations`` finds and classifies changed regions, ``scoring`` puts the
three together per zone. See ``docs/detection.md`` for the reasoning and the limits of this first cut.
"""
