"""Storm's ShellBolt / ShellSpout: components in any language, run as subprocesses speaking
Storm's multilang protocol (JSON messages, each followed by a line ``end``, over stdin/stdout).

    class WordCount(Topology):
        sentences = SentenceSpout.spec()
        split = ShellBolt.spec(command="python3", script="splitsentence.py", outputs=["word"],
                               inputs=[sentences], par=2)

Pure data, like the rest of this layer: the spec resolves the script and remembers the command line;
``squall.runtime.multilang`` starts one subprocess per task and speaks the protocol with it.

**Where the script is found** (Storm runs it from the topology jar's ``resources/`` folder): in
``BASE/resources/SCRIPT``, then ``BASE/SCRIPT``, then ``./SCRIPT`` (the current directory), where
``BASE`` is ``base_dir`` or else the folder of the file that calls ``spec()`` (the topology file).
An absolute path is taken as it is. The subprocess runs in the folder the script was found in
(``resources/`` when it is there: the folder Storm uses). A script that is found nowhere is
refused when the topology is defined (``InvalidTopologyError`` naming the component and the
places searched). ``args`` are passed after the script as they are (module names, flags).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, ClassVar

from squall.topology.bolt import Bolt
from squall.topology.spec import ComponentSpec
from squall.topology.spout import Spout

#: Storm's folder for multilang scripts, next to the topology file.
RESOURCES = "resources"

_SQUALL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _caller_dir() -> str:
    """The folder of the first file up the stack that is neither Squall's nor streamparse's/pystorm's
    (the topology file calling ``spec()``); the current directory if none."""
    frame: Any = sys._getframe(1)
    while frame is not None:
        path: str = frame.f_code.co_filename
        if path and not path.startswith("<"):
            full = os.path.abspath(path)
            parts = full.split(os.sep)
            if not full.startswith(_SQUALL_DIR + os.sep) and "streamparse" not in parts and "pystorm" not in parts:
                return os.path.dirname(full)
        frame = frame.f_back
    return os.getcwd()


def script_candidates(script: str, base_dir: str) -> list[str]:
    """Where ``script`` is looked for, in order (see the module docstring)."""
    if os.path.isabs(script):
        return [script]
    return [
        os.path.join(base_dir, RESOURCES, script),
        os.path.join(base_dir, script),
        os.path.join(os.getcwd(), script),
    ]


class ShellComponent:
    """What ShellBolt and ShellSpout share: the command line, set per spec (a subclass per spec)."""

    #: the program (``python3``, ``node``, ``streamparse_run``...)
    command: ClassVar[str] = ""
    #: the script as written in the spec (None: no script), and where it was found (None: nowhere)
    script: ClassVar[str | None] = None
    script_path: ClassVar[str | None] = None
    #: arguments after the script, as they are
    args: ClassVar[tuple[str, ...]] = ()
    #: the places the script was looked for (for the error when it is missing)
    searched: ClassVar[tuple[str, ...]] = ()
    #: the folder the subprocess runs in
    cwd: ClassVar[str] = "."
    #: extra environment variables for the subprocess
    env: ClassVar[dict[str, str]] = {}

    @classmethod
    def argv(cls) -> list[str]:
        """The subprocess's command line."""
        out = [cls.command]
        if cls.script is not None:
            out.append(cls.script_path or cls.script)
        return out + list(cls.args)

    @classmethod
    def describe_command(cls) -> str:
        return " ".join([cls.command, *([cls.script] if cls.script else []), *cls.args])

    @classmethod
    def shell_problems(cls) -> list[tuple[str, str]]:
        """``(problem, fix)`` pairs found when the topology is defined."""
        out: list[tuple[str, str]] = []
        if not isinstance(cls.command, str) or not cls.command:
            out.append(("command must be a non-empty string", "pass command='python3' (or node, ruby, ...)"))
        if cls.script is not None and cls.script_path is None:
            where = ", ".join(cls.searched)
            out.append(
                (
                    f"script file {cls.script!r} not found (looked in {where})",
                    f"put {cls.script} in the {RESOURCES}/ folder next to the topology file, "
                    "or pass base_dir=..., an absolute path, or args=[...] for an argument that is not a file",
                )
            )
        return out


def _shell_class(
    base: type,
    command: str,
    script: str | None,
    args: Sequence[str],
    base_dir: str | None,
    env: dict[str, str] | None,
) -> type:
    base_dir = os.path.abspath(base_dir) if base_dir is not None else _caller_dir()
    searched: list[str] = []
    path: str | None = None
    cwd = base_dir
    if script is not None:
        searched = script_candidates(str(script), base_dir)
        path = next((p for p in searched if os.path.isfile(p)), None)
        if path is not None:
            cwd = os.path.dirname(path)
    elif os.path.isdir(os.path.join(base_dir, RESOURCES)):
        cwd = os.path.join(base_dir, RESOURCES)
    attrs = {
        "command": command,
        "script": script,
        "script_path": path,
        "args": tuple(str(a) for a in args),
        "searched": tuple(searched),
        "cwd": cwd,
        "env": dict(env or {}),
        "__module__": "squall",
        "__qualname__": base.__name__,
    }
    return type(base.__name__, (base,), attrs)


class ShellBolt(ShellComponent, Bolt):
    """A bolt run as a subprocess per task, in any language (Storm's ``ShellBolt``).

    The subprocess acks, fails and anchors itself (pystorm's auto_ack/auto_anchor live there): the
    runtime only passes tuples, emits, acks and fails through.
    """

    auto_ack = False
    auto_anchor = False
    auto_fail = False

    @classmethod
    def spec(  # type: ignore[override]
        cls,
        command: str = "python3",
        script: str | None = None,
        outputs: Any = None,
        inputs: Any = None,
        par: int | None = None,
        config: dict[str, Any] | None = None,
        name: str | None = None,
        *,
        args: Sequence[str] = (),
        base_dir: str | None = None,
        env: dict[str, str] | None = None,
    ) -> ComponentSpec:
        """Place a multilang bolt: ``command script *args`` per task (see the module docstring).

        ``outputs``: field names (the default stream) or ``Stream`` objects; ``inputs``, ``par``,
        ``config``, ``name``: as for any component.
        """
        shell = _shell_class(ShellBolt, command, script, args, base_dir, env)
        return ComponentSpec(shell, name=name, inputs=inputs, par=par, config=config, outputs=outputs or [])


class ShellSpout(ShellComponent, Spout):
    """A spout run as a subprocess per task, in any language (Storm's ``ShellSpout``)."""

    @classmethod
    def spec(  # type: ignore[override]
        cls,
        command: str = "python3",
        script: str | None = None,
        outputs: Any = None,
        par: int | None = None,
        config: dict[str, Any] | None = None,
        name: str | None = None,
        *,
        args: Sequence[str] = (),
        base_dir: str | None = None,
        env: dict[str, str] | None = None,
    ) -> ComponentSpec:
        """Place a multilang spout: ``command script *args`` per task (see the module docstring)."""
        shell = _shell_class(ShellSpout, command, script, args, base_dir, env)
        return ComponentSpec(shell, name=name, par=par, config=config, outputs=outputs)


def is_shell(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, ShellComponent)
