"""The health step of a run: record how each source's searches went, then tell the analysts, once, when
the monitor has gone blind (a site without a usable scene for ``health.blind_days``, a source failing
``health.failing_runs`` runs in a row) and, once, when it sees again.

A notice and the record that it was sent commit in one transaction with its outbox row, so it is
queued once; the outbox delivers it once and retries while SMTP fails (the run's notify step).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from monitor.archive.catalogue import Catalogue
from monitor.archive.health import HealthNotice, SiteHealth, SourceHealth, Subject
from monitor.config import Config
from monitor.pipeline.summary import HealthChange, RunSummary, SearchOutcome

log = logging.getLogger(__name__)


def record_searches(catalogue: Catalogue, searches: Sequence[SearchOutcome], now: datetime) -> None:
    """One run's outcome per source: failed when any of its searches failed (the first error is kept)."""
    errors: dict[str, str | None] = {}
    for s in searches:
        if errors.get(s.source) is None:
            errors[s.source] = None if s.error is None else f"site {s.site}: {s.error}"
    with catalogue.transaction():
        for source, error in errors.items():
            catalogue.record_source_run(source, error, now)


def site_blindness(config: Config, site: SiteHealth, watched: datetime | None, now: datetime) -> str | None:
    """Why a site counts as blind now, or None: no usable scene for ``blind_days`` since the later of its
    newest usable acquisition and the first run that watched it (history before that is no blindness)."""
    if config.health.blind_days <= 0:
        return None
    seen = site.last_usable_acquired
    start = max(t for t in (seen, watched) if t is not None) if (seen or watched) else None
    if start is None or now - start < timedelta(days=config.health.blind_days):
        return None
    days = (now - start).days
    if seen is None:
        return f"no usable scene in the {days} days it has been watched"
    return f"no usable scene for {days} days: the newest is {site.last_usable_scene}, acquired {seen:%Y-%m-%d}"


def source_blindness(config: Config, source: SourceHealth) -> str | None:
    """Why a source counts as failing now, or None."""
    runs = config.health.failing_runs
    if runs <= 0 or source.consecutive_failures < runs:
        return None
    since = f"; last success {source.last_success:%Y-%m-%d %H:%M} UTC" if source.last_success else "; never searched"
    return f"{source.consecutive_failures} runs in a row failed{since}; last error: {source.last_error}"


def current_state(catalogue: Catalogue, config: Config, now: datetime) -> dict[tuple[Subject, str], str | None]:
    """Every configured site and searched source: the reason it is blind, or None when it sees."""
    state: dict[tuple[Subject, str], str | None] = {}
    sites = {s.site: s for s in catalogue.site_health(config.alerts.min_usable_fraction)}
    watched = catalogue.watched_since()
    for site in config.sites if config.health.blind_days > 0 else ():  # a check turned off says nothing
        if site.id in sites:
            state[("site", site.id)] = site_blindness(config, sites[site.id], watched.get(site.id), now)
    configured = {s.name for s in config.sources}
    for source in catalogue.source_health() if config.health.failing_runs > 0 else ():
        if source.source in configured:
            state[("source", source.source)] = source_blindness(config, source)
    return state


def _recovery(subject: str, name: str, catalogue: Catalogue, config: Config) -> str:
    if subject == "site":
        seen = {s.site: s for s in catalogue.site_health(config.alerts.min_usable_fraction)}[name]
        if seen.last_usable_acquired is None:  # blind_days was raised: not blind by the new setting
            return f"no usable scene yet, but not blind for {config.health.blind_days:g} days"
        return f"usable scene {seen.last_usable_scene}, acquired {seen.last_usable_acquired:%Y-%m-%d}"
    return "its searches succeed again"


def check_health(catalogue: Catalogue, config: Config, summary: RunSummary, now: datetime | None = None) -> None:
    """Record this run's searches and queue one notice per recipient list for every site or source that
    went blind or sees again since its last notice (``summary.health_changes``)."""
    from monitor.notify.health import health_message
    from monitor.notify.outbox import enqueue

    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    if summary.searches:
        record_searches(catalogue, summary.searches, now)
    standing = {(n.subject, n.name): n for n in catalogue.health_notices()}
    changes: list[HealthNotice] = []
    for (subject, name), reason in current_state(catalogue, config, now).items():
        before = standing.get((subject, name))
        was_blind = before is not None and before.blind
        if reason is not None:
            log.warning("%s %s: monitor is blind: %s", subject, name, reason)
        if (reason is not None) != was_blind:
            text = reason if reason is not None else _recovery(subject, name, catalogue, config)
            changes.append(HealthNotice(subject, name, reason is not None, text, now))
    if not changes:
        return
    sites = {s.id: s for s in config.sites}
    groups: dict[tuple[str, ...], list[HealthNotice]] = {}
    for notice in changes:
        site = sites.get(notice.name) if notice.subject == "site" else None
        recipients = tuple((site.recipients if site is not None else None) or config.email.recipients)
        groups.setdefault(recipients, []).append(notice)
    for recipients, notices in groups.items():
        msg = health_message(notices, sender=config.email.sender, recipients=recipients)

        def mark(notices: list[HealthNotice] = notices) -> None:
            for notice in notices:
                catalogue.set_health_notice(notice)

        enqueue(catalogue, msg, config.data_dir / "outbox", then=mark)
        summary.messages_queued += 1
        for n in notices:
            summary.health_changes.append(HealthChange(n.subject, n.name, n.blind, n.reason))
            if not n.blind:
                log.warning("%s %s: monitor sees again: %s", n.subject, n.name, n.reason)
