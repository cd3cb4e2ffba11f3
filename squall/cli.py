"""The ``squall`` command (in the spirit of streamparse's ``sparse`` and Storm's ``storm``)."""

from __future__ import annotations

import json
import sys

import click

from squall.errors import SquallError
from squall.local import logs
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
def run(
    topology: str,
    workers: int | None,
    duration: float | None,
    conf: tuple[str, ...],
    log_level: str,
    stats_interval: float | None,
) -> None:
    """Run TOPOLOGY (FILE.py or FILE.py:ClassName) on worker processes on this machine.

    It runs until every spout is exhausted and every tuple processed, until --duration,
    or until Ctrl-C (spouts are deactivated and in-flight tuples drained first).
    """
    from squall.local.coordinator import Coordinator

    logs.setup(log_level)
    try:
        overrides = parse_pairs(list(conf))
        if workers is not None:
            overrides["topology.workers"] = workers
        if stats_interval is not None:
            overrides["squall.stats.interval.secs"] = stats_interval
        coord = Coordinator(topology, overrides, duration=duration, log_level=log_level)
    except SquallError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    result = coord.run()
    parts = []
    for c in result.statistics.user_components():
        text = f"{c.name}: emitted {c.emitted:,}"
        if c.kind == "spout":
            if c.acked or c.failed:
                text += f" acked {c.acked:,} failed {c.failed:,}"
        else:
            text += f" executed {c.executed:,}"
        if c.errors:
            text += f" errors {c.errors:,}"
        parts.append(text)
    summary = ", ".join(parts)
    st = result.statistics
    if st.malformed_total or st.refused_total:
        summary += f"; dropped {st.malformed_total:,} malformed message(s), refused {st.refused_total:,} connection(s)"
    click.echo(f"[squall] {result.reason} after {result.elapsed:.1f}s: {summary}", err=True)
    if result.message:
        click.echo(f"error: {result.message}", err=True)
    sys.exit(result.exit_code)


@main.command()
@click.argument("topology")
def describe(topology: str) -> None:
    """Validate TOPOLOGY and print its components, streams and groupings as JSON."""
    from squall.topology.loader import load_topology
    from squall.topology.plan import make_plan

    try:
        cls = load_topology(topology)
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
