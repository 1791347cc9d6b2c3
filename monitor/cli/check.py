"""``monitor check``: every configured source, the SMTP server, the webhooks and data_dir, one line each."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.options import config_option


@click.command("check")
@config_option
@click.option(
    "--send-test-email",
    is_flag=True,
    default=False,
    help="Also send a short test message to [email] recipients (needs [email] enabled = true).",
)
@click.pass_context
def command(ctx: click.Context, config_path: Path | None, send_test_email: bool) -> None:
    """Check that each source answers a search with the credentials given, that the SMTP server is
    reachable with TLS and login as configured, that each webhook's host is reachable, and that data_dir
    is writable. One line per check on stdout; exit 0 when all pass, 1 otherwise. Changes nothing."""
    from monitor.config import load_config
    from monitor.pipeline.check import run_checks

    config = load_config(config_path)
    results = run_checks(config, send_test_email=send_test_email)
    for result in results:
        click.echo(result.line())
    failed = sum(1 for r in results if not r.ok)
    click.echo(f"{len(results) - failed} of {len(results)} check(s) passed", err=True)
    if failed:
        ctx.exit(1)
