"""The ``squall`` command (in the spirit of streamparse's ``sparse`` and Storm's ``storm``)."""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import click

from squall.errors import ConfigError, SquallError
from squall.local import logs, status
from squall.topology.config import parse_pairs
from squall.ui.registry import Entry

if TYPE_CHECKING:
    from squall.ui.client import Client


@click.group()
@click.version_option(package_name="squall")
def main() -> None:
    """Squall: real-time stream processing in the Storm model, in Python."""


def _project_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """streamparse's ``--config`` and ``-e/--environment`` (see squall/local/project.py)."""
    f = click.option(
        "--environment",
        "-e",
        "env_name",
        default=None,
        help="An environment of the project's config.json (streamparse's -e): its \"options\" are Storm config.",
    )(f)
    return click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False),
        default=None,
        help="The project's config.json (default: ./config.json, as sparse).",
    )(f)


def _topology_args(f: Callable[..., Any]) -> Callable[..., Any]:
    """TOPOLOGY as an argument or as streamparse's ``-n/--name``, plus the project options."""
    f = _project_options(f)
    f = click.option(
        "-n", "--name", "name_opt", default=None, help="The topology (as TOPOLOGY: sparse's -n NAME in a project)."
    )(f)
    return click.argument("topology", required=False)(f)


def _find_project(config_file: str | None) -> Any:
    """The streamparse project of ./config.json (or --config), its src/ and root put on sys.path."""
    from squall.local.project import find_project

    project = find_project(config_file=config_file)
    if project is not None:
        for entry in reversed(project.path_entries()):
            if entry not in sys.path:
                sys.path.insert(0, entry)
    return project


def _resolve(
    topology: str | None, name_opt: str | None, config_file: str | None, env_name: str | None
) -> tuple[Any, Any, str | None]:
    """(Resolved, Project or None, environment) for a topology given as TOPOLOGY or -n (squall/local/project.py)."""
    from squall.local.project import existing_file, resolve

    if topology and name_opt and topology != name_opt:
        raise click.UsageError(f"two topologies given ({topology!r} and -n {name_opt!r}): give one")
    ref = topology or name_opt
    try:
        project = _find_project(config_file)
        env = _select_env(project, env_name)
    except ConfigError:
        # a ./config.json that is not a usable streamparse one does not stand in the way of a file
        if config_file is not None or ref is None or existing_file(ref) is None:
            raise
        project, env = None, _select_env(None, env_name)
    return resolve(ref, project), project, env


TOPOLOGY_HELP = """
    TOPOLOGY (or -n TOPOLOGY), first match wins: an existing file (FILE.py, FILE.py:Class); in a
    streamparse project (a folder with config.json, run from it), a topology's name (wordcount:
    <topology_specs>/wordcount.py); a module:Class reference. Without it, the project's only
    topology. The project's src/ and root go on sys.path (the workers' too)."""


def _run_overrides(
    conf: tuple[str, ...],
    options: tuple[str, ...],
    ackers: int | None,
    debug: bool,
    workers: int | None,
    stats_interval: float | None,
) -> dict[str, Any]:
    """The command line's config: --conf and -o pairs, then the flags that set one key."""
    overrides = parse_pairs(list(conf) + list(options))
    if ackers is not None:
        overrides["topology.acker.executors"] = ackers
    if debug:
        overrides["topology.debug"] = True
    if workers is not None:
        overrides["topology.workers"] = workers
    if stats_interval is not None:
        overrides["squall.stats.interval.secs"] = stats_interval
    return overrides


def _run_duration(duration: float | None, time_: int | None) -> float | None:
    if duration is not None and time_ is not None:
        raise click.UsageError("give --duration (-d) or streamparse's --time (-t), not both")
    if time_ is not None:
        return float(time_) if time_ > 0 else None  # sparse run: -t 0 or less runs until stopped
    if duration is not None and duration < 0:
        raise ConfigError(f"--duration {duration:g}: expected a non-negative number of seconds")
    return duration


def _select_env(project: Any, env_name: str | None) -> str | None:
    """The streamparse environment: -e, else $SQUALL_ENV, else the project's only one. Exported as
    $SQUALL_ENV (the workers inherit it), where streamparse ``par`` dicts ({env: n}) are read."""
    from squall.compat.streamparse_topology import ENV_VAR

    name = env_name or os.environ.get(ENV_VAR) or None
    if project is not None:
        name = project.env(name)[0]
    if name is not None:
        os.environ[ENV_VAR] = name
    return name


def _project_overrides(resolved: Any, project: Any, env: str | None, overrides: dict[str, Any]) -> None:
    """A project topology's name, and its environment's options below the topology's own config (as sparse)."""
    if resolved.name and "topology.name" not in overrides:
        overrides["topology.name"] = resolved.name
    env_options = project.env_options(env) if project is not None else {}
    if env_options:
        from squall.compat.loader import load_topology

        own = load_topology(resolved.ref).config
        for key, value in env_options.items():
            if key not in own and key not in overrides:
                overrides[key] = value


@main.command()
@_topology_args
@click.option("--workers", "-w", type=int, default=None, help="Worker processes (default: one per CPU core).")
@click.option("--duration", "-d", type=float, default=None, help="Stop after this many seconds.")
@click.option(
    "--time",
    "-t",
    "time_",
    type=int,
    default=None,
    help="streamparse's -t: seconds to run (0 or less: until stopped); as --duration.",
)
@click.option("--conf", "-c", "conf", multiple=True, help="Config override key=value (Storm names), repeatable.")
@click.option("--option", "-o", "options", multiple=True, help="streamparse's -o key=value: as --conf.")
@click.option(
    "--ackers", "-a", type=click.IntRange(min=0), default=None, help="topology.acker.executors (streamparse's -a)."
)
@click.option("--debug", is_flag=True, help="topology.debug=true (streamparse's -d/--debug; -d is --duration here).")
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
    topology: str | None,
    name_opt: str | None,
    config_file: str | None,
    env_name: str | None,
    workers: int | None,
    duration: float | None,
    time_: int | None,
    conf: tuple[str, ...],
    options: tuple[str, ...],
    ackers: int | None,
    debug: bool,
    log_level: str,
    stats_interval: float | None,
    fail_on_errors: bool,
    ui_port: int | None,
    ui_host: str | None,
    no_ui: bool,
) -> None:
    """Run TOPOLOGY on worker processes on this machine (`sparse run`, without Storm).

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
        duration = _run_duration(duration, time_)
        overrides = _run_overrides(conf, options, ackers, debug, workers, stats_interval)
        resolved, project, env = _resolve(topology, name_opt, config_file, env_name)
        _project_overrides(resolved, project, env, overrides)
        coord = Coordinator(resolved.ref, overrides, duration=duration, log_level=log_level)
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


run.help = (run.help or "") + "\n" + TOPOLOGY_HELP


def _start_ui(coord: Any, host: str | None, port: int | None) -> Any:
    """Start the run's UI, print where it is, register the run (unregistered at exit); exit 2 if it cannot."""
    import atexit
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
    click.echo(f"[squall] UI with its actions unlocked: {ui.url}/#token={ui.token}", err=True)
    name = str(coord.conf.get("topology.name"))
    entry = registry.Entry(ui.topology_id, name, os.getpid(), ui.url, ui.token, time.time())
    try:
        registry.register(entry)
    except OSError as exc:
        click.echo(f"[squall] warning: could not register the run for `squall list` ({exc})", err=True)
    else:
        atexit.register(registry.unregister, entry)
    return ui


def _load_checked(
    topology: str | None, name_opt: str | None, config_file: str | None, env_name: str | None
) -> tuple[Any, str | None]:
    """The Topology class TOPOLOGY / -n means, its config checked, and its project name; exit 2 if it cannot."""
    from squall.compat.loader import load_topology
    from squall.topology.config import topology_conf

    try:
        resolved, _project, _env = _resolve(topology, name_opt, config_file, env_name)
        cls = load_topology(resolved.ref)
        topology_conf(cls.config, None, cls.components.values())  # type errors refused, unknown keys warned
    except SquallError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    return cls, resolved.name


@main.command()
@_topology_args
def describe(topology: str | None, name_opt: str | None, config_file: str | None, env_name: str | None) -> None:
    """Validate TOPOLOGY and print its components, streams and groupings as JSON.

    -e selects the environment streamparse ``par`` dicts ({env: n}) are read for."""
    from squall.topology.plan import make_plan

    logs.setup("INFO")
    cls, project_name = _load_checked(topology, name_opt, config_file, env_name)
    info = cls.describe()
    info["name"] = cls.config.get("topology.name") or project_name or info["name"]
    workers = cls.config.get("topology.workers") or os.cpu_count() or 1
    info["plan"] = make_plan(cls.components, workers, cls.config.get("topology.acker.executors")).to_dict()
    click.echo(json.dumps(info, indent=2, default=str))


describe.help = (describe.help or "") + "\n" + TOPOLOGY_HELP


@main.command(short_help="Create a project: NAME/ with a word count topology, its components and its test.")
@click.argument("name")
def quickstart(name: str) -> None:
    """Create project NAME in the current folder, laid out as `sparse quickstart` lays out
    streamparse's: config.json, topologies/NAME.py (a word count), src/spouts/, src/bolts/,
    tests/test_NAME.py (squall.testing), pytest.ini, README.md.

    Then `cd NAME && squall run NAME` (or `squall run` alone) runs it and `pytest` tests it.
    Exit status: 0 created; 2 a bad name, or NAME exists and is not an empty folder."""
    from squall.quickstart import QuickstartError, create

    try:
        written = create(name)
    except QuickstartError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"error: cannot create {name}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    click.echo(f"Created project {name}:")
    for path in written:
        click.echo(f"    create  {path.as_posix()}")
    click.echo(f"\nRun it:   cd {name} && squall run {name}\nTest it:  cd {name} && pytest")


# --- Cluster mode: ``squall submit`` (Storm's ``storm jar``, streamparse's ``sparse submit``) on Ray ---


def _project_folder(resolved: Any, project: Any) -> tuple[str, str, list[str]]:
    """(working_dir, the topology reference relative to it, sys.path entries relative to it): the
    project folder Ray ships to every node (a streamparse project's root, else the topology file's folder)."""
    from squall.local.project import existing_file

    found = existing_file(resolved.ref)
    if found is None:  # module:Class: the current folder is the project
        return os.getcwd(), resolved.ref, ["."]
    path, cls = found
    if project is not None and os.path.realpath(path).startswith(os.path.realpath(project.root) + os.sep):
        root = os.path.realpath(project.root)
        entries = [os.path.relpath(os.path.realpath(e), root) for e in project.path_entries()]
        return root, os.path.relpath(os.path.realpath(path), root) + cls, entries
    folder = os.path.dirname(os.path.realpath(path))
    return folder, os.path.basename(path) + cls, ["."]


def _runtime_env(working_dir: str, pip: tuple[str, ...], env_vars: tuple[str, ...], env: str | None) -> dict[str, Any]:
    from squall.compat.streamparse_topology import ENV_VAR

    runtime_env: dict[str, Any] = {"working_dir": working_dir}
    if pip:
        runtime_env["pip"] = list(pip)
    variables: dict[str, str] = {}
    for pair in env_vars:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--env")
        variables[key] = value
    if env is not None:
        variables.setdefault(ENV_VAR, env)  # streamparse's par dicts ({env: n}) read it on every node
    if variables:
        runtime_env["env_vars"] = variables
    return runtime_env


def _nimbus(project: Any, env: str | None) -> str | None:
    """The Ray address the streamparse environment names (config.json's ``envs.<env>.nimbus``), if any."""
    if project is None or env is None:
        return None
    from squall.cluster.client import nimbus_address

    return nimbus_address(env, project.env(env)[1], project.config_file)


ADDRESS_HELP = "The Ray cluster's address (its head's host:port, as `ray status` takes it); default $RAY_ADDRESS."


@main.command(short_help="Run a topology on a Ray cluster (storm jar / sparse submit).")
@_topology_args
@click.option(
    "--address",
    default=None,
    help="The Ray cluster's address (its head's host:port); default: the -e environment's nimbus in config.json, "
    "else $RAY_ADDRESS.",
)
@click.option("--local-ray", is_flag=True, help="Start (or reuse) a Ray head on 127.0.0.1; it runs until `ray stop`.")
@click.option("--workers", "-w", type=click.IntRange(min=1), default=None, help="Worker actors (topology.workers).")
@click.option("--conf", "-c", "conf", multiple=True, help="Config override key=value (Storm names), repeatable.")
@click.option("--option", "-o", "options", multiple=True, help="streamparse's -o key=value: as --conf.")
@click.option(
    "--pip", multiple=True, help="A package the nodes install for the topology (Ray runtime_env), repeatable."
)
@click.option("--env", "env_vars", multiple=True, help="KEY=VALUE in the topology's environment on every node.")
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.option("--ui-port", type=click.IntRange(0, 65535), default=None, help="The UI's port on the master's node.")
@click.option("--ui-host", default=None, help="Address the UI listens on, on the master's node (default 127.0.0.1).")
def submit(
    topology: str | None,
    name_opt: str | None,
    config_file: str | None,
    env_name: str | None,
    address: str | None,
    local_ray: bool,
    workers: int | None,
    conf: tuple[str, ...],
    options: tuple[str, ...],
    pip: tuple[str, ...],
    env_vars: tuple[str, ...],
    log_level: str,
    ui_port: int | None,
    ui_host: str | None,
) -> None:
    """Run TOPOLOGY on a Ray cluster (docs/cluster.md): it keeps running after this command returns,
    until `squall kill NAME --address ...`.

    The topology is loaded and validated here first. Its project folder (a streamparse project's root,
    else the topology file's folder) reaches every node through Ray's runtime_env. Prints the topology
    id and its UI's address (on the master's node) with the token POST actions need. With TOPOLOGY as
    a file, --name NAME names the topology (topology.name).

    In a streamparse project, `squall submit -e prod -n wordcount -w 4` (sparse submit's command) reads
    config.json's env prod: its "nimbus" is the Ray head's host:port (port 6379 if none), its "options"
    are Storm config (as for `squall run -e`). The master, and so the UI, runs on this command's Ray
    node when it can (the head, when submitted there); a squall.ui.port given is used exactly.

    Exit status: 0 running; 1 the cluster refused it or it failed to start; 2 refused here (invalid
    topology, config or option)."""
    from squall.cluster import client as cluster
    from squall.cluster.master import Submission, keys_to_dict
    from squall.local.coordinator import Coordinator

    logs.setup(log_level)
    if local_ray and address:
        raise click.UsageError("give --address or --local-ray, not both")
    rename = name_opt if topology and name_opt else None
    try:
        overrides = _run_overrides(conf, options, None, False, workers, None)
        resolved, project, env = _resolve(topology, None if rename else name_opt, config_file, env_name)
        _project_overrides(resolved, project, env, overrides)
        if rename:
            overrides["topology.name"] = rename
        local = Coordinator(resolved.ref, overrides, log_level=log_level)  # validates and plans; starts nothing
        name = str(local.conf["topology.name"])
        cluster.check_state_backend(name, local.conf, local.topology.components)  # the nodes share no disk
        working_dir, ref, paths = _project_folder(resolved, project)
        runtime_env = _runtime_env(working_dir, pip, env_vars, env)
        target = cluster.start_local_ray() if local_ray else cluster.address_of(address or _nimbus(project, env))
    except SquallError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if not target:
        raise click.UsageError(
            f"where is the Ray cluster? give --address, set ${cluster.ADDRESS_ENV}, --local-ray, or the "
            'environment\'s "nimbus" in config.json (-e NAME)'
        )
    overrides["topology.workers"] = local.plan.num_workers
    submission = Submission(
        ref=ref,
        name=name,
        topology_id=local.topology_id,
        overrides=overrides,
        keys=keys_to_dict(local.keys),
        token=local.conf.get("squall.ui.token") or secrets.token_urlsafe(24),
        sys_path=paths,
        runtime_env=runtime_env,
        log_level=log_level.upper(),
        ui_host=ui_host,
        ui_port=ui_port,
    )
    t0 = time.monotonic()
    try:
        ray = cluster.connect(target, runtime_env)
        cluster.check_state_reach(ray, name, local.conf, local.topology.components)
        info = cluster.submit(ray, submission, local.conf.get("squall.cluster.master.resources"))
    except SquallError as exc:
        _fail(exc)
    took = time.monotonic() - t0
    click.echo(
        f"[squall] topology {name} is running on the Ray cluster at {target} ({local.plan.num_workers} worker(s), "
        f"{took:.1f} s)",
        err=True,
    )
    click.echo(f"[squall] id: {info['id']}", err=True)
    if info.get("url"):
        click.echo(
            f"[squall] UI (on the master's node {info.get('ip')}): {info['url']}  (token: {info['token']})", err=True
        )
    here = "this command's node" if info.get("node") == info.get("driver_node") else "another node than this command's"
    where = f"node {info.get('node')}; asked for {info.get('driver_node')}"
    click.echo(f"[squall] the master runs on {here} ({where})", err=True)
    click.echo(f"[squall] stop it with: squall kill {name} --address {target}", err=True)
    click.echo(info["id"])


submit.help = (submit.help or "") + "\n" + TOPOLOGY_HELP


# --- Acting on running topologies (``sparse list/stats/kill/tail``, ``storm activate/deactivate/kill``) ---

CONTROL_EXIT = """
    Exit status: 0 done; 1 no such topology, an ambiguous name (several runs of it: name one
    by its id), the topology's REST API unreachable or refusing the request; 2 wrong usage."""


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    ctx.meta[f"squall.{param.name}"] = value
    return value


def _name_args(required: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """NAME (a topology name or id) as an argument or as streamparse's ``-n/--name``; streamparse's
    ``--config`` (the project whose only topology is meant when no NAME is given) and ``-e`` (ignored)."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        f = click.option(
            "--environment",
            "-e",
            "env_name",
            default=None,
            expose_value=False,
            help="Accepted for streamparse (sparse's -e); not used: runs are on this machine.",
        )(f)
        f = click.option(
            "--config",
            "config_file",
            type=click.Path(dir_okay=False),
            default=None,
            expose_value=False,
            callback=_remember,
            help="A streamparse project's config.json (default ./config.json): without NAME, its only topology.",
        )(f)
        f = click.option("-n", "--name", "name_opt", default=None, help="The topology's name or id (as NAME).")(f)
        f = click.option(
            "--address", default=None, help="A Ray cluster's address (default $RAY_ADDRESS): its topologies too."
        )(f)
        return click.argument("name", required=False)(f)

    return decorate


def _project_name(chosen: str | None, required: bool) -> str | None:
    """In a streamparse project: a topology file of it means its name; no name, its only topology."""
    from squall.local.project import find_project

    config_file = click.get_current_context().meta.get("squall.config_file")
    try:
        project = find_project(config_file=config_file)
    except SquallError:
        if config_file is not None:
            raise
        project = None
    if project is None:
        return chosen
    if chosen is not None:
        return (project.name_of(chosen) if os.path.isfile(chosen) else None) or chosen
    names = list(project.topologies())
    if required and len(names) == 1:
        return names[0]
    if required and names:
        raise click.UsageError(f"name the topology: NAME or -n NAME (this project's: {', '.join(names)})")
    return None


def _target(name: str | None, name_opt: str | None, required: bool = True) -> str | None:
    if name and name_opt and name != name_opt:
        raise click.UsageError(f"two names given ({name!r} and -n {name_opt!r}): give one")
    chosen = _project_name(name or name_opt, required)
    if required and not chosen:
        raise click.UsageError("name the topology: NAME or -n NAME (`squall list` shows the running ones)")
    return chosen


def _open(target: str | None, address: str | None) -> tuple[Entry, Any, Any]:
    """(entry, client, the cluster client or None) of the topology ``target`` means: a run of this
    machine (the registry), else, with --address or $RAY_ADDRESS, a topology on that Ray cluster."""
    from squall.ui import registry
    from squall.ui.client import Client, resolve

    where = _cluster_address(address)
    if where is None or (target is not None and len(registry.find(target)) == 1):
        entry = resolve(target)
        return entry, Client.of(entry), None
    from squall.cluster import client as cluster

    entry, ray_client = cluster.resolve(cluster.connect(where), target)
    return entry, ray_client, ray_client


def _cluster_address(address: str | None) -> str | None:
    from squall.cluster.client import address_of

    return address_of(address)


def _fail(exc: SquallError) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(1)


def _list_row(entry: Entry) -> dict[str, Any]:
    from squall.ui.client import Client

    row: dict[str, Any] = {"name": entry.name, "id": entry.id, "pid": entry.pid, "url": entry.url}
    row["uptimeSeconds"] = max(0, int(time.time() - entry.started))
    try:
        summaries = Client.of(entry, timeout=3.0).topology_summary()
    except SquallError:
        row["status"] = "UNREACHABLE"
        return row
    mine = [t for t in summaries if t.get("id") == entry.id] or summaries
    if mine:
        t = mine[0]
        row.update(
            status=t.get("status"),
            uptimeSeconds=t.get("uptimeSeconds", row["uptimeSeconds"]),
            workersTotal=t.get("workersTotal"),
            tasksTotal=t.get("tasksTotal"),
        )
    return row


def _cluster_rows(address: str) -> list[dict[str, Any]]:
    """``squall list``'s rows for the topologies on the Ray cluster at ``address``."""
    from squall.cluster import client as cluster

    ray = cluster.connect(address)
    rows = []
    for info, handle in cluster.cluster_topologies(ray):
        row: dict[str, Any] = {"name": info.get("name"), "id": info.get("id"), "pid": 0, "url": info.get("url", "")}
        row["cluster"] = address
        row["uptimeSeconds"] = max(0, int(time.time() - float(info.get("started") or time.time())))
        row["status"] = str(info.get("state", "unreachable")).upper()
        if info.get("id"):
            try:
                mine = cluster.RayClient(ray, handle, info, timeout=5.0).topology_summary()
            except SquallError:
                mine = []
            if mine:
                t = mine[0]
                row.update(status=t.get("status"), workersTotal=t.get("workersTotal"), tasksTotal=t.get("tasksTotal"))
        rows.append(row)
    return rows


@main.command("list", short_help="Running topologies: name, id, status, uptime, workers, UI.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as a JSON array.")
@click.option("--address", default=None, help="A Ray cluster's address (default $RAY_ADDRESS): its topologies too.")
def list_(as_json: bool, address: str | None) -> None:
    """The running topologies of this user: name, id, status, uptime, workers, UI address; with
    --address (or $RAY_ADDRESS), those submitted to that Ray cluster too.

    Found in the registry ($XDG_RUNTIME_DIR/squall or ~/.squall/run); status, uptime and workers
    come from each one's REST API (UNREACHABLE when it does not answer). Exit status 0."""
    from squall.ui import registry, terminal

    rows = [_list_row(e) for e in registry.entries()]
    where = _cluster_address(address)
    if where is not None:
        try:
            rows += _cluster_rows(where)
        except SquallError as exc:  # this machine's runs are still worth listing
            click.echo(f"warning: {exc}", err=True)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for line in terminal.list_lines(rows):
        click.echo(line)


WINDOW_CHOICE = click.Choice(["60", "600", "all"])


@main.command(short_help="Spouts and bolts tables of a running topology (Storm UI's).")
@_name_args(required=False)
@click.option("--component", "-c", default=None, help="One component: its per-task (executor) table and errors.")
@click.option(
    "--window", default="600", show_default=True, type=WINDOW_CHOICE, help="Seconds (Storm's windows), or all."
)
@click.option("--traceback", is_flag=True, help="With --component: the errors' tracebacks too.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the REST API's answer as JSON (an array for several topologies)."
)
def stats(
    name: str | None,
    name_opt: str | None,
    address: str | None,
    component: str | None,
    window: str,
    traceback: bool,
    as_json: bool,
) -> None:
    """The spouts and bolts tables of running topology NAME (name or id), as Storm UI shows them.

    Without NAME: every running topology. Counts over the --window (a run younger than it
    shows what it has); latencies in ms; capacity = time executing / time (near 1.0: the bottleneck).
    """
    from squall.ui import registry, terminal
    from squall.ui.client import WINDOWS, Client, resolve

    target = _target(name, name_opt, required=False)
    api_window = WINDOWS[window]
    answers: list[dict[str, Any]] = []
    texts: list[list[str]] = []
    try:
        pairs: list[tuple[Entry, Any]]
        if target or component:
            entry, client, _ = _open(target, address)
            pairs = [(entry, client)]
        else:
            pairs = [(e, Client.of(e)) for e in registry.entries()] + _cluster_clients(address)
        if not pairs:
            resolve(None)  # raises: no running topologies
        for entry, client in pairs:
            if component:
                info = client.component(entry.id, component, api_window)
                texts.append(terminal.component_lines(info, traceback))
            else:
                info = client.topology(entry.id, api_window)
                info["workers"] = _workers(client, entry.id)
                texts.append(terminal.topology_lines(info, info["workers"]))
            answers.append(info)
    except SquallError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(answers[0] if len(answers) == 1 else answers, indent=2))
        return
    click.echo("\n\n".join("\n".join(lines) for lines in texts))


stats.help = (stats.help or "") + CONTROL_EXIT


def _cluster_clients(address: str | None) -> list[tuple[Entry, Any]]:
    """(entry, client) of every topology on the Ray cluster (none without --address or $RAY_ADDRESS)."""
    where = _cluster_address(address)
    if where is None:
        return []
    from squall.cluster import client as cluster

    ray = cluster.connect(where)
    out: list[tuple[Entry, Any]] = []
    for info, handle in cluster.cluster_topologies(ray):
        if info.get("id"):
            out.append((cluster.entry_of(info), cluster.RayClient(ray, handle, info)))
    return out


def _workers(client: Client, topology_id: str) -> list[dict[str, Any]] | None:
    """The workers table (a Squall extra of the API), or None where the API does not offer it (404)."""
    from squall.ui.client import ApiNotFoundError

    try:
        return list(client.workers(topology_id))
    except ApiNotFoundError:
        return None


def _control(name: str | None, name_opt: str | None, address: str | None, action: str) -> None:
    try:
        entry, client, _ = _open(_target(name, name_opt), address)
        client.activate(entry.id) if action == "activate" else client.deactivate(entry.id)
    except SquallError as exc:
        _fail(exc)
    click.echo(f"topology {entry.name} (id {entry.id}): {action}d")


@main.command(short_help="Activate a running topology's spouts.")
@_name_args(required=True)
def activate(name: str | None, name_opt: str | None, address: str | None) -> None:
    """Activate running topology NAME (name or id): its spouts' activate(), next_tuple again (`storm activate`)."""
    _control(name, name_opt, address, "activate")


@main.command(short_help="Deactivate a running topology's spouts.")
@_name_args(required=True)
def deactivate(name: str | None, name_opt: str | None, address: str | None) -> None:
    """Deactivate running topology NAME: spouts' deactivate(), no more next_tuple; bolts go on (`storm deactivate`)."""
    _control(name, name_opt, address, "deactivate")


activate.help = (activate.help or "") + "\n" + CONTROL_EXIT
deactivate.help = (deactivate.help or "") + "\n" + CONTROL_EXIT

#: ``squall kill``'s default --wait: Squall's stop drains in-flight tuples by itself (up to
#: squall.drain.timeout.secs), so no extra wait is needed; Storm's default is 30 s.
KILL_WAIT = 0.0


def _end_timeout(configuration: dict[str, Any]) -> float:
    """How long a stop may take: the drain and shutdown timeouts of the run's config, plus a margin."""
    total = 15.0
    for key in ("squall.drain.timeout.secs", "squall.shutdown.timeout.secs"):
        value = configuration.get(key)
        total += float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 10.0
    return total


@main.command(short_help="Kill a running topology (deactivate, wait, stop).")
@_name_args(required=True)
@click.option(
    "--wait",
    "-w",
    "wait",
    type=click.FloatRange(min=0),
    default=KILL_WAIT,
    show_default=True,
    help="Seconds between deactivating the spouts and stopping (Storm's kill -w; Storm's default is 30).",
)
@click.option("--timeout", type=click.FloatRange(min=0), default=None, help="Seconds to wait for the run to end.")
def kill(name: str | None, name_opt: str | None, address: str | None, wait: float, timeout: float | None) -> None:
    """Kill running topology NAME (name or id), Storm's way: deactivate its spouts, --wait seconds,
    then stop it (in-flight tuples drained, components closed), and wait until its process is gone.

    The default --wait is 0: Squall's stop drains what is in flight by itself (up to
    squall.drain.timeout.secs). --timeout defaults to --wait plus the run's drain and shutdown
    timeouts plus 15 s; a run still there then is an error (exit 1)."""
    from squall.ui.client import wait_gone

    try:
        entry, client, on_cluster = _open(_target(name, name_opt), address)
        if timeout is None:
            try:
                configuration = client.topology(entry.id).get("configuration") or {}
            except SquallError:
                configuration = {}
            timeout = wait + _end_timeout(configuration)
        client.kill(entry.id, wait)
    except SquallError as exc:
        _fail(exc)
    click.echo(f"killing topology {entry.name} (id {entry.id}): spouts deactivated, stop in {wait:g} s", err=True)
    gone = on_cluster.wait_gone(timeout) if on_cluster is not None else wait_gone(entry.pid, timeout)
    if not gone:
        click.echo(f"error: topology {entry.name} (pid {entry.pid}) did not end within {timeout:g} s", err=True)
        sys.exit(1)
    click.echo(f"topology {entry.name} (id {entry.id}) killed")


kill.help = (kill.help or "") + "\n" + CONTROL_EXIT


@main.command(short_help="Run a cluster topology on another number of workers (storm rebalance).")
@_name_args(required=True)
@click.option(
    "--workers", "workers", type=click.IntRange(min=1), required=True, help="The number of worker actors to run."
)
@click.option(
    "--wait",
    "-w",
    "wait",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds between deactivating the spouts and stopping the workers (Storm's rebalance -w).",
)
@click.option("--timeout", type=click.FloatRange(min=0), default=None, help="Seconds to wait for it to run again.")
def rebalance(
    name: str | None, name_opt: str | None, address: str | None, workers: int, wait: float, timeout: float | None
) -> None:
    """Rebalance topology NAME on a Ray cluster to --workers N (Storm's rebalance, docs/cluster.md): its
    spouts are deactivated, in-flight tuples drain (up to squall.drain.timeout.secs), every worker stops,
    then N workers run the same tasks (fields grouping keeps each key's task) and the topology is as
    active as it was. Bolts' in-memory state and the counters start over. Waits until it runs again."""
    try:
        entry, client, on_cluster = _open(_target(name, name_opt), address)
        if on_cluster is None:
            raise SquallError(
                f"topology {entry.name} runs on this machine (squall run): rebalance applies to a topology "
                "submitted to a Ray cluster (squall submit); restart the run with --workers instead"
            )
        if timeout is None:
            try:
                configuration = client.topology(entry.id).get("configuration") or {}
            except SquallError:
                configuration = {}
            timeout = wait + _end_timeout(configuration) + 120.0  # and the new workers' start
        began = time.monotonic()
        workers = int(on_cluster.rebalance(workers, wait).get("numWorkers", workers))  # at most one per task
        click.echo(f"rebalancing topology {entry.name} (id {entry.id}) to {workers} worker(s)", err=True)
        info = on_cluster.wait_rebalanced(workers, timeout)
    except SquallError as exc:
        _fail(exc)
    if info.get("ended"):
        click.echo(f"error: topology {entry.name} ended during its rebalance: {info.get('message')}", err=True)
        sys.exit(1)
    took = time.monotonic() - began
    click.echo(f"topology {entry.name} (id {entry.id}): {info['workers']} worker(s), {info['state']} ({took:.1f} s)")


rebalance.help = (rebalance.help or "") + "\n" + CONTROL_EXIT


def _log_pages(client: Client, topology_id: str, worker: int | None, after: int) -> tuple[list[dict[str, Any]], int]:
    """Every log line after ``after`` (paged by the API's limit) and the next ``after``."""
    lines: list[dict[str, Any]] = []
    while True:
        page = client.logs(topology_id, worker=worker, after=after, limit=1000)
        if page.get("available") is False:
            raise SquallError(f"topology {topology_id} keeps no worker logs: read them on its terminal (stderr)")
        got = page.get("lines") or []
        lines += got
        following = int(page.get("next", after))
        if not got or following <= after:
            return lines, max(after, following)
        after = following


def _log_text(line: dict[str, Any], prefix: bool) -> str:
    text = str(line.get("line", ""))
    return f"[worker {line.get('worker')}] {text}" if prefix else text


@main.command(short_help="A running topology's worker logs (--follow).")
@_name_args(required=True)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the topology ends (or Ctrl-C).")
@click.option("--pattern", "-p", default=None, help="Only lines matching this regular expression (re.search).")
@click.option("--worker", type=click.IntRange(min=0), default=None, help="Only this worker's lines (index from 0).")
@click.option(
    "--lines", "-l", "last", type=click.IntRange(min=0), default=100, show_default=True, help="Lines shown first."
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=0.5,
    show_default=True,
    help="--follow: seconds between polls.",
)
def tail(
    name: str | None,
    name_opt: str | None,
    address: str | None,
    follow: bool,
    pattern: str | None,
    worker: int | None,
    last: int,
    interval: float,
) -> None:
    """The worker logs of running topology NAME (name or id), as `sparse tail` (Storm's logviewer).

    The run keeps the last squall.ui.log.lines lines per worker (1000); each line is prefixed with
    its worker unless --worker is given. With --follow it polls until the topology ends (exit 0)."""
    from squall.ui.client import UnreachableError

    try:
        regex = re.compile(pattern) if pattern else None
    except re.error as exc:
        raise click.BadParameter(f"{pattern!r} is not a regular expression: {exc}", param_hint="--pattern") from None
    try:
        entry, client, _ = _open(_target(name, name_opt), address)
        lines, after = _log_pages(client, entry.id, worker, 0)
    except SquallError as exc:
        _fail(exc)
    shown = [ln for ln in lines if regex is None or regex.search(str(ln.get("line", "")))]
    for ln in shown[len(shown) - last :] if last else []:
        click.echo(_log_text(ln, worker is None))
    if not follow:
        return
    try:
        while True:
            time.sleep(interval)
            try:
                lines, after = _log_pages(client, entry.id, worker, after)
            except UnreachableError:
                click.echo(f"[squall] topology {entry.name} (id {entry.id}) ended", err=True)
                return
            for ln in lines:
                if regex is None or regex.search(str(ln.get("line", ""))):
                    click.echo(_log_text(ln, worker is None))
    except SquallError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        return


tail.help = (tail.help or "") + "\n" + CONTROL_EXIT


def _sample_text(sample: dict[str, Any], component: str) -> str:
    t = sample.get("time")
    when = (
        time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}" if isinstance(t, float) else "-"
    )
    values = json.dumps(sample.get("values"), default=repr)
    return f"{when}  {component}:{sample.get('task')}  {sample.get('stream')}  {values}"


@main.command(short_help="Tuples a component of a running topology emits, live.")
@_name_args(required=True)
@click.option("--component", "-c", required=True, help="The component whose emitted tuples are sampled.")
@click.option("--stream", "-s", default=None, help="Only this stream (default: every stream it emits).")
@click.option(
    "--secs", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True, help="Sample for so long."
)
@click.option("--count", "-N", "limit", type=click.IntRange(min=1), default=None, help="Stop after N tuples.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per sampled tuple.")
def sample(
    name: str | None,
    name_opt: str | None,
    address: str | None,
    component: str,
    stream: str | None,
    secs: float,
    limit: int | None,
    as_json: bool,
) -> None:
    """Print tuples that COMPONENT of running topology NAME emits, live (Storm UI's debug sampling).

    Sampling is switched on in the component's workers for --secs seconds (off the hot path
    otherwise; at most 100 tuples per task and stats round); each sampled tuple is printed as
    `time component:task stream values`."""
    from squall.ui.client import UnreachableError

    printed = 0
    try:
        entry, client, _ = _open(_target(name, name_opt), address)
        after = int(client.samples(entry.id, component).get("next", 0))
        client.enable_sampling(entry.id, component, secs, stream)
        click.echo(f"[squall] sampling {component} of {entry.name} for {secs:g} s", err=True)
        deadline = time.monotonic() + secs + 2.0  # the last samples ride with the next stats answers
        while time.monotonic() < deadline and (limit is None or printed < limit):
            try:
                page = client.samples(entry.id, component, after)
            except UnreachableError:
                click.echo(f"[squall] topology {entry.name} (id {entry.id}) ended", err=True)
                break
            for s in page.get("samples") or []:
                if stream is not None and s.get("stream") != stream:
                    continue
                if limit is not None and printed >= limit:
                    break
                click.echo(json.dumps(s, default=repr) if as_json else _sample_text(s, component))
                printed += 1
            after = max(after, int(page.get("next", after)))
            time.sleep(0.25)
    except SquallError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        pass
    click.echo(f"[squall] {printed} tuple(s) sampled", err=True)


sample.help = (sample.help or "") + "\n" + CONTROL_EXIT

SUFFIX_FORMATS = {".svg": "svg", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid"}


def _svg(dot: str) -> str:
    import shutil
    import subprocess

    exe = shutil.which("dot")
    if exe is None:
        raise SquallError(
            "--format svg needs Graphviz's `dot` command, which is not installed (Debian/Ubuntu: "
            "apt-get install graphviz; macOS: brew install graphviz); or write --format dot or --format mermaid"
        )
    done = subprocess.run([exe, "-Tsvg"], input=dot, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SquallError(f"Graphviz's dot failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


@main.command(short_help="A topology's graph as DOT, Mermaid or SVG (no run).")
@_topology_args
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(["dot", "mermaid", "svg"]),
    default=None,
    help="dot (Graphviz), mermaid, or svg (drawn by Graphviz's dot). Default: from -o's suffix, else dot.",
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None, help="Write here, not stdout."
)
def visualize(
    topology: str | None,
    name_opt: str | None,
    config_file: str | None,
    env_name: str | None,
    fmt: str | None,
    output: str | None,
) -> None:
    """The graph of TOPOLOGY without running it (`sparse visualize`; -e: the environment of ``par`` dicts).

    Components are nodes (spouts as ellipses, bolts as boxes, with their parallelism); every
    subscription an edge labelled with its stream and grouping.

    Exit status: 0 written; 1 svg without Graphviz installed (or dot failed), or the file cannot be
    written; 2 a topology that does not load or is invalid."""
    from pathlib import Path

    from squall.topology import graph

    logs.setup("INFO")
    if fmt is None:
        fmt = SUFFIX_FORMATS.get(Path(output).suffix.lower(), "dot") if output else "dot"
    cls, project_name = _load_checked(topology, name_opt, config_file, env_name)
    description = cls.describe()
    description["name"] = cls.config.get("topology.name") or project_name or description["name"]
    try:
        if fmt == "mermaid":
            out = graph.to_mermaid(description)
        else:
            out = graph.to_dot(description)
            if fmt == "svg":
                out = _svg(out)
        if output:
            Path(output).write_text(out)
        else:
            click.echo(out, nl=False)
    except SquallError as exc:
        _fail(exc)
    except OSError as exc:
        _fail(SquallError(f"cannot write {output}: {exc.strerror or exc}"))


visualize.help = (visualize.help or "") + "\n" + TOPOLOGY_HELP


if __name__ == "__main__":
    main()
