"""The ``monitor`` click group: global options, logging, and the exit-code contract.

Exit codes: 0 success; 1 the run itself failed; 2 usage or config error; 75 another run holds the lock.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from monitor.errors import ConfigError, LockedError, MonitorError
from monitor.redact import RedactingFilter, redact

log = logging.getLogger("monitor")

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 75


class MonitorGroup(click.Group):
    """A click group that maps the monitor's errors onto exit codes, with one line on stderr, no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"monitor: config error: {redact(str(exc))}", err=True)
            ctx.exit(EXIT_USAGE)
        except LockedError as exc:
            click.echo(f"monitor: {redact(str(exc))}", err=True)
            ctx.exit(EXIT_LOCKED)
        except MonitorError as exc:
            click.echo(f"monitor: error: {redact(str(exc))}", err=True)
            ctx.exit(EXIT_FAILED)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            log.debug("unexpected error", exc_info=True)
            click.echo(f"monitor: unexpected error: {redact(repr(exc))} (run with -vv for the traceback)", err=True)
            if log.isEnabledFor(logging.DEBUG):
                import traceback

                click.echo(redact(traceback.format_exc()), err=True, nl=False)
            ctx.exit(EXIT_FAILED)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the CLI; a usage error is one line on stderr (exit 2), as every other error is."""
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.UsageError as exc:
            message = exc.format_message()
            # one hint per line: a message that already says where to look gets no --help hint as well
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx and "(see " not in message else ""
            click.echo(f"monitor: usage error: {message}{hint}", err=True)
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            click.echo(f"monitor: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("monitor: aborted", err=True)
            sys.exit(EXIT_FAILED)
        sys.exit(code if isinstance(code, int) else 0)


def _setup_logging(verbose: int, quiet: int) -> None:
    level = max(logging.DEBUG, logging.INFO - 10 * verbose + 10 * quiet)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(RedactingFilter())  # no credential, signature or token reaches the log, at any verbosity
    root = logging.getLogger("monitor")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # the libraries' own warnings (urllib3 retries quote URLs) through the same filter, not logging's last resort
    libraries = logging.StreamHandler(sys.stderr)
    libraries.setFormatter(handler.formatter)
    libraries.addFilter(RedactingFilter())
    libraries.setLevel(logging.DEBUG if verbose >= 3 else max(logging.WARNING, level))  # -vvv: theirs too
    libraries.set_name("monitor-libraries")
    top = logging.getLogger()
    if verbose >= 3:
        top.setLevel(logging.DEBUG)
    top.handlers[:] = [h for h in top.handlers if h.get_name() != "monitor-libraries"] + [libraries]


@click.group(cls=MonitorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-v", "--verbose", count=True, help="More log output on stderr (repeatable; -vvv adds the libraries' debug output)."
)
@click.option("-q", "--quiet", count=True, help="Less log output on stderr (repeatable).")
@click.version_option(package_name="monitor")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int) -> None:
    """Watch Sentinel-1/2 imagery of parade-rehearsal sites: archive, score zone by zone, alert."""
    _setup_logging(verbose, quiet)
    ctx.obj = {"verbose": verbose, "quiet": quiet}


def _register() -> None:
    from monitor.cli import alerts, check, demo, diff, evaluate, report, run, scenes, scores, sites

    for module in (run, scores, alerts, scenes, diff, demo, report, evaluate, sites, check):
        cli.add_command(module.command)


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="monitor")
