"""A held-out scenario benchmark for issue 11, written from the physics in the issue only.

It was written without reading the detector (``monitor/detect/``, ``monitor/alerts/``) or either of the
other two injectors (``monitor/simulate/``, ``benchmarks/physics/``), so that the monitor, tuned on those,
is measured on scenes nobody tuned it on. The monitor is driven as a black box through its CLI.
See ``docs/holdout.md``.
"""
