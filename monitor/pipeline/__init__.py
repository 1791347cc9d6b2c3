"""One incremental, idempotent monitor run: discover, fetch, score, alert, render, notify.

The pipeline calls the stages (``sources``, ``archive``, ``detect``, ``alerts``, ``render``, ``notify``)
and owns the order of work and the transactions; the stages never call each other's I/O. ``context``
(what a site is during a run), ``tasks`` (the work of one scene: plain inputs, no database), ``writer``
(the one process that commits results, in time order), ``executors`` (tasks in process or on Dask); one
module per step: ``ingest`` (fetch and archive crops), ``baselines``, ``score`` (score and alert),
``evidence`` (pictures), ``notify`` (the outbox), ``run`` (the order of it all), ``backfill`` (history on
Dask).
"""

from monitor.pipeline.run import run
from monitor.pipeline.summary import RunSummary
from monitor.pipeline.zones import SITE_ZONE, zone_kinds, zone_masks

__all__ = ["SITE_ZONE", "RunSummary", "run", "zone_kinds", "zone_masks"]
