"""An independent, physics-first injector of paved zones and formations into real Sentinel series.

Written from the physics in issue 11 only (not from ``monitor.simulate`` or ``monitor.detect``), so that
the monitor can be checked against imagery it was not developed on. ``docs/physics-injection.md`` gives
every constant's source. Modules: ``sun`` (solar position), ``materials`` (reflectance spectra),
``render`` (1 m scenes, shadows, Sentinel-2 PSF), ``atmosphere`` (each real date's haze, clouds and
shadows carried onto the pavement), ``radar`` (Sentinel-1 parks and speckle), ``scenario`` (zones,
episodes, confounders), ``metrics`` (ROC-AUC, false alerts, delays).
"""
