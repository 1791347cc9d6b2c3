"""Health: the archive records each source's searches and each site's last usable scene; a run sends a
"monitor is blind" notice once, through the outbox, and a recovery notice once when it sees again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from monitor.archive import Catalogue
from monitor.archive.health import SiteHealth, SourceHealth
from monitor.archive.records import OutboxMessage
from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.pipeline import run
from monitor.pipeline.health import check_health
from monitor.pipeline.summary import RunSummary
from tests.conftest import free_port, write_config

BROKEN = '\n[[sources]]\nkind = "local"\npath = "catalog.json"\n'


def _outbox(data: Path) -> list[OutboxMessage]:
    with Catalogue(data) as cat:
        return [m for m in cat.outbox() if "blind" in m.subject or "sees again" in m.subject]


def _health_subjects(data: Path) -> list[str]:
    return [m.subject for m in _outbox(data)]


def test_a_failing_source_is_notified_once_then_its_recovery(synthetic_site: Any) -> None:
    config_path = synthetic_site(quiet=6, formations=())
    catalog = config_path.parent / "catalog.json"
    catalog.write_text("{not json")
    config_path.write_text(config_path.read_text() + BROKEN)
    config = load_config(config_path, env={})
    broken = config.sources[1].name
    data = config.data_dir

    for expected in (1, 2):
        summary = run(config)
        assert summary.errors and summary.health_changes == []
        with Catalogue(data) as cat:
            health = {h.source: h for h in cat.source_health()}
        assert health[broken].consecutive_failures == expected and health[broken].last_success is None
        assert "catalog.json" in (health[broken].last_error or "")
        assert health[config.sources[0].name].consecutive_failures == 0
    third = run(config)  # failing_runs = 3
    assert [(c.subject, c.name, c.blind) for c in third.health_changes] == [("source", broken, True)]
    assert _health_subjects(data) == [f"monitor is blind: source {broken}"]
    run(config)  # still failing: no second notice
    assert len(_health_subjects(data)) == 1

    catalog.write_text(
        '{"type": "Catalog", "id": "empty", "description": "no items", "stac_version": "1.0.0", "links": []}'
    )
    recovered = run(config)
    assert recovered.errors == [], recovered.errors
    assert [(c.subject, c.blind) for c in recovered.health_changes] == [("source", False)]
    assert _health_subjects(data)[-1] == f"monitor sees again: source {broken}"
    with Catalogue(data) as cat:
        health = {h.source: h for h in cat.source_health()}
    assert health[broken].consecutive_failures == 0 and health[broken].last_success is not None
    run(config)
    assert len(_health_subjects(data)) == 2


def test_a_site_without_usable_scenes_goes_blind_once_and_sees_again(synthetic_site: Any) -> None:
    config_path = synthetic_site(quiet=6, formations=("cloud",))
    config = load_config(config_path, env={})
    first = run(config)
    assert first.health_changes == []  # the history is old, but the monitor only started watching now
    with Catalogue(config.data_dir) as cat:
        (site,) = cat.site_health(config.alerts.min_usable_fraction)
        watched = cat.watched_since()["test-site"]
        scenes = cat.scenes("test-site")
    newest_usable = max((s for s in scenes if s.usable_fraction >= 0.3), key=lambda s: s.acquired or "")
    assert site == SiteHealth("test-site", newest_usable.scene_id, newest_usable.acquired_at)
    assert site.last_usable_acquired is not None and site.last_usable_acquired.isoformat() < max(
        s.acquired or "" for s in scenes
    )  # the cloudy one

    later = watched + timedelta(days=31)
    with Catalogue(config.data_dir) as cat:
        summary = RunSummary()
        check_health(cat, config, summary, now=later)
        assert [(c.subject, c.name, c.blind) for c in summary.health_changes] == [("site", "test-site", True)]
        assert "no usable scene for" in summary.health_changes[0].reason
        again = RunSummary()
        check_health(cat, config, again, now=later + timedelta(days=1))
        assert again.health_changes == [] and again.messages_queued == 0
    (row,) = _outbox(config.data_dir)
    msg = BytesParser(policy=policy.default).parsebytes(Path(row.path).read_bytes())
    assert msg["To"] == "analyst@example.org" and "monitor scenes --site test-site" in msg.get_content()

    clear = sorted((config_path.parent / "imagery").glob("S2_*.tif"))[0]  # a clear scene arrives, acquired later
    (clear.parent / f"S2_{later + timedelta(days=1):%Y%m%dT%H%M%S}.tif").write_bytes(clear.read_bytes())
    seeing = run(config)
    assert seeing.new_scenes == 1
    assert [(c.subject, c.blind) for c in seeing.health_changes] == [("site", False)]
    assert "usable scene S2_" in seeing.health_changes[0].reason
    assert _health_subjects(config.data_dir) == [
        "monitor is blind: site test-site",
        "monitor sees again: site test-site",
    ]


def test_a_notice_that_cannot_be_sent_is_sent_once_later(synthetic_site: Any, smtp_server: Any) -> None:
    config_path = synthetic_site(quiet=4, formations=())
    port = free_port()
    server = smtp_server("none", port=port, start=False)
    (config_path.parent / "catalog.json").write_text("{not json")
    text = config_path.read_text() + BROKEN
    text += f'\n[email]\nenabled = true\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\nsecurity = "none"\ntimeout = 5\n'
    text += "\n[health]\nfailing_runs = 1\n"
    config_path.write_text(text)
    config = load_config(config_path, env={})
    first = run(config)  # the source fails, the notice is queued, SMTP is down
    assert len(first.health_changes) == 1 and first.messages_pending >= 1
    assert [m.status for m in _outbox(config.data_dir)] == ["pending"]
    server.start()
    run(config)
    run(config)
    blind = [m for m in server.messages if b"monitor is blind" in m]
    assert len(blind) == 1
    assert [m.status for m in _outbox(config.data_dir)] == ["sent"]


def test_zero_turns_the_checks_off(synthetic_site: Any) -> None:
    config_path = synthetic_site(quiet=4, formations=())
    (config_path.parent / "catalog.json").write_text("{not json")
    config_path.write_text(config_path.read_text() + BROKEN + "\n[health]\nblind_days = 0\nfailing_runs = 0\n")
    config = load_config(config_path, env={})
    for _ in range(2):
        assert run(config).health_changes == []
    with Catalogue(config.data_dir) as cat:
        summary = RunSummary()
        check_health(cat, config, summary, now=datetime.now(UTC) + timedelta(days=400))
        assert summary.health_changes == []
        assert sorted(h.consecutive_failures for h in cat.source_health()) == [0, 2]  # still recorded


def test_records_of_an_archive_without_scenes(tmp_path: Path) -> None:
    with Catalogue(tmp_path / "data") as cat:
        assert cat.source_health() == [] and cat.site_health() == []
        cat.check_site_grid("empty-site", "EPSG:32652", (10.0, 0.0, 0.0, 0.0, -10.0, 0.0), 5, 5)
        assert cat.site_health() == [SiteHealth("empty-site", None, None)]
        at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        with cat.transaction():
            cat.record_source_run("earth-search", "cannot reach it", at)
            cat.record_source_run("earth-search", "cannot reach it again", at)
        assert cat.source_health() == [SourceHealth("earth-search", None, 2, "cannot reach it again")]
        cat.record_source_run("earth-search", None, at)  # a write outside a transaction commits on its own
        assert cat.source_health() == [SourceHealth("earth-search", at, 0, "cannot reach it again")]


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("blind_days = -1", "health.blind_days"),
        ("failing_runs = 1.5", "health.failing_runs"),
        ("days = 3", "health.days"),
    ],
)
def test_health_config_is_validated(tmp_path: Path, toml: str, key: str) -> None:
    (tmp_path / "imagery").mkdir()
    path = write_config(tmp_path, f"\n[health]\n{toml}\n")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(path, env={})


def test_health_defaults(tmp_path: Path) -> None:
    (tmp_path / "imagery").mkdir()
    config = load_config(write_config(tmp_path), env={})
    assert config.health.blind_days == 30 and config.health.failing_runs == 3


def test_turning_a_check_off_sends_no_recovery(synthetic_site: Any) -> None:
    config_path = synthetic_site(quiet=4, formations=())
    (config_path.parent / "catalog.json").write_text("{not json")
    config_path.write_text(config_path.read_text() + BROKEN + "\n[health]\nfailing_runs = 1\n")
    assert len(run(load_config(config_path, env={})).health_changes) == 1
    config_path.write_text(config_path.read_text().replace("failing_runs = 1", "failing_runs = 0"))
    assert run(load_config(config_path, env={})).health_changes == []  # still failing, but nobody asked
    assert [m.subject.split(":")[0] for m in _outbox(config_path.parent / "data")] == ["monitor is blind"]
