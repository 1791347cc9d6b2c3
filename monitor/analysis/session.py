"""The :class:`Monitor` session: one archive, read-only, as tables, rasters and plots.

Every call opens the catalogue read-only for just that call, so a notebook left open sees what later
cron runs add, and never holds a lock or writes anything.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from monitor.analysis import frames
from monitor.archive.catalogue import Catalogue
from monitor.archive.observed import simulated_scenes
from monitor.archive.records import SceneStatus
from monitor.config import AlertsConfig, Config, DetectConfig, SiteConfig, load_config
from monitor.errors import ArchiveError, ConfigError
from monitor.report.evaluate import DEFAULT_MAX_LEAD_DAYS

if TYPE_CHECKING:
    import numpy as np
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from monitor.detect.baseline import Baseline
    from monitor.detect.scoring import SceneChange
    from monitor.report.selection import Selection
    from monitor.scene import Scene

DEMO_CONFIG = "config.toml"


def open_archive(path: str | os.PathLike[str], *, data_dir: str | os.PathLike[str] | None = None) -> Monitor:
    """Open an archive for analysis.

    ``path`` is a config file (``configs/pyongyang.toml``); or a folder holding ``config.toml`` (what
    ``monitor demo --out DIR`` leaves); or a bare ``data_dir`` holding ``catalogue.sqlite`` (then site
    names and zones are unknown: :meth:`Monitor.change` scores the whole crop as one zone, ``site``).
    ``data_dir`` overrides the config's (and ``$MONITOR_DATA_DIR``, which applies to a config file as in
    the CLI). :class:`ConfigError` / :class:`ArchiveError` name what is wrong.
    """
    p = Path(path).expanduser()
    override = Path(data_dir).expanduser().resolve() if data_dir is not None else None
    if p.is_dir():
        if (p / DEMO_CONFIG).is_file():
            return Monitor(load_config(p / DEMO_CONFIG, data_dir=override, env={}))
        if (p / Catalogue.FILENAME).is_file():
            return Monitor(None, data_dir=override or p.resolve())
        raise ArchiveError(f"{p} holds neither {DEMO_CONFIG} nor an archive ({Catalogue.FILENAME})")
    # as the CLI: $MONITOR_DATA_DIR overrides the config's data_dir (never for the demo folder above)
    return Monitor(load_config(p, data_dir=override))


class Monitor:
    """An archive opened for analysis (see :func:`monitor.open`).

    Tables: :attr:`sites`, :meth:`scenes`, :meth:`scores`, :meth:`alerts` (pandas, UTC timestamps).
    Rasters: :meth:`scene`, :meth:`baseline`, :meth:`change` (xarray with CRS). Plots:
    :meth:`plot_timeline`, :meth:`show`. Ground truth: :meth:`parades`, :meth:`evaluate`.
    """

    def __init__(self, config: Config | None, *, data_dir: Path | None = None) -> None:
        if config is None and data_dir is None:
            raise ValueError("a config or a data_dir is needed")
        self.config = config
        self.data_dir = Path(data_dir) if data_dir is not None else config.data_dir  # type: ignore[union-attr]
        if not (self.data_dir / Catalogue.FILENAME).is_file():
            raise ArchiveError(f"no archive at {self.data_dir} (run `monitor run` first)")

    def __repr__(self) -> str:
        origin = self.config.path if self.config is not None else self.data_dir
        return f"<monitor.Monitor {origin} ({self.data_dir})>"

    # -- helpers ---------------------------------------------------------------------------------------
    def _catalogue(self) -> Catalogue:
        return Catalogue(self.data_dir, readonly=True)

    @property
    def detect(self) -> DetectConfig:
        """The detector settings in force (the config's, else the defaults)."""
        return self.config.detect if self.config is not None else DetectConfig()

    @property
    def alerts_config(self) -> AlertsConfig:
        """The ``[alerts]`` settings (defaults when the archive was opened without a config)."""
        return self.config.alerts if self.config is not None else AlertsConfig()

    @property
    def min_usable_fraction(self) -> float:
        """Usable share of a zone below which an observation counts as unusable (cloud), 0..1."""
        return self.alerts_config.min_usable_fraction

    def _site_config(self, site: str) -> SiteConfig | None:
        if self.config is None:
            if site not in self.site_ids():
                raise ArchiveError(f"no site {site!r} in the archive (known: {', '.join(self.site_ids()) or 'none'})")
            return None
        return self.config.site(site)

    def site_ids(self) -> list[str]:
        """Site ids: the config's, else those in the archive."""
        if self.config is not None:
            return [s.id for s in self.config.sites]
        with self._catalogue() as cat:
            return cat.site_ids()

    # -- tables ----------------------------------------------------------------------------------------
    @property
    def sites(self) -> pd.DataFrame:
        """One row per site: id, name, zone ids, pixel size (m), scene count, first/last acquisition, alerts."""
        with self._catalogue() as cat:
            stats = cat.site_stats()
        rows = []
        for site in self.site_ids():
            cfg = self.config.site(site) if self.config is not None else None
            known = stats.get(site)
            rows.append(
                {
                    "site": site,
                    "name": (cfg.name if cfg is not None else None) or site,
                    "zones": [z.id for z in cfg.zones] if cfg is not None else [],
                    "resolution_m": float(cfg.resolution) if cfg is not None else None,
                    "scenes": known.scenes if known else 0,
                    "first_acquired": known.first_acquired if known else None,
                    "last_acquired": known.last_acquired if known else None,
                    "alerts": known.alerts if known else 0,
                }
            )
        return frames.typed_frame(rows, frames.SITE_DTYPES)

    def scenes(self, site: str | None = None, status: str | None = None) -> pd.DataFrame:
        """The scene catalogue, oldest first: ``status`` ok | failed | empty, ``reason`` why not ok,
        ``usable_fraction`` of the site (0..1), ``crop`` the archived GeoTIFF, ``simulated``."""
        if site is not None:
            self._site_config(site)
        with self._catalogue() as cat:
            records = cat.scenes(site=site, status=status)
        rows = [{**r.as_dict(), "simulated": r.simulated} for r in records]
        return frames.typed_frame(rows, frames.SCENE_DTYPES)

    def _select(self, *, site: str | None = None, zone: str | None = None, status: str | None = None) -> Selection:
        """The filter checked by the rules of the CLI (:func:`monitor.report.selection.select`): a site,
        zone or status that names nothing raises :class:`ConfigError` rather than giving an empty table."""
        from monitor.report.selection import config_zones, select

        if self.config is not None:
            zones = config_zones(self.config)
        else:
            with self._catalogue() as cat:
                found = {(r.site, r.zone) for r in cat.scores()}
            zones = {s: sorted(z for site, z in found if site == s) for s in self.site_ids()}
        return select(zones, site=site, zone=zone, status=status)

    def scores(self, site: str | None = None, zone: str | None = None) -> pd.DataFrame:
        """The score table, one row per scene per zone, oldest first (the columns of ``monitor scores``).

        Added: ``detections`` (how many changed regions were classified) and ``usable`` (the observation
        was scored with at least the alerts' ``min_usable_fraction`` of the zone clear: what the alert
        engine counts; the others are cloudy or unreadable) and ``simulated`` (a scene from the simulator).
        """
        self._select(site=site, zone=zone)
        threshold = self.min_usable_fraction
        with self._catalogue() as cat:
            records = cat.scores(site=site, zone=zone)
            fake = simulated_scenes(cat, site)
        rows = [
            {
                **r.as_dict(),
                "detections": len(r.detections),
                "usable": r.compared and r.usable_fraction >= threshold,
                "simulated": (r.site, r.scene_id) in fake,
            }
            for r in records
        ]
        return frames.typed_frame(rows, frames.SCORE_DTYPES)

    def alerts(self, site: str | None = None, status: str | None = None) -> pd.DataFrame:
        """The alerts, oldest first; ``status`` firing | resolved | dismissed filters as ``monitor alerts
        --status`` does (an unknown one raises :class:`ConfigError`); ``level`` is ordered; ``simulated``:
        raised on scenes from the simulator."""
        chosen = self._select(site=site, status=status)
        with self._catalogue() as cat:
            records = cat.alerts(site=site)
            fake = simulated_scenes(cat, site)
        rows = [
            {**r.as_dict(), "n_scenes": len(r.scene_ids), "simulated": any((r.site, i) in fake for i in r.scene_ids)}
            for r in records
            if chosen.status is None or chosen.status.matches(r)
        ]
        return frames.typed_frame(rows, frames.ALERT_DTYPES)

    @staticmethod
    def parades(path: str | os.PathLike[str]) -> pd.DataFrame:
        """A parade table (``configs/parades.csv``) as a DataFrame; hard negatives have ``kind`` negative."""
        from monitor.report.truth import read_truth

        rows = [
            {
                "parade_date": e.parade_date.isoformat() if e.parade_date else None,
                "occasion": e.occasion,
                "first_reported_activity": e.first_reported_activity.isoformat() if e.first_reported_activity else None,
                "activity_precision": e.activity_precision or None,
                "confidence": e.confidence,
                "kind": e.kind,
                "reported_lead_days": e.reported_lead_days,
                "sources": list(e.sources),
                "notes": e.notes,
            }
            for e in read_truth(path)
        ]
        return frames.typed_frame(rows, frames.PARADE_DTYPES)

    def evaluate(
        self, truth: str | os.PathLike[str], site: str | None = None, max_lead_days: int = DEFAULT_MAX_LEAD_DAYS
    ) -> Any:
        """``monitor evaluate`` as an object: per parade the first alert and lead time (see
        :mod:`monitor.report.evaluate`); ``print(monitor.report.evaluate.format_text(result))`` for the table."""
        from monitor.report.evaluate import evaluate
        from monitor.report.truth import read_truth

        events = read_truth(truth)
        if site is not None:
            self._site_config(site)
        with self._catalogue() as cat:
            alerts = cat.alerts(site=site)
            days = [s.acquired for s in cat.scenes(site=site, status=SceneStatus.OK) if s.acquired]
            simulated = bool(cat.simulated_sites() & ({site} if site else set(self.site_ids())))
        return evaluate(events, alerts, days, site=site, max_lead_days=max_lead_days, simulated=simulated)

    # -- rasters ---------------------------------------------------------------------------------------
    def _scene_obj(self, site: str, scene_id: str) -> Scene:
        from monitor.archive.crops import read_crop_file

        self._site_config(site)
        with self._catalogue() as cat:
            row = cat.scene(site, scene_id)
        if row is None:
            raise ArchiveError(f"no scene {scene_id!r} of site {site!r} in the archive")
        if row.status is not SceneStatus.OK or not row.crop:
            raise ArchiveError(f"scene {scene_id!r} has no crop (status {row.status}: {row.reason or '-'})")
        return read_crop_file(Path(row.crop))

    def _baseline_obj(self, site: str, sensor: str | None, version: int | None = None) -> tuple[Baseline, Any, Any]:
        """The newest stored baseline of a site (and sensor), or its ``version``, with its transform and CRS.
        Never builds one: that is the run's job, and this session is read-only."""
        import rasterio

        from monitor.archive.baselines import read_baseline_file

        self._site_config(site)
        with self._catalogue() as cat:
            if sensor is None:
                sensor = cat.newest_baseline_sensor(site)
                if sensor is None:
                    raise ArchiveError(
                        f"site {site!r} has no baseline yet (the run builds one once it has "
                        f"{self.detect.warmup_scenes} usable scenes)"
                    )
            row = cat.baseline(site, sensor) if version is None else cat.baseline_version(site, sensor, version)
        if row is None:
            raise ArchiveError(f"site {site!r} has no {sensor} baseline{f' v{version}' if version else ''} yet")
        baseline = read_baseline_file(Path(row.path), row.scene_ids, row.version, self.detect.min_observations)
        try:
            with rasterio.open(row.path) as src:
                transform, crs = src.transform, src.crs
        except (rasterio.errors.RasterioError, OSError) as exc:
            raise ArchiveError(f"cannot read baseline {row.path}: {exc}") from exc
        return baseline, transform, crs

    def _zone_masks(self, site: str, scene: Scene) -> dict[str, np.ndarray]:
        cfg = self._site_config(site)
        if cfg is None:
            import numpy as np

            return {"site": np.ones(scene.shape, dtype=bool)}
        from monitor.grid import site_grid
        from monitor.pipeline.zones import zone_masks

        grid = site_grid(cfg)
        if grid.shape != scene.shape or tuple(grid.transform)[:6] != tuple(scene.transform)[:6]:
            raise ArchiveError(
                f"site {site!r}: the config's grid ({grid.width} x {grid.height} px) differs from the archived "
                f"crop of {scene.scene_id} ({scene.shape[1]} x {scene.shape[0]} px): the config changed since"
            )
        return zone_masks(cfg, grid)

    def scene(self, site: str, scene_id: str) -> xr.DataArray:
        """An archived scene as a ``(band, y, x)`` DataArray with CRS (see :mod:`monitor.analysis.arrays`)."""
        from monitor.analysis.arrays import scene_array

        return scene_array(self._scene_obj(site, scene_id), site)

    def baseline(self, site: str, sensor: str | None = None, version: int | None = None) -> xr.Dataset:
        """The site's newest stored baseline (of ``sensor``; default the newest of any sensor), or its
        ``version`` (a score row's ``baseline_version``), as a Dataset: ``median``, ``sigma`` (band, y, x),
        ``count``, ``valid`` (y, x)."""
        from monitor.analysis.arrays import baseline_dataset

        baseline, transform, crs = self._baseline_obj(site, sensor, version)
        return baseline_dataset(baseline, transform, crs, site)

    def _change_obj(self, site: str, scene_id: str) -> tuple[Scene, Baseline, SceneChange, dict[str, np.ndarray]]:
        from monitor.detect.scoring import score_scene

        scene = self._scene_obj(site, scene_id)
        with self._catalogue() as cat:  # the baseline the run compared the scene with, if it was scored
            version = cat.scored_baseline_version(site, scene_id)
        baseline, _, _ = self._baseline_obj(site, scene.sensor, version)
        masks = self._zone_masks(site, scene)
        detect = self.detect
        threshold = self.alerts_config.threshold
        change = score_scene(scene, baseline, masks, detect.false_alarm_rate, detect.cloud_margin_m, threshold)
        return scene, baseline, change, masks

    def change(self, site: str, scene_id: str) -> xr.Dataset:
        """A scene's change against the baseline the run compared it with (the newest if it was not
        scored), recomputed with the installed detector and the config's ``[detect]`` settings:
        ``statistic``, ``significant``, ``compared`` (y, x), and per zone ``zone_mask`` and the scores.
        (:meth:`scores` holds what the run stored at the time.)"""
        from monitor.analysis.arrays import change_dataset

        scene, baseline, change, masks = self._change_obj(site, scene_id)
        attrs = {
            "site": site,
            "scene_id": scene_id,
            "sensor": scene.sensor,
            "acquired": scene.acquired.isoformat(),
            "baseline_version": baseline.version,
            "false_alarm_rate": self.detect.false_alarm_rate,
            "simulated": int(scene.simulated),
        }
        return change_dataset(change, masks, scene.transform, scene.crs, attrs)

    # -- plots -----------------------------------------------------------------------------------------
    def plot_timeline(
        self,
        site: str,
        *,
        parades: str | os.PathLike[str] | pd.DataFrame | None = None,
        zones: list[str] | None = None,
        axes: tuple[Axes, Axes] | None = None,
    ) -> Figure:
        """Crowd and vehicle scores over time, one line per zone (see :func:`monitor.analysis.plots.timeline`)."""
        from monitor.analysis.plots import timeline

        scores = self.scores(site)
        if zones is not None:
            unknown = sorted(set(zones) - set(scores["zone"].astype(str)))
            if unknown:
                raise ConfigError(f"no scores for zone(s) {', '.join(unknown)} of site {site!r}")
            scores = scores[scores["zone"].astype(str).isin(zones)]
        table = self.parades(parades) if isinstance(parades, str | os.PathLike) else parades
        simulated = bool(self.scenes(site)["simulated"].any())
        cfg = self._site_config(site)
        threshold = self.config.alerts.threshold if self.config is not None else None
        title = f"{(cfg.name if cfg is not None else None) or site}: formation scores"
        return timeline(
            scores,
            self.alerts(site),
            table,
            title=("SIMULATED - " if simulated else "") + title,
            threshold=threshold,
            axes=axes,
        )

    def show(self, site: str, scene_id: str, *, zone: str | None = None) -> Figure:
        """Baseline / scene / change panels of a scene, like the alert evidence (whole site, or around
        ``zone``), with zones outlined and classified detections boxed."""
        from monitor.analysis.plots import panels

        scene, baseline, change, masks = self._change_obj(site, scene_id)
        if zone is not None and zone not in masks:
            raise ConfigError(f"no zone {zone!r} in site {site!r} (known: {', '.join(masks)})")
        return panels(scene, baseline, change, masks, zone=zone, site=site)
