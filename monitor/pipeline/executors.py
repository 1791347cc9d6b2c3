"""Where scene tasks run: in this process (``monitor run``, or ``monitor backfill`` without Dask), or on
Dask workers (a ``LocalCluster`` of N worker processes, or an existing cluster at a scheduler address).

The pipeline talks to either through the same three calls: :meth:`Executor.scatter` (a value many tasks
share: the site context, a baseline), :meth:`Executor.submit` (a task; returns a handle whose
``result()`` gives its return value or raises) and :meth:`Executor.close`. The in-process executor
computes a task when its result is first asked for, so the writer's look-ahead costs nothing when
there is nothing to run it on.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from monitor.errors import ConfigError

log = logging.getLogger(__name__)

#: What to install for the parallel backfill.
DASK_HINT = "pip install 'monitor[dask]'"


class Handle(Protocol):
    """A submitted task."""

    def result(self) -> Any:
        """The task's return value (computed or fetched as needed); raises what the task raised, or why it
        could not run (a lost worker)."""
        ...

    def cancel(self) -> Any:
        """Drop the task if it has not run yet."""
        ...


class Executor(Protocol):
    """Runs scene tasks (see the module docstring)."""

    #: How many tasks run at once.
    workers: int

    def scatter(self, value: Any) -> Any:
        """A handle to ``value`` to pass to tasks instead of the value (sent to the workers once)."""
        ...

    def submit(self, fn: Callable[..., Any], *args: Any) -> Handle:
        """Run ``fn(*args)``."""
        ...

    def close(self) -> None:
        """Release the workers."""
        ...


@dataclass
class _Deferred:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    _done: bool = False
    _value: Any = None
    _error: BaseException | None = None

    def result(self) -> Any:
        if not self._done:
            try:
                self._value = self.fn(*self.args)
            except Exception as exc:
                self._error = exc
            self._done = True
            self.args = ()  # let the inputs go
        if self._error is not None:
            raise self._error
        return self._value

    def cancel(self) -> None:
        self._done, self.args = True, ()


@dataclass
class InlineExecutor:
    """Tasks run in this process, one at a time, when their result is asked for."""

    workers: int = 1

    def scatter(self, value: Any) -> Any:
        return value

    def submit(self, fn: Callable[..., Any], *args: Any) -> Handle:
        return _Deferred(fn, args)

    def close(self) -> None:
        pass


@dataclass
class DaskExecutor:
    """Tasks run on a Dask cluster through ``client``; ``cluster`` is the LocalCluster we started (None for
    an existing cluster, which is left running)."""

    client: Any
    cluster: Any = None
    workers: int = 1

    def scatter(self, value: Any) -> Any:
        # on every worker (broadcast): tasks that need it are not all drawn to the one worker holding it;
        # the data stays on the cluster while the caller holds the future (a baseline: while it is in use)
        return self.client.scatter(value, hash=False, broadcast=True)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Handle:
        return self.client.submit(fn, *args, pure=False)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def dask_available() -> bool:
    """True when ``dask.distributed`` is installed (the ``dask`` extra)."""
    return importlib.util.find_spec("distributed") is not None


def open_executor(workers: int | None, scheduler: str | None, *, processes: bool = True) -> Executor:
    """The executor for a backfill: the Dask cluster at ``scheduler`` (``tcp://host:8786``), else a
    ``LocalCluster`` of ``workers`` single-threaded worker processes (threads with ``processes=False``);
    without Dask installed, this process (one line says so). :class:`ConfigError` if a scheduler is asked
    for without Dask, or cannot be reached."""
    if not dask_available():
        if scheduler is not None:
            raise ConfigError(f"--scheduler needs Dask: {DASK_HINT}")
        log.warning("dask is not installed (%s): backfilling in this process, one scene at a time", DASK_HINT)
        return InlineExecutor()
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="5s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        n = max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info().get("workers", {}).values()))
        log.info("backfill on the Dask cluster at %s (%d worker thread(s))", scheduler, n)
        return DaskExecutor(client, None, n)
    n = max(1, workers or 1)
    # TCP on the loopback only, for worker threads too (their in-process transport would look up this
    # machine's address by opening a socket towards a public one)
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=processes,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.WARNING,
    )
    log.info("backfill on a local Dask cluster of %d worker %s", n, "process(es)" if processes else "thread(s)")
    return DaskExecutor(Client(cluster), cluster, n)
