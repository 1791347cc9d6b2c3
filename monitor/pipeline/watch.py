"""``monitor watch``: passes in a loop, for users without cron, stopped cleanly between passes by a signal.

A pass starts every ``every`` (fixed rate: start times ``t0, t0 + every, ...``); a pass that runs longer
than the interval makes the next one wait for the next start time, never start twice in a row. The first
SIGINT or SIGTERM lets the running pass finish (so nothing is left half-done) and ends the loop; a second
one aborts the pass (:class:`KeyboardInterrupt`: its open transaction rolls back and the next run goes
on where it stopped).
"""

from __future__ import annotations

import enum
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import FrameType

from monitor.errors import ConfigError, LockedError, MonitorError
from monitor.pipeline.summary import RunSummary

log = logging.getLogger(__name__)


class PassOutcome(enum.Enum):
    """How one pass of the loop ended."""

    OK = "ok"
    FAILED = "failed"  # logged; the loop goes on
    SKIPPED = "skipped"  # another run held the lock


class StopRequest:
    """The loop's stop flag: the first signal sets it, a second one aborts (raises KeyboardInterrupt)."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.event.is_set():
            log.warning("%s again: aborting the pass", name)
            raise KeyboardInterrupt
        log.warning("%s: stopping after this pass (send it again to abort the pass)", name)
        self.event.set()

    def is_set(self) -> bool:
        """True once a stop was asked for."""
        return self.event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, woken early by a stop; True if stopped."""
        return self.event.wait(max(0.0, seconds))


@contextmanager
def stop_on_signals(signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[StopRequest]:
    """Handle ``signals`` with a :class:`StopRequest` for the duration (main thread only), then restore."""
    stop = StopRequest()
    previous = {s: signal.signal(s, stop) for s in signals}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def one_pass(run_pass: Callable[[], RunSummary], report: Callable[[RunSummary], None]) -> PassOutcome:
    """Run one pass; a failure is logged and returned, never raised (except a config error, which every
    later pass would meet too, and an abort)."""
    try:
        summary = run_pass()
    except LockedError as exc:
        log.warning("pass skipped: %s", exc)
        return PassOutcome.SKIPPED
    except ConfigError:
        raise
    except MonitorError as exc:
        log.error("pass failed: %s", exc)
        return PassOutcome.FAILED
    except Exception as exc:  # a bug in one pass must not end an unattended loop
        log.error("pass failed: unexpected error: %r", exc)
        log.debug("traceback", exc_info=True)
        return PassOutcome.FAILED
    report(summary)
    return PassOutcome.FAILED if summary.errors else PassOutcome.OK


def next_start(previous: float, every: float, now: float) -> float:
    """The first start time ``previous + k * every`` (k >= 1) that is not in the past (monotonic seconds)."""
    start = previous + every
    if start < now:
        missed = int((now - start) // every) + 1
        log.warning("the pass took longer than the interval; %d start(s) skipped", missed)
        start += missed * every
    return start


def watch(
    run_pass: Callable[[], RunSummary],
    every: timedelta,
    stop: StopRequest,
    *,
    report: Callable[[RunSummary], None] = lambda summary: None,
    clock: Callable[[], float] = time.monotonic,
) -> list[PassOutcome]:
    """Run passes every ``every`` until ``stop`` is set; returns what each pass did (the CLI exits 0)."""
    outcomes: list[PassOutcome] = []
    interval = every.total_seconds()
    start = clock()
    while not stop.is_set():
        outcomes.append(one_pass(run_pass, report))
        if stop.is_set():
            break
        start = next_start(start, interval, clock())
        at = datetime.now(UTC) + timedelta(seconds=start - clock())
        log.info("next pass at %s UTC", at.strftime("%Y-%m-%d %H:%M:%S"))
        if stop.wait(start - clock()):
            break
    log.info("watch stopped after %d pass(es)", len(outcomes))
    return outcomes
