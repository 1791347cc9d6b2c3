"""The evidence picture and its GeoJSON: outlines inside the zone, a legend for every mark, labels that
stay clear of titles and corners, numbers that agree, the composite chosen by what changed, the GIF's
scale bar and north arrow."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from affine import Affine
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.lines import Line2D
from matplotlib.text import Text
from rasterio.crs import CRS
from shapely.geometry import Polygon, shape

from monitor.detect.formations import Detection
from monitor.render.animation import Frame, render_frame
from monitor.render.evidence import CLASS_COLOURS, ZONE_COLOUR, corner_boxes, evidence_figure, label_position
from monitor.render.geo import detections_geojson
from monitor.render.outlines import (
    PERSONNEL_BASIS,
    VEHICLE_BASIS,
    Outline,
    detection_label,
    mask_geometry,
    summary_line,
    trace,
)
from monitor.render.stretch import Composite, Difference, changed_band, choose_composite

SHAPE = (60, 80)


def _det(cls: str, row: float, col: float, region: int, area_m2: float = 1200.0, **kw: Any) -> Detection:
    fields: dict[str, Any] = dict(
        cls=cls,
        area_m2=area_m2,
        length_m=60.0,
        width_m=20.0,
        elongation=3.0,
        orientation_deg=30.0,
        extent=0.6,
        row=row,
        col=col,
        mean_change=50.0,
        visible_change=-0.02,
        ndvi_change=0.0,
        baseline_ndvi=0.1,
        region=region,
    )
    return Detection(**{**fields, **kw})


def _zone() -> np.ndarray:
    zone = np.zeros(SHAPE, bool)
    zone[10:40, 20:60] = True
    return zone


def test_a_traced_outline_follows_its_pixels_and_stays_inside_the_zone() -> None:
    zone = _zone()
    origin = (5, 15)  # the zone's box on the site grid
    footprints = np.zeros((40, 50), np.int32)
    footprints[3:8, 10 : 52 - 15] = 1  # a row of change that runs past the zone's top edge (row 10)
    det = _det("vehicle-row", row=10, col=30, region=1)
    outline = trace("z", det, zone, footprints, origin, 10.0)
    zone_shape = mask_geometry(zone)
    assert outline.traced and not outline.geometry.is_empty
    assert outline.geometry.difference(zone_shape).area == 0  # nothing sticks out of the zone
    inside = (footprints == 1) & zone[5:45, 15:65]
    assert outline.geometry.area == pytest.approx(inside.sum())  # exactly its own pixels in the zone
    minx, miny, maxx, maxy = outline.geometry.bounds
    assert miny == 10 and maxx - minx > 4 * (maxy - miny)  # a horizontal row stays a horizontal row


def test_without_labelled_pixels_the_rectangle_is_clipped_to_the_zone() -> None:
    zone = _zone()
    det = _det("vehicle-row", row=11, col=58, region=0)  # centred on the zone's corner
    outline = trace("z", det, zone, None, (0, 0), 10.0)
    assert not outline.traced
    assert outline.geometry.difference(mask_geometry(zone)).area == pytest.approx(0.0, abs=1e-9)
    assert outline.geometry.area < Polygon([(0, 0), (6, 0), (6, 2), (0, 2)]).area  # what was left inside


def test_geojson_outlines_lie_in_the_zone_and_say_their_basis() -> None:
    zone = _zone()
    footprints = np.zeros(SHAPE, np.int32)
    footprints[5:20, 25:35] = 3  # crosses the zone's top edge
    transform = Affine(10.0, 0.0, 300000.0, 0.0, -10.0, 4320000.0)
    crs = CRS.from_epsg(32652)
    outlines = [
        trace("z", _det("crowd-block", 12, 30, 3), zone, footprints, (0, 0), 10.0),
        Outline("z", _det("crowd-block", 0, 0, 9), Polygon()),  # nothing in the zone: left out
    ]
    doc = detections_geojson(outlines, transform=transform, crs=crs, properties={"zone": "z"})
    assert len(doc["features"]) == 1
    feature = doc["features"][0]
    zone_doc = detections_geojson(
        [Outline("z", _det("other", 0, 0, 1), mask_geometry(zone))], transform=transform, crs=crs, properties={}
    )
    zone_lonlat = shape(zone_doc["features"][0]["geometry"])
    outline_lonlat = shape(feature["geometry"])
    outside = outline_lonlat.difference(zone_lonlat).area / outline_lonlat.area
    assert outside < 1e-4 and outline_lonlat.exterior.is_ccw  # slivers of the 1e-7 degree rounding only
    props = feature["properties"]
    assert props["outline"] == "traced pixels" and props["estimate_basis"] == PERSONNEL_BASIS
    assert "1-2 m2" in PERSONNEL_BASIS and "60-120 m2" in VEHICLE_BASIS


def _figure(outlines: list[Outline], zone: np.ndarray | None = None, tall: bool = False) -> Any:
    zone = _zone() if zone is None else zone
    rng = np.random.default_rng(0)
    rgb = rng.uniform(0.05, 0.3, (3, *SHAPE))
    change = rng.uniform(0.0, 5.0, SHAPE)
    change[20:25, 30:40] = 100.0
    diff = Difference(rng.normal(0, 0.01, SHAPE), "B08", "near-infrared", "reflectance", 0.05)
    return evidence_figure(
        baseline_rgb=rgb,
        scene_rgb=rgb,
        difference=diff,
        change=change,
        threshold=20.0,
        zone_masks={"square": zone},
        outlines=outlines,
        window_origin=(0, 0),
        title="SIMULATED - site / square",
        subtitle="crowd score 0.90\n" + summary_line(outlines, 10.0),
        credit="Simulated imagery",
        corners="corners: top left 39.0300N 125.8400E, bottom right 39.0200N 125.8500E (WGS84)",
        resolution=10.0,
        tall=tall,
    )


def _outlines() -> list[Outline]:
    zone = _zone()
    footprints = np.zeros(SHAPE, np.int32)
    footprints[15:18, 25:28] = 1
    footprints[15:18, 31:34] = 2
    footprints[28:36, 40:56] = 3
    dets = [
        _det("crowd-block", 16, 26, 1, area_m2=900.0),
        _det("crowd-block", 16, 32, 2, area_m2=900.0),
        _det("vehicle-park", 31, 47, 3, area_m2=7000.0, extent=0.55),
        _det("vegetation", 50, 5, 0),
    ]
    return [trace("square", d, zone, footprints, (0, 0), 10.0) for d in dets]


@pytest.mark.parametrize("tall", [False, True])
def test_the_legend_names_every_colour_and_mark_drawn(tall: bool) -> None:
    fig = _figure(_outlines(), tall=tall)
    FigureCanvasAgg(fig).draw()
    legends = [leg for sub in fig.subfigs for leg in sub.legends]
    assert len(legends) == 1
    labels = [t.get_text() for t in legends[0].get_texts()]
    colours = {h.get_color() for h in legends[0].legend_handles if isinstance(h, Line2D)}
    drawn = {line.get_color() for sub in fig.subfigs for ax in sub.axes for line in ax.get_lines() if line.get_color()}
    assert drawn <= colours  # every outline colour is in the legend
    assert {ZONE_COLOUR, CLASS_COLOURS["crowd-block"], CLASS_COLOURS["vehicle-park"], "white"} <= colours
    text = " | ".join(labels)
    for words in ("zone outline", "troop-block blob", "vehicle park (footprint", "white rings", "grey: no data"):
        assert words in text
    assert "number: formation in the list" in text  # the numbers on the scene panel
    assert "vehicle row" not in text  # no entry for a mark that is not drawn


def test_numbers_agree_and_the_basis_is_on_the_picture() -> None:
    outlines = _outlines()
    park = outlines[2].detection
    label = detection_label(park, 10.0)
    assert "footprint 12,727 m2 (7,000 m2 changed)" in label  # 7,000 m2 changed at 55 % density
    heading = summary_line(outlines, 10.0)
    assert "footprint 12,727 m2" in heading and "2 troop-block blob(s) outlined = 2.9 block(s)" in heading
    blobs = [detection_label(o.detection, 10.0) for o in outlines[:2]]
    assert all("changed 900 m2 = 1.4 block(s)" in b for b in blobs)  # the labels add up to the heading
    fig = _figure(outlines)
    FigureCanvasAgg(fig).draw()
    texts = " ".join(t.get_text() for t in fig.findobj(Text))
    assert PERSONNEL_BASIS in texts and VEHICLE_BASIS in texts
    assert "corners: top left 39.0300N 125.8400E" in texts
    assert "+ 1 other changed region(s)" in texts


def test_zone_labels_stay_inside_their_panel_clear_of_titles_and_corners() -> None:
    zone = np.zeros(SHAPE, bool)
    zone[0:25, 0:30] = True  # touching the top edge: a label above it would sit on the panel title
    _, _, va, box = label_position(zone, "square", corner_boxes(SHAPE))
    assert va == "top" and box[1] >= -0.5 and box[3] <= SHAPE[0]
    fig = _figure([], zone=zone)
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    for ax in fig.subfigs[0].axes:
        if not ax.get_images():
            continue  # a colour bar
        panel = ax.get_window_extent(renderer)
        title = ax.title.get_window_extent(renderer)
        labels = [t for t in ax.texts if t.get_text() == "square"]
        assert labels
        for label in labels:
            extent = label.get_window_extent(renderer)
            assert panel.x0 - 1 <= extent.x0 and extent.x1 <= panel.x1 + 1
            assert panel.y0 - 1 <= extent.y0 and extent.y1 <= panel.y1 + 1
            assert not extent.overlaps(title)
    right = np.zeros(SHAPE, bool)
    right[2:30, 55:79] = True  # under the north arrow: the label moves below the zone
    _, _, _, box = label_position(right, "square", corner_boxes(SHAPE))
    assert not any(a[0] < box[2] and box[0] < a[2] and a[1] < box[3] and box[1] < a[3] for a in corner_boxes(SHAPE))


def test_the_composite_follows_what_changed() -> None:
    s2 = ("B02", "B03", "B04", "B08")
    assert choose_composite(["crowd-block"], s2) is Composite.TRUE_COLOUR
    assert choose_composite(["crowd-block", "vehicle-park"], s2) is Composite.FALSE_COLOUR
    assert choose_composite(["vehicle-row"], ("B02", "B03", "B04")) is Composite.TRUE_COLOUR  # no NIR band
    assert choose_composite(["vehicle-row"], ("VV", "VH")) is None  # radar: grey
    rng = np.random.default_rng(1)
    diff = rng.normal(0, 0.01, (4, 30, 30))
    where = np.zeros((30, 30), bool)
    where[10:14, 5:25] = True
    diff[3][where] += 0.05  # paint brighter than asphalt in the near-infrared
    diff[0][where] -= 0.01
    assert changed_band(diff, where) == 3


def test_the_gif_frame_has_a_scale_bar_and_a_north_arrow() -> None:
    rgb = np.full((3, 40, 60), 0.1)
    limits = (np.zeros(3), np.ones(3))
    frame = render_frame(Frame(rgb, "2025-07-01 02:00 UTC S2"), limits, {}, "credit", width=480, resolution=10.0)
    pixels = np.asarray(frame)
    top, scale = 26, 8
    picture = pixels[top : top + 40 * scale]
    white = np.all(picture > 240, axis=-1)
    h, w = white.shape
    assert white[int(h * 0.8) :, : int(w * 0.5)].sum() > 100  # the bar, bottom left
    assert white[: int(h * 0.3), int(w * 0.85) :].sum() > 20  # the arrow, top right
    assert white[int(h * 0.3) : int(h * 0.7), int(w * 0.2) : int(w * 0.8)].sum() == 0  # nothing else


def test_outlines_of_detections_moved_by_tracking_keep_their_pixels() -> None:
    zone = _zone()
    footprints = np.zeros(SHAPE, np.int32)
    footprints[15:18, 25:28] = 4
    det = replace(_det("crowd-block", 16, 26, 4), cls="persistent-change", persistence="persistent")
    outline = trace("square", det, zone, footprints, (0, 0), 10.0)
    assert outline.traced and outline.geometry.area == 9
