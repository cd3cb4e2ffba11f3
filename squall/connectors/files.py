"""FileSpout: tails a file, a folder or a glob of files, one tuple per line, resuming after a crash
from the acked prefix of each file (persisted offsets), so a line is lost only if its file is.

A file is known by its (device, inode), not its path: a rotated (renamed) file keeps its identity
and is read to its end under its new name, and a new file at the old path is a new file. Each
file has one explicit read ``position`` (the next byte to read) and one ``committed`` offset (the
end of the acked prefix: every line before it was fully processed), the value persisted every
``file.offsets.commit.period.ms`` in ``file.offsets.dir`` (one small JSON record per file, written
to a temporary file then renamed: a killed process leaves the old record or the new one, never half
of one).
In a checkpointed topology (``Spout.checkpointed``, docs/state.md) the spout keeps the rewind
contract instead: ``position()`` is the emitted position of each file, ``seek`` reads on from there,
``commit`` writes it as the record, and acks and fails touch neither the records nor the files.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any, ClassVar

from squall.connectors.base import REQUIRED, ConnectorSpout, MessageDecoder, count_failure
from squall.errors import ConfigError
from squall.topology.spout import Spout

CHUNK = 1 << 16  # bytes read per syscall
HEAD = 1024  # bytes of a file's start that fingerprint it (an inode can be reused)
BURST = 256  # lines emitted per next_tuple call at most (keeps max.spout.pending's overshoot small)


@dataclass(eq=False)
class TailedFile:
    """One file being read: its identity, its explicit positions, the lines in flight."""

    fid: int  # the spout's number for it: tup_id = (fid, offset)
    path: str
    dev: int
    ino: int
    fd: int
    position: int  # the next byte to read (a line starts here)
    committed: int  # every line before this offset was acked (or given up)
    #: offset -> line (without its newline) of every line emitted and not yet acked, in offset order
    inflight: dict[int, bytes] = field(default_factory=dict)
    fails: dict[int, int] = field(default_factory=dict)
    lines: deque[tuple[int, bytes]] = field(default_factory=deque)  # read, not yet emitted
    tail: bytes = b""  # the bytes after the last newline read (a line still being written)
    saved: int = -1  # the committed offset last persisted
    head: str = ""  # sha1 of the first min(committed, HEAD) bytes, as persisted
    head_len: int = 0
    listed: bool = True  # matched by file.path at the last scan
    retired: bool = False  # truncated: a new TailedFile reads the new content

    def emitted_to(self) -> int:
        """Where the lines not emitted yet start: the rewind contract's position in this file."""
        if self.lines:
            return self.lines[0][0]
        return self.position - len(self.tail)

    def acked_prefix(self) -> int:
        """The end of the acked prefix: the first line in flight, else what was read so far."""
        for offset in self.inflight:
            return offset
        for offset, _ in self.lines:
            return offset
        return self.position - len(self.tail)


def expand(pattern: str) -> list[str]:
    """The regular files ``file.path`` means: a file, every file of a folder, or a glob."""
    if os.path.isdir(pattern):
        pattern = os.path.join(pattern, "*")
    return sorted(p for p in glob.glob(pattern) if os.path.isfile(p))


def default_offsets_dir(pattern: str, component: str) -> str:
    """``.squall-offsets-<component>`` beside the input (a dot folder: no glob ``*`` matches it)."""
    base = pattern if os.path.isdir(pattern) else os.path.dirname(pattern)
    while glob.has_magic(base):
        base = os.path.dirname(base)
    return os.path.join(base or ".", f".squall-offsets-{component}")


def fingerprint(fd: int, length: int) -> str:
    return hashlib.sha1(os.pread(fd, length, 0)).hexdigest()


def find_inode(path: str, dev: int, ino: int) -> str | None:
    """The name file (dev, ino) has now: ``path``, else a name in the same folder (a rotation)."""
    folder = os.path.dirname(path) or "."
    try:
        names = [path] + [os.path.join(folder, n) for n in sorted(os.listdir(folder))]
    except OSError:
        names = [path]
    for name in names:
        try:
            st = os.stat(name)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (dev, ino) and os.path.isfile(name):
            return name
    return None


def update_head(f: TailedFile, offset: int) -> None:
    """Fingerprint ``f``'s first min(offset, HEAD) bytes, once they are all there."""
    if f.head_len < HEAD and offset > f.head_len:
        f.head_len = min(offset, HEAD)
        f.head = fingerprint(f.fd, f.head_len)


class FileSpout(ConnectorSpout, Spout):
    """Emits each line of the files ``file.path`` names (a file, a folder, or a glob), new files
    included, with ``tup_id = (file number, byte offset)``; acked lines advance the file's
    persisted offset, failed ones are emitted again (``file.max.retries``, then the error stream).

    With ``par > 1`` each file is read by one task: the one a stable hash (crc32) of its
    (device, inode) picks, so a renamed file stays with its task.
    """

    connector = "file"
    prefix = "file."
    settings: ClassVar[dict[str, Any]] = {
        "file.path": REQUIRED,
        "file.format": "text",
        "file.offsets.dir": None,  # None: .squall-offsets-<component> beside the input
        "file.offsets.commit.period.ms": 1000,
        "file.scan.interval.ms": 1000,  # how often the glob is listed again for new files
        "file.poll.interval.ms": 100,  # how often files at their end are read again
        "file.max.retries": None,  # None: replay a failed line forever
        "file.encoding.errors": "error",  # a line that is not UTF-8 (format text): to the error stream
    }

    @classmethod
    def config_problems(cls, conf: dict[str, Any]) -> list[tuple[str, str]]:
        out = super().config_problems(conf)
        for key in ("file.offsets.commit.period.ms", "file.scan.interval.ms", "file.poll.interval.ms"):
            value = conf.get(key, cls.settings[key])
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                out.append((f"{key}={value!r} is not a positive number of milliseconds", f"e.g. {key}: 1000"))
        retries = conf.get("file.max.retries")
        if retries is not None and (not isinstance(retries, int) or isinstance(retries, bool) or retries < 0):
            out.append((f"file.max.retries={retries!r} is not a count", "a number >= 0, or None to retry forever"))
        return out

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        self.pattern = str(self.setting(conf, "file.path"))
        self.decode: MessageDecoder = self.make_decoder(conf)
        name = getattr(context, "component_id", "files")
        self.offsets_dir = str(conf.get("file.offsets.dir") or default_offsets_dir(self.pattern, name))
        os.makedirs(self.offsets_dir, exist_ok=True)
        self.commit_secs = float(self.setting(conf, "file.offsets.commit.period.ms")) / 1000
        self.scan_secs = float(self.setting(conf, "file.scan.interval.ms")) / 1000
        self.poll_secs = float(self.setting(conf, "file.poll.interval.ms")) / 1000
        self.max_retries: int | None = conf.get("file.max.retries")
        pending = conf.get("topology.max.spout.pending")
        self.max_inflight = int(pending) if isinstance(pending, int) and pending > 0 else 1 << 62
        tasks = context.component_tasks(name) if context is not None else [0]
        self.n_tasks = len(tasks)
        self.index = tasks.index(context.task_id) if context is not None else 0
        self.files: dict[int, TailedFile] = {}  # fid -> file (retired ones until drained)
        self.by_inode: dict[tuple[int, int], TailedFile] = {}  # the live file of each identity
        self.replays: deque[tuple[TailedFile, int]] = deque()
        self.n_inflight = 0
        self.next_fid = 0
        self.given_up = 0
        self.next_scan = self.next_commit = self.next_poll = 0.0
        self.rotation: deque[TailedFile] = deque()
        #: "dev:ino" -> [offset, head, head_len, path]: where seek() resumes each file it names
        self.seek_to: dict[str, list[Any]] | None = None

    # --- positions ---------------------------------------------------------------------------

    def record_path(self, f: TailedFile) -> str:
        return os.path.join(self.offsets_dir, f"{f.dev}-{f.ino}.json")

    def load_offset(self, fd: int, dev: int, ino: int, size: int) -> tuple[int, str, int]:
        """Where a file resumes: its persisted offset if the record is this file's (same head)."""
        try:
            with open(os.path.join(self.offsets_dir, f"{dev}-{ino}.json")) as r:
                rec = json.load(r)
            offset, head, head_len = int(rec["offset"]), str(rec["head"]), int(rec["head_len"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0, "", 0
        if offset > size or head_len > size or fingerprint(fd, head_len) != head:
            return 0, "", 0  # another file now has this inode, or this one was truncated
        return offset, head, head_len

    def save(self, f: TailedFile) -> None:
        """Persist ``f``'s acked prefix atomically (temporary file, rename). No fsync: a killed
        process leaves its writes in the page cache, and an fsync blocked the worker's thread for
        up to a second on a busy disk; after a power loss a record may be older (or unreadable:
        the file is then read from its start): duplicates, never a loss."""
        offset = f.acked_prefix()
        if offset == f.saved:
            return
        update_head(f, offset)
        self.write_record(f.path, f.dev, f.ino, offset, f.head, f.head_len)
        f.saved = f.committed = offset

    def write_record(self, path: str, dev: int, ino: int, offset: int, head: str, head_len: int) -> None:
        rec = {"path": path, "dev": dev, "ino": ino, "offset": offset, "head": head, "head_len": head_len}
        target = os.path.join(self.offsets_dir, f"{dev}-{ino}.json")
        tmp = f"{target}.{os.getpid()}.tmp"
        with open(tmp, "w") as w:
            json.dump(rec, w)
        os.replace(tmp, target)

    def save_offsets(self) -> None:
        """Persist the acked prefixes (checkpointed: only ``commit`` writes records) and close the
        files that are done."""
        for f in list(self.files.values()):
            if not f.retired and not self.checkpointed:
                self.save(f)
            self.maybe_close(f)

    # --- the rewind contract (checkpointed topologies: docs/state.md, section 4) ---------------

    def position(self) -> dict[str, list[Any]]:
        """Per file this task reads, ``"dev:ino" -> [offset, head, head_len, path]``: the offset
        where the lines not emitted yet start, and the fingerprint that tells the file again."""
        out: dict[str, list[Any]] = {}
        for f in self.by_inode.values():
            offset = f.emitted_to()
            update_head(f, offset)
            out[f"{f.dev}:{f.ino}"] = [offset, f.head, f.head_len, f.path]
        return out

    def seek(self, position: Any) -> None:
        """Read each file of ``position`` on from its offset (a file changed since, by its
        fingerprint, from its start); files it does not name start as usual (their record)."""
        for f in list(self.files.values()):
            os.close(f.fd)
        self.files.clear()
        self.by_inode.clear()
        self.rotation.clear()
        self.replays.clear()
        self.n_inflight = 0
        self.seek_to = {str(k): list(v) for k, v in (position or {}).items()}
        self.next_scan = 0.0

    def commit(self, position: Any) -> None:
        """Write ``position``'s offsets as the files' records: a run started afresh resumes there."""
        for key, (offset, head, head_len, path) in (position or {}).items():
            dev, ino = (int(x) for x in str(key).split(":"))
            self.write_record(str(path), dev, ino, int(offset), str(head), int(head_len))
            f = self.by_inode.get((dev, ino))
            if f is not None and f.emitted_to() >= offset:
                f.saved = f.committed = int(offset)

    def maybe_close(self, f: TailedFile) -> None:
        """Forget a file that is retired, or no longer listed and read to its end, once drained."""
        if f.inflight or f.lines or not (f.retired or not f.listed):
            return
        if self.checkpointed and not f.retired and f.committed < f.emitted_to():
            return  # a rollback may read it again: kept until a checkpoint covers its end
        if not f.retired and os.fstat(f.fd).st_size > f.position:
            return
        os.close(f.fd)
        del self.files[f.fid]
        if self.by_inode.get((f.dev, f.ino)) is f:
            del self.by_inode[(f.dev, f.ino)]
        if f in self.rotation:
            self.rotation.remove(f)
        if not f.retired and os.path.exists(self.record_path(f)) and not os.path.exists(f.path):
            os.unlink(self.record_path(f))  # the file is gone: so is its position

    # --- files -------------------------------------------------------------------------------

    def owns(self, dev: int, ino: int) -> bool:
        return self.n_tasks == 1 or zlib.crc32(f"{dev}:{ino}".encode()) % self.n_tasks == self.index

    def scan(self) -> None:
        """Open the files ``file.path`` now matches that this task owns and does not read yet."""
        listed: set[tuple[int, int]] = set()
        for path in expand(self.pattern):
            try:
                st = os.stat(path)
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            listed.add(key)
            known = self.by_inode.get(key)
            if known is not None:
                known.path = path  # renamed (rotated): same file, new name
            elif self.owns(*key):
                self.open(path, st.st_dev, st.st_ino)
        if self.seek_to:
            self.reopen_sought(listed)
        for key, f in self.by_inode.items():
            f.listed = key in listed

    def reopen_sought(self, listed: set[tuple[int, int]]) -> None:
        """After a seek: open the files of the position that ``file.path`` no longer lists (renamed
        out of it, e.g. rotated: looked for by inode in the folder they were in), once."""
        assert self.seek_to is not None
        for key, entry in self.seek_to.items():
            dev, ino = (int(x) for x in key.split(":"))
            if (dev, ino) in self.by_inode or (dev, ino) in listed:
                continue
            path = find_inode(str(entry[3]), dev, ino)
            if path is not None:  # else gone: what was not read of it is lost with it
                self.open(path, dev, ino)
        self.seek_to = {k: v for k, v in self.seek_to.items() if k in {f"{d}:{i}" for d, i in listed}}

    def open(self, path: str, dev: int, ino: int) -> None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return  # gone since the listing, or unreadable: seen again at the next scan
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (dev, ino):
            os.close(fd)
            return
        sought = self.seek_to.get(f"{dev}:{ino}") if self.seek_to is not None else None
        if sought is None:
            offset, head, head_len = self.load_offset(fd, dev, ino, st.st_size)
        else:
            offset, head, head_len = int(sought[0]), str(sought[1]), int(sought[2])
            if offset > st.st_size or head_len > st.st_size or fingerprint(fd, head_len) != head:
                offset, head, head_len = 0, "", 0  # not the file of the checkpoint any more
        f = TailedFile(self.next_fid, path, dev, ino, fd, offset, offset, saved=offset, head=head, head_len=head_len)
        self.next_fid += 1
        self.files[f.fid] = f
        self.by_inode[(dev, ino)] = f
        self.rotation.append(f)

    def truncated(self, f: TailedFile) -> None:
        """``f`` is shorter than what was read: read the new content from 0 as a new file (the
        lines in flight of the old content are still acked or replayed from memory; it is only
        noticed at the end of what was read, so ``f.lines`` is empty; a partial last line is dropped)."""
        self.logger.warning(
            "%s was truncated (now shorter than %d bytes): reading it from the start", f.path, f.position
        )
        f.retired = True
        self.rotation.remove(f)
        del self.by_inode[(f.dev, f.ino)]
        fd = os.dup(f.fd)
        g = TailedFile(self.next_fid, f.path, f.dev, f.ino, fd, 0, 0)
        self.next_fid += 1
        self.files[g.fid] = g
        self.by_inode[(g.dev, g.ino)] = g
        self.rotation.append(g)
        if not self.checkpointed:
            self.save(g)

    def fill(self, f: TailedFile) -> bool:
        """Read the next chunk of ``f`` into its ``lines``; False at its end."""
        data = os.pread(f.fd, CHUNK, f.position)
        if not data:
            if os.fstat(f.fd).st_size < f.position:
                self.truncated(f)
            return False
        start = f.position - len(f.tail)
        f.position += len(data)
        parts = (f.tail + data).split(b"\n")
        f.tail = parts.pop()
        lines = f.lines
        for line in parts:
            if line.strip():
                lines.append((start, line[:-1] if line.endswith(b"\r") else line))
            start += len(line) + 1
        return True

    # --- the spout ---------------------------------------------------------------------------

    def next_tuple(self) -> None:
        now = time.monotonic()
        if now >= self.next_scan:
            self.next_scan = now + self.scan_secs
            self.scan()
        if now >= self.next_commit:
            self.next_commit = now + self.commit_secs
            self.save_offsets()
        budget = min(BURST, self.max_inflight - self.n_inflight)
        while self.replays and budget > 0:
            f, offset = self.replays.popleft()
            line = f.inflight.get(offset)
            if line is not None:
                self.emit(self.decode(line), tup_id=(f.fid, offset))
                budget -= 1
        if budget > 0 and self.rotation:
            self.read_some(budget, now)

    def read_some(self, budget: int, now: float) -> None:
        """Emit up to ``budget`` new lines, from the files in turn (one file per call)."""
        rotation = self.rotation
        polling = now >= self.next_poll
        for _ in range(len(rotation)):
            f = rotation[0]
            rotation.rotate(-1)
            if not f.lines and (not polling or not self.fill(f)):
                continue
            self.emit_lines(f, budget)
            return
        if polling:  # every file is at its end: wait before reading them again
            self.next_poll = now + self.poll_secs

    def emit_lines(self, f: TailedFile, budget: int) -> None:
        lines, inflight, decode, emit, fid = f.lines, f.inflight, self.decode, self.emit, f.fid
        n = 0
        while lines and n < budget:
            offset, line = lines.popleft()
            try:
                values = decode(line)
            except ValueError as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
                self.emit_error(f"{f.path}@{offset}", str(e), line)
                continue
            inflight[offset] = line
            emit(values, tup_id=(fid, offset))
            n += 1
        self.n_inflight += n

    def ack(self, tup_id: Any) -> None:
        f = self.files.get(tup_id[0])
        if f is not None and f.inflight.pop(tup_id[1], None) is not None:
            self.n_inflight -= 1
            if f.fails:
                f.fails.pop(tup_id[1], None)

    def fail(self, tup_id: Any) -> None:
        f = self.files.get(tup_id[0])
        if f is None or tup_id[1] not in f.inflight:
            return
        offset = tup_id[1]
        if self.checkpointed:  # the rollback replays: forget the line
            del f.inflight[offset]
            self.n_inflight -= 1
            return
        n = count_failure(f.fails, offset, self.max_retries)
        if n is not None:
            line = f.inflight.pop(offset)
            self.n_inflight -= 1
            self.given_up += 1
            self.logger.error("%s@%d failed %d times: given up (on %s)", f.path, offset, n, "connector_errors")
            self.emit_error(f"{f.path}@{offset}", f"failed {n} times (file.max.retries={self.max_retries})", line)
            return
        self.replays.append((f, offset))

    def deactivate(self) -> None:
        self.save_offsets()

    def close(self) -> None:
        self.save_offsets()
        for f in list(self.files.values()):
            os.close(f.fd)
        self.files.clear()


def read_offsets(folder: str) -> dict[str, int]:
    """path -> persisted offset of every record in an offsets folder (for tools and tests)."""
    out: dict[str, int] = {}
    for rec_path in glob.glob(os.path.join(folder, "*.json")):
        try:
            with open(rec_path) as r:
                rec = json.load(r)
            out[str(rec["path"])] = int(rec["offset"])
        except (OSError, ValueError, KeyError) as e:
            raise ConfigError(f"{rec_path} is not a FileSpout offsets record: {e}") from None
    return out
