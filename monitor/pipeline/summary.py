"""What one run did."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.alerts import AlertChange


@dataclass(frozen=True)
class SearchOutcome:
    """One search of one source for one site in this run: ``error`` is None when it succeeded."""

    source: str
    site: str
    error: str | None = None


@dataclass(frozen=True)
class HealthChange:
    """A site or source that went blind, or sees again, in this run (and was notified)."""

    subject: str  # "site" | "source"
    name: str
    blind: bool
    reason: str


@dataclass
class RunSummary:
    """Counts of one run's work; ``errors`` lists what made it fail (exit 1) without stopping it."""

    new_scenes: int = 0
    failed_scenes: int = 0
    empty_scenes: int = 0
    scored_scenes: int = 0
    baselines_built: int = 0
    rescored_scenes: int = 0
    alert_changes: list[AlertChange] = field(default_factory=list)
    messages_queued: int = 0
    messages_delivered: int = 0
    messages_pending: int = 0
    errors: list[str] = field(default_factory=list)
    #: the archive's sites hold simulated scenes (``monitor demo``): every line printed says SIMULATED
    simulated: bool = False
    #: the ``errors`` that no log line said (an unreachable source: one line each, printed by the CLI even with -q)
    unlogged: list[str] = field(default_factory=list)
    searches: list[SearchOutcome] = field(default_factory=list)
    health_changes: list[HealthChange] = field(default_factory=list)
    #: the run's deadline passed: ``deferred_scenes`` found but left for the next run
    deadline_reached: bool = False
    deferred_scenes: int = 0

    @property
    def changed(self) -> bool:
        """True when the run wrote anything to the archive."""
        return bool(
            self.new_scenes
            or self.failed_scenes
            or self.empty_scenes
            or self.scored_scenes
            or self.baselines_built
            or self.rescored_scenes
            or self.alert_changes
            or self.messages_queued
            or self.messages_delivered
        )
