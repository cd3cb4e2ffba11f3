"""The ``squall`` command (in the spirit of streamparse's ``sparse`` and Storm's ``storm``)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from squall.errors import ConfigError, SquallError
from squall.local import logs, status
from squall.topology.config import parse_pairs


@click.group()
@click.version_option(package_name="squall")
def main() -> None:
    """Squall: real-time stream processing in the Storm model, in Python."""


@main.command()
@click.argument("topology")
@click.option("--workers", "-w", type=int, default=None, help="Worker processes (default: one per CPU core).")
@click.option("--duration", "-d", type=float, default=None, help="Stop after this many seconds.")
@click.option("--conf", "-c", "conf", multiple=True, help="Config override key=value (Storm names), repeatable.")
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.option("--stats-interval", type=float, default=None, help="Seconds between status lines (default 5).")
@click.option(
    "--fail-on-errors",
    is_flag=True,
    help="Exit 3 if a run that completed or stopped had errors, gave up messages or left tuples in flight.",
)
@click.option(
    "--ui-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port of the web UI and REST API (default 8080, or the next free one; 0: any free port).",
)
@click.option("--ui-host", default=None, help="Address the UI listens on (default 127.0.0.1: this machine only).")
@click.option("--no-ui", is_flag=True, help="Start no web UI (nor REST API, nor /metrics).")
def run(
    topology: str,
    workers: int | None,
    duration: float | None,
    conf: tuple[str, ...],
    log_level: str,
    stats_interval: float | None,
    fail_on_errors: bool,
    ui_port: int | None,
    ui_host: str | None,
    no_ui: bool,
) -> None:
    """Run TOPOLOGY (FILE.py or FILE.py:ClassName) on worker processes on this machine.

    It runs until every spout is exhausted and every tuple processed, until --duration,
    or until Ctrl-C (spouts are deactivated and in-flight tuples drained first).

    Exit status: 0 completed or stopped; 1 failed (a worker could not start, or died with
    restarts off); 2 refused (invalid topology, config or option); 3 with --fail-on-errors, a
    run with errors, given-up messages or tuples left in flight; 130 killed by a second Ctrl-C.

    The web UI and REST API (Storm UI's) are served on http://127.0.0.1:8080 (the next free port
    when taken), printed at start with the token POST actions (activate, deactivate, kill) need;
    `squall list` finds the run from another terminal.
    """
    from squall.local.coordinator import Coordinator
    from squall.local.result import EXIT_PROBLEMS

    logs.setup(log_level)
    try:
        if duration is not None and duration < 0:
            raise ConfigError(f"--duration {duration:g}: expected a non-negative number of seconds")
        overrides = parse_pairs(list(conf))
        if workers is not None:
            overrides["topology.workers"] = workers
        if stats_interval is not None:
            overrides["squall.stats.interval.secs"] = stats_interval
        coord = Coordinator(topology, overrides, duration=duration, log_level=log_level)
    except SquallError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    logs.setup(log_level, coord.settings.log_collapse_secs)
    ui = None if no_ui else _start_ui(coord, ui_host, ui_port)
    try:
        result = coord.run()
    finally:
        if ui is not None:
            ui.stop()
    for line in status.summary(result.statistics):
        click.echo(line, err=True)
    st = result.statistics
    if st.malformed_total or st.refused_total:
        click.echo(
            f"[squall] dropped {st.malformed_total:,} malformed message(s), refused {st.refused_total:,} connection(s)",
            err=True,
        )
    code = result.exit_code
    problems = result.problems() if fail_on_errors and code == 0 else []
    if problems:
        click.echo(f"[squall] failing the run (--fail-on-errors): {'; '.join(problems)}", err=True)
        code = EXIT_PROBLEMS
    sys.exit(code)


def _start_ui(coord: Any, host: str | None, port: int | None) -> Any:
    """Start the run's UI, print where it is, register the run (unregistered at exit); exit 2 if it cannot."""
    import atexit
    import os
    import time

    from squall.ui import registry
    from squall.ui.server import is_loopback, serve_run

    try:
        ui = serve_run(coord, host, port)
    except SquallError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if not is_loopback(ui.host):
        click.echo(
            f"[squall] warning: the UI listens on {ui.host}: whoever reaches this machine can read the topology's "
            "statistics, config and logs (actions still need the token)",
            err=True,
        )
    click.echo(f"[squall] UI: {ui.url}  (token for POST actions: {ui.token})", err=True)
    name = str(coord.conf.get("topology.name"))
    entry = registry.Entry(ui.topology_id, name, os.getpid(), ui.url, ui.token, time.time())
    try:
        registry.register(entry)
    except OSError as exc:
        click.echo(f"[squall] warning: could not register the run for `squall list` ({exc})", err=True)
    else:
        atexit.register(registry.unregister, entry)
    return ui


@main.command()
@click.argument("topology")
def describe(topology: str) -> None:
    """Validate TOPOLOGY and print its components, streams and groupings as JSON."""
    from squall.topology.config import topology_conf
    from squall.topology.loader import load_topology
    from squall.topology.plan import make_plan

    logs.setup("INFO")
    try:
        cls = load_topology(topology)
        topology_conf(cls.config, None, cls.components.values())  # type errors refused, unknown keys warned
    except SquallError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    info = cls.describe()
    import os

    workers = cls.config.get("topology.workers") or os.cpu_count() or 1
    info["plan"] = make_plan(cls.components, workers, cls.config.get("topology.acker.executors")).to_dict()
    click.echo(json.dumps(info, indent=2, default=str))


if __name__ == "__main__":
    main()
