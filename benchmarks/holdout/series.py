"""Write one run's imagery folder: the real Flanders files, with the held-out zones painted into them."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from benchmarks.holdout import background, physics, render, scenario, spectra
from benchmarks.holdout.layout import PATCH_PX, ZONES, patch_center_lonlat, site_bbox, write_geojson

CLEAR_SCL = (4, 5, 6)
#: per-pixel sensor noise of Sentinel-2 L2A at these levels (reflectance, 1 sigma)
S2_NOISE = 0.003
#: date-to-date residual of atmospheric correction and BRDF on a stable surface (relative, 1 sigma)
S2_GAIN_SIGMA = 0.012
#: Sentinel-1 radiometric stability (dB, 1 sigma) and the far orbit's darker smooth surfaces (dB)
S1_GAIN_DB = 0.3
S1_FAR_ORBIT_DB = -1.0


@dataclass(frozen=True)
class RunSpec:
    """A run: its name, whether zones are painted, the seed of its episodes (0: none)."""

    name: str
    paint: bool
    seed: int
    quick: bool = False


def _paste(dst: np.ndarray, src: np.ndarray, origin: tuple[int, int]) -> tuple[slice, slice, slice, slice]:
    """Slices (dst rows, dst cols, src rows, src cols) of ``src`` placed at ``origin`` on ``dst``, clipped."""
    h, w = src.shape[-2:]
    r0, c0 = origin
    dr0, dc0 = max(0, r0), max(0, c0)
    dr1, dc1 = min(dst.shape[-2], r0 + h), min(dst.shape[-1], c0 + w)
    return slice(dr0, dr1), slice(dc0, dc1), slice(dr0 - r0, dr1 - r0), slice(dc0 - c0, dc1 - c0)


def write_config(folder: Path) -> Path:
    """The run's monitor config: one site over the patch, the held-out zones as GeoJSON outlines."""
    zdir = folder / "zones"
    zdir.mkdir(parents=True, exist_ok=True)
    lines = [
        "[monitor]",
        'data_dir = "monitor-data"',
        "",
        "[[sources]]",
        'kind = "local"',
        'path = "imagery"',
        "",
        "[[sites]]",
        'id = "holdout"',
        'name = "Held-out scenarios on the real Flanders patch"',
        f"bbox = {site_bbox()}",
    ]
    for z in ZONES:
        write_geojson(z, zdir / f"{z.id}.geojson")
        lines += [
            "",
            "  [[sites.zones]]",
            f'  id = "{z.id}"',
            f'  kind = "{z.kind}"',
            f'  geometry = "zones/{z.id}.geojson"',
        ]
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def build(spec: RunSpec, data: Path, folder: Path) -> scenario.Truth:
    """Write ``folder/imagery/{s2,s1}`` and ``folder/config.toml`` for a run; return its truth table."""
    import rasterio

    s2_dir, s1_dir = folder / "imagery" / "s2", folder / "imagery" / "s1"
    s2_dir.mkdir(parents=True, exist_ok=True)
    s1_dir.mkdir(parents=True, exist_ok=True)
    write_config(folder)
    truth = scenario.Truth()
    s2_acq = background.acquisitions(data / "s2", "S2")
    s1_acq = background.acquisitions(data / "s1", "S1")
    if spec.quick:  # every cloudy date kept only in the full mode; quick: every other date
        s2_acq, s1_acq = s2_acq[::2], s1_acq[::2]
    eps = scenario.episodes(spec.seed) if spec.paint else ()
    if not spec.paint:
        for a in s2_acq + s1_acq:
            shutil.copyfile(a.path, (s2_dir if a.sensor == "S2" else s1_dir) / a.path.name)
            for z in ZONES:
                truth.rows.append(
                    scenario.TruthRow(
                        z.id, a.path.stem, a.sensor, a.when.isoformat(), "", "", True, "", "real, unchanged"
                    )
                )
        return truth

    lon, lat = patch_center_lonlat()
    s2 = background.read_s2(data / "s2")
    index = {a.path: i for i, a in enumerate(s2.acq)}
    clear_share = [float(np.isin(s2.scl[index[a.path]], CLEAR_SCL).mean()) for a in s2_acq]
    effects = scenario.date_effects([a.when for a in s2_acq], clear_share, spec.seed)
    canvases = {z.id: render.canvas_for(z) for z in ZONES}
    for a, eff in zip(s2_acq, effects, strict=True):
        t = index[a.path]
        rng = np.random.default_rng([spec.seed, t, 2])
        sun = physics.sun_position(a.when, lat, lon)
        real, ground = s2.refl[t], s2.ground[t]
        paint_all = np.zeros_like(ground)
        cover_all = np.zeros((PATCH_PX, PATCH_PX))
        changed = np.zeros((PATCH_PX, PATCH_PX), dtype=bool)
        gain = 1.0 + S2_GAIN_SIGMA * rng.standard_normal() + 0.004 * rng.standard_normal(4)
        # a zone never moves against the fields around it (the real background carries the real
        # geolocation jitter, and the misregistration confounder shifts the whole scene); the formations'
        # sub-pixel phase comes from their positions, drawn in metres at 0.5 m
        geo_jitter = (0.0, 0.0)
        for z in ZONES:
            cv = canvases[z.id]
            ep = scenario.active(eps, z.id, a.when)
            boxes, detail = scenario.formation_boxes(ep, cv, a.when, spec.seed) if ep else ([], "")
            conf, cnote = scenario.confounder_boxes(z, cv, a.when, sun)
            gs = scenario.ground_state(z, a.when, eff.wet)
            paint, cover = render.render_s2(cv, gs, boxes + conf, sun, geo_jitter, rng)
            rs, cs, sr, sc = _paste(paint_all, cover, cv.origin)
            cov = cover[sr, sc]
            # zones painted one over another where their fringes meet
            paint_all[:, rs, cs] = (1 - cov)[None] * paint_all[:, rs, cs] + paint[:, sr, sc] * gain[:, None, None]
            cover_all[rs, cs] = 1 - (1 - cover_all[rs, cs]) * (1 - cov)
            changed[rs, cs] |= cov > 1e-4
            visible = True
            if boxes:
                # the formation counts as seen when most of its pixels are SCL-clear: one hidden under a
                # cloud is in the truth table but is neither a positive nor a negative
                fp = render.footprint(cv, boxes)[sr, sc]
                share = float(np.isin(s2.scl[t][rs, cs][fp], CLEAR_SCL).mean()) if fp.any() else 0.0
                visible = share >= 0.5
                detail += f", {share:.0%} of its pixels SCL-clear"
            notes = " ".join(x for x in (cnote, eff.note(), f"sun {sun.elevation_deg:.0f} deg") if x)
            truth.rows.append(
                scenario.TruthRow(
                    z.id,
                    a.path.stem,
                    "S2",
                    a.when.isoformat(),
                    ep.kind if ep else "",
                    ep.id if ep else "",
                    visible,
                    detail,
                    notes,
                )
            )
        out = background.carry_atmosphere(real, ground, paint_all, cover_all, s2.scl[t], s2.gap_days[t])
        out = np.where(changed[None], out + S2_NOISE * rng.standard_normal(out.shape), real)
        if eff.haze:
            path, trans = spectra.haze_path(eff.haze)
            out = out * trans[:, None, None] + path[:, None, None]
        scl = s2.scl[t]
        if eff.shift != (0.0, 0.0):
            out = ndimage.shift(out, (0.0, *eff.shift), order=1, mode="nearest")
            scl = ndimage.shift(scl, eff.shift, order=0, mode="nearest")
        dn = np.clip(np.round(out * 1e4), 1, 65535).astype("uint16")
        with rasterio.open(a.path) as src:
            profile, tags, desc = src.profile, src.tags(), src.descriptions
        with rasterio.open(s2_dir / a.path.name, "w", **profile) as dst:
            dst.write(np.concatenate([dn, scl[None].astype("uint16")]))
            dst.descriptions = desc
            dst.update_tags(**tags)

    looks = s1_looks(s1_acq)
    s1_canvases = {z.id: render.s1_canvas_for(z) for z in ZONES}
    for i, a in enumerate(s1_acq):
        rng = np.random.default_rng([spec.seed, i, 1])
        sun = physics.sun_position(a.when, lat, lon)
        with rasterio.open(a.path) as src:
            real = src.read().astype(float)
            profile, tags, desc = src.profile, src.tags(), src.descriptions
        out = real.copy()
        far = a.when.hour * 60 + a.when.minute >= 17 * 60 + 36
        gain_db = S1_GAIN_DB * rng.standard_normal() + (S1_FAR_ORBIT_DB if far else 0.0)
        for z in ZONES:
            cv = s1_canvases[z.id]
            ep = scenario.active(eps, z.id, a.when)
            boxes, detail = scenario.formation_boxes(ep, cv, a.when, spec.seed) if ep else ([], "")
            conf, cnote = scenario.confounder_boxes(z, cv, a.when, sun)
            gs = scenario.ground_state(z, a.when, False)
            sig, cover = render.render_s1(cv, gs, boxes + conf)
            sig = sig * float(physics.db_to_linear(gain_db)) * physics.speckle(sig.shape, looks, rng)
            o = (cv.origin[0] // 2, cv.origin[1] // 2)
            rs, cs, sr, sc = _paste(out, cover, o)
            cov = cover[sr, sc]
            out[:, rs, cs] = (1 - cov)[None] * out[:, rs, cs] + sig[:, sr, sc]
            observable = ep is not None and ep.kind == "vehicle"
            truth.rows.append(
                scenario.TruthRow(
                    z.id,
                    a.path.stem,
                    "S1",
                    a.when.isoformat(),
                    ep.kind if ep else "",
                    ep.id if ep else "",
                    observable or ep is None,
                    detail,
                    " ".join(x for x in (cnote, "far orbit" if far else "near orbit") if x),
                )
            )
        with rasterio.open(s1_dir / a.path.name, "w", **profile) as dst:
            dst.write(out.astype("float32"))
            dst.descriptions = desc
            dst.update_tags(**tags)
    return truth


def s1_looks(acq: list[background.Acquisition]) -> float:
    """Equivalent number of looks of the real Sentinel-1 series (VV), median over its dates."""
    import rasterio

    values = []
    for a in acq[:: max(1, len(acq) // 20)]:
        with rasterio.open(a.path) as src:
            values.append(physics.equivalent_looks(src.read(1).astype(float)))
    return float(np.median(values))
