"""Find the Topology a user means: ``file.py``, ``file.py:Class``, ``package.module:Class``.

Workers load the topology the same way from the same reference, so nothing is pickled.
Like streamparse, a project's ``src/`` directory (beside ``topologies/``) goes on ``sys.path``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any, Protocol

from squall.errors import SquallError, TopologyLoadError, user_traceback


class Foreign(Protocol):
    """Topologies written with another front end's DSL (``squall.compat`` reads streamparse's)."""

    def is_topology(self, obj: object) -> bool:
        """``obj`` is a topology class of that DSL."""

    def to_squall(self, obj: type) -> type:
        """The Squall ``Topology`` class for it."""

    def load_error(self, what: str, exc: BaseException) -> SquallError | None:
        """A clearer error for ``exc``, raised while importing ``what``; None: the default message."""


def _topologies_in(module: ModuleType, foreign: Foreign | None = None) -> list[type]:
    from squall.topology.dsl import Topology

    found = []
    for value in vars(module).values():
        if not isinstance(value, type) or value.__module__ != module.__name__:
            continue
        if issubclass(value, Topology) and value is not Topology:
            found.append(value)
        elif foreign is not None and foreign.is_topology(value):
            found.append(foreign.to_squall(value))
    return found


def path_entries_for(path: str) -> list[str]:
    """Directories a topology file needs on sys.path: its own, and a streamparse-style ``../src``."""
    d = os.path.dirname(os.path.abspath(path))
    entries = [d]
    src = os.path.join(os.path.dirname(d), "src")
    if os.path.isdir(src):
        entries.append(src)
    return entries


def _import_file(path: str, explain: Callable[[str, BaseException], SquallError | None] | None) -> ModuleType:
    if not os.path.isfile(path):
        raise TopologyLoadError(f"topology file {path!r} does not exist")
    for entry in reversed(path_entries_for(path)):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    base = os.path.splitext(os.path.basename(path))[0]
    name, n = base, 1
    while name in sys.modules:  # the same file loaded before, or another file with the same name
        existing = sys.modules[name]
        if os.path.abspath(getattr(existing, "__file__", "") or "") == os.path.abspath(path):
            return existing
        n += 1
        name = f"squall_topology_{base}" if n == 2 else f"squall_topology_{base}_{n}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TopologyLoadError(f"cannot import {path!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    module.__squall_file__ = True  # type: ignore[attr-defined]
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(name, None)
        raise _load_error(path, exc, explain) from None
    return module


def _load_error(
    what: str, exc: BaseException, explain: Callable[[str, BaseException], SquallError | None] | None = None
) -> BaseException:
    """A user's error while importing their topology, as a TopologyLoadError showing only their frames.

    Squall's own errors (an ``InvalidTopologyError`` raised when the class is defined) and
    KeyboardInterrupt/SystemExit go through unchanged.
    """
    if isinstance(exc, SquallError) or not isinstance(exc, Exception):
        return exc
    clearer = explain(what, exc) if explain is not None else None
    if clearer is not None:
        return clearer
    return TopologyLoadError(f"cannot load {what}:\n{user_traceback(exc)}")


def load_topology(ref: str, foreign: Foreign | None = None) -> Any:
    """Return the Topology class named by ``ref``.

    With ``foreign``, a topology class of another DSL found there is returned as its Squall class
    (``squall.compat.loader.load_topology`` passes streamparse's).

    An exception raised while importing the user's file (a SyntaxError, an ImportError, any
    error at module level) becomes a ``TopologyLoadError`` that shows the file, line and message
    with the user's frames only; Squall's own errors (``InvalidTopologyError``) propagate unchanged.
    """
    target, _, cls_name = ref.partition(":")
    explain = foreign.load_error if foreign is not None else None
    if target.endswith(".py") or os.sep in target:
        module = _import_file(target, explain)
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (target == exc.name or target.startswith(exc.name + ".")):
                raise TopologyLoadError(
                    f"cannot import module {target!r} ({exc}); pass a file path like topologies/wordcount.py"
                ) from None
            raise _load_error(f"module {target!r}", exc, explain) from None
        except BaseException as exc:
            raise _load_error(f"module {target!r}", exc, explain) from None
    if cls_name:
        obj: Any = module
        for part in cls_name.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                known = [t.__name__ for t in _topologies_in(module, foreign)]
                raise TopologyLoadError(f"{target!r} has no topology class {cls_name!r} (found: {known or 'none'})")
        if foreign is not None and foreign.is_topology(obj):
            return foreign.to_squall(obj)
        return obj
    found = _topologies_in(module, foreign)
    if not found:
        raise TopologyLoadError(f"{target!r} defines no Topology subclass; define `class MyTopology(Topology): ...`")
    if len(found) > 1:
        names = ", ".join(t.__name__ for t in found)
        raise TopologyLoadError(f"{target!r} defines several topologies ({names}); pick one with {target}:ClassName")
    return found[0]


def topology_ref(topology: type) -> str:
    """A reference a fresh worker process can load: a file path for scripts and files loaded by
    path, else ``module:Class`` (the worker gets the coordinator's sys.path)."""
    module = sys.modules.get(topology.__module__)
    qual = topology.__qualname__
    if "<locals>" in qual:
        raise TopologyLoadError(
            f"topology {qual} is defined inside a function: worker processes cannot import it; "
            "define it at module level (or run it in-process with workers=1)"
        )
    if topology.__module__ == "__main__" or getattr(module, "__squall_file__", False):
        path = getattr(module, "__file__", None)
        if not path:
            raise TopologyLoadError(f"topology {qual} has no source file that workers could load")
        return f"{os.path.abspath(path)}:{qual}"
    return f"{topology.__module__}:{qual}"
