"""streamparse project folders: which topology ``squall run NAME`` means (``sparse run -n NAME``).

A streamparse project is a folder with a ``config.json`` (``sparse quickstart`` makes one:
``topology_specs``, ``virtualenv_specs``, ``serializer``, ``envs``), its topologies in the
``topology_specs`` folder (default ``topologies/``), its components under ``src/``, and files
Squall does not need (``project.clj``, ``fabfile.py``, ``virtualenvs/``). Commands run from the
project's root, as ``sparse`` commands do (or name its config with ``--config``).

``resolve(ref, project)`` picks the topology, first match wins:

1. ``ref`` (before any ``:Class``) is an existing file: that file;
2. ``ref`` names a topology of the project: ``<topology_specs>/<ref>.py`` (``wordcount``,
   ``wordcount.py``, ``wordcount:WordCount``);
3. else ``ref`` is a ``module:Class`` reference (or a module), imported with the project's
   ``src/`` and root on ``sys.path``.

Without ``ref``, the project's only topology (several: name one). A topology found in a project
runs under its file's name (``topology.name`` = ``wordcount``, as ``sparse`` submits it), so
``squall kill wordcount`` reaches it. Pure logic: nothing is imported or changed here; callers
put ``path_entries`` on ``sys.path``.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass, field
from typing import Any

from squall.errors import ConfigError, TopologyLoadError

CONFIG_FILE = "config.json"
DEFAULT_TOPOLOGY_SPECS = "topologies/"
#: config.json keys that mean something only to a Storm cluster (or to ``sparse`` deploying to
#: one): read, never used by a local run.
CLUSTER_ONLY_ENV_KEYS = (
    "user",
    "ssh_password",
    "nimbus",
    "workers",
    "use_ssh_for_nimbus",
    "use_virtualenv",
    "install_virtualenv",
    "virtualenv_root",
    "virtualenv_name",
    "virtualenv_flags",
    "log",
    "log_path",
    "log_file",
)


@dataclass(frozen=True)
class Project:
    """A streamparse project: its root folder and its parsed ``config.json``."""

    root: str
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def config_file(self) -> str:
        return os.path.join(self.root, CONFIG_FILE)

    @property
    def topology_dir(self) -> str:
        specs = self.config.get("topology_specs") or DEFAULT_TOPOLOGY_SPECS
        return os.path.normpath(os.path.join(self.root, str(specs)))

    def topologies(self) -> dict[str, str]:
        """The project's topologies: name (file name without ``.py``) -> file, sorted by name.

        Files starting with ``_`` (``__init__.py``) are not topologies."""
        try:
            names = os.listdir(self.topology_dir)
        except OSError:
            return {}
        out = {}
        for entry in sorted(names):
            path = os.path.join(self.topology_dir, entry)
            if entry.endswith(".py") and not entry.startswith("_") and os.path.isfile(path):
                out[entry[:-3]] = path
        return out

    def name_of(self, path: str) -> str | None:
        """The topology name of ``path`` if it is a topology file of this project, else None."""
        path = os.path.realpath(path)
        for name, file in self.topologies().items():
            if os.path.realpath(file) == path:
                return name
        return None

    def path_entries(self) -> list[str]:
        """What goes in front of ``sys.path`` (the coordinator's and so the workers'): ``src/``, then the root."""
        src = os.path.join(self.root, "src")
        return [src, self.root] if os.path.isdir(src) else [self.root]

    def envs(self) -> dict[str, Any]:
        envs = self.config.get("envs") or {}
        if not isinstance(envs, dict):
            raise ConfigError(f'{self.config_file}: "envs" must be an object of environments, not {envs!r}')
        return envs

    def env(self, name: str | None) -> tuple[str | None, dict[str, Any]]:
        """The environment ``-e NAME`` selects (name and settings). Without a name, the only one
        (as ``sparse``); with several and no name none is used (a local run needs no cluster)."""
        envs = self.envs()
        if name is None:
            if len(envs) != 1:
                return None, {}
            name = next(iter(envs))
        if name not in envs:
            known = ", ".join(sorted(envs)) or "none"
            raise ConfigError(f"no environment {name!r} in {self.config_file} (its envs: {known})")
        settings = envs[name]
        if not isinstance(settings, dict):
            raise ConfigError(f"{self.config_file}: environment {name!r} must be an object, not {settings!r}")
        return name, settings

    def env_options(self, name: str | None) -> dict[str, Any]:
        """The Storm options of environment ``name`` (its ``"options"``), as ``sparse`` passes them."""
        env_name, settings = self.env(name)
        options = settings.get("options") or {}
        if not isinstance(options, dict):
            raise ConfigError(f"{self.config_file}: envs.{env_name}.options must be an object of Storm keys")
        return dict(options)


def read_project(config_file: str) -> Project:
    """The project whose ``config.json`` is ``config_file``; ConfigError if it cannot be read."""
    try:
        with open(config_file, encoding="utf-8") as f:
            config = json.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{config_file} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {config_file}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{config_file} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{config_file} must hold a JSON object (streamparse's project config), not {config!r}")
    return Project(os.path.dirname(os.path.abspath(config_file)), config)


def find_project(cwd: str | None = None, config_file: str | None = None) -> Project | None:
    """The project of ``config_file`` if given, else of ``cwd``'s ``config.json`` (None: not in a project)."""
    if config_file is not None:
        return read_project(config_file)
    path = os.path.join(cwd or os.getcwd(), CONFIG_FILE)
    return read_project(path) if os.path.isfile(path) else None


@dataclass(frozen=True)
class Resolved:
    """What a topology argument means: ``ref`` for the loader, and the run's name when it has one."""

    ref: str  # an absolute file path (with its ``:Class``), or a ``module:Class`` reference
    name: str | None = None  # the project's topology name (``topology.name`` of the run), if any
    how: str = "file"  # "file", "project", "module"


def existing_file(ref: str) -> tuple[str, str] | None:
    """(absolute file, ":Class" or "") if ``ref``'s part before the last ``:`` (or all of it) is a file."""
    if os.path.isfile(ref):
        return os.path.abspath(ref), ""
    target, sep, cls = ref.rpartition(":")
    if sep and target and os.path.isfile(target):
        return os.path.abspath(target), f":{cls}"
    return None


def _in_project(ref: str, project: Project) -> tuple[str, str, str] | None:
    """(name, file, ":Class" or "") if ``ref`` names one of the project's topologies."""
    target, sep, cls = ref.partition(":")
    name = target[:-3] if target.endswith(".py") else target
    file = project.topologies().get(name)
    return (name, file, f":{cls}" if sep else "") if file else None


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _not_found(ref: str, project: Project | None, looks_like_file: bool) -> TopologyLoadError:
    target = ref.partition(":")[0]
    if looks_like_file:
        what = f"topology file {target!r} does not exist"
        if project is None:
            return TopologyLoadError(what)
    elif project is None:
        return TopologyLoadError(
            f"no topology {ref!r}: not a file, not an importable module (a name like `squall run wordcount` "
            f"means a topology of the streamparse project in the current folder: there is no {CONFIG_FILE} here)"
        )
    else:
        what = f"no topology {ref!r}: not a file, not an importable module"
    names = ", ".join(project.topologies()) or "none"
    return TopologyLoadError(
        f"{what}, and the project in {project.root} has no topology {os.path.basename(target).removesuffix('.py')!r} "
        f"(in {project.topology_dir}: {names})"
    )


def resolve(ref: str | None, project: Project | None, *, check_module: bool = True) -> Resolved:
    """The topology ``ref`` means, by the precedence in this module's docstring.

    ``check_module``: refuse a module reference that cannot be found on ``sys.path`` (put the
    project's ``path_entries`` there first) with a message listing the project's topologies."""
    if ref is None:
        return _only_topology(project)
    found = existing_file(ref)
    if found is not None:
        path, cls = found
        return Resolved(path + cls, project.name_of(path) if project is not None else None, "file")
    if project is not None:
        named = _in_project(ref, project)
        if named is not None:
            name, path, cls = named
            return Resolved(path + cls, name, "project")
    target = ref.partition(":")[0]
    looks_like_file = target.endswith(".py") or os.sep in target or "/" in target
    if looks_like_file or (check_module and not _importable(target)):
        raise _not_found(ref, project, looks_like_file)
    return Resolved(ref, None, "module")


def _only_topology(project: Project | None) -> Resolved:
    if project is None:
        raise TopologyLoadError(
            "which topology? give FILE.py, FILE.py:Class or module:Class, "
            f"or run inside a streamparse project (a folder with {CONFIG_FILE} and topologies/)"
        )
    names = project.topologies()
    if len(names) == 1:
        name, path = next(iter(names.items()))
        return Resolved(path, name, "project")
    if not names:
        raise TopologyLoadError(
            f"the project in {project.root} has no topology: {project.topology_dir} has no .py file"
        )
    raise TopologyLoadError(
        f"the project in {project.root} has {len(names)} topologies ({', '.join(names)}): name one, "
        f"e.g. `squall run {next(iter(names))}`"
    )
