"""A tiny component in the manner of Storm's own storm.py (written from the reference note's
description, not from Storm's code), with its quirks:

* it sends its pid *before* creating the pid file;
* every emit waits for the list of task ids (it never sends ``need_task_ids``), keeping any command
  that arrives meanwhile for later;
* a BasicBolt acks each tuple after ``process``, anchoring its emits to it.

``python3 stormpy_like.py bolt`` splits sentences into words; ``python3 stormpy_like.py spout N``
emits N sentences (ids 0..N-1), re-emits a failed one, and emits nothing more once all are acked.
``python3 stormpy_like.py bolt echo`` emits each tuple's values unchanged.
"""

import json
import os
import sys

pending = []  # commands read while waiting for task ids


def read_message():
    lines = []
    while True:
        line = sys.stdin.readline()
        if not line:
            sys.exit(0)  # the host went away
        if line == "end\n":
            break
        lines.append(line)
    return json.loads("".join(lines))


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\nend\n")
    sys.stdout.flush()


def read_command():
    if pending:
        return pending.pop(0)
    return read_message()


def read_task_ids():
    while True:
        msg = read_message()
        if isinstance(msg, list):
            return msg
        pending.append(msg)


def emit(values, **kw):
    send(dict(command="emit", tuple=values, **kw))
    return read_task_ids()


def handshake():
    setup = read_message()
    send({"pid": os.getpid()})  # the quirk: the pid goes out first ...
    open(os.path.join(setup["pidDir"], str(os.getpid())), "w").close()  # ... then the file
    return setup["conf"], setup["context"]


SENTENCES = ["the cow jumped over the moon", "an apple a day keeps the doctor away", "snow white and the seven dwarfs"]


def run_bolt(echo):
    handshake()
    while True:
        tup = read_command()
        if tup["stream"] == "__heartbeat":
            send({"command": "sync"})
            continue
        if tup["stream"] == "__tick":
            send({"command": "ack", "id": tup["id"]})
            continue
        words = [tup["tuple"]] if echo else [[w] for w in tup["tuple"][0].split()]
        for values in words:
            emit(values, anchors=[tup["id"]])
        send({"command": "ack", "id": tup["id"]})


def run_spout(n):
    handshake()
    todo = list(range(n))
    while True:
        msg = read_command()
        cmd = msg.get("command")
        if cmd == "next" and todo:
            i = todo.pop(0)
            emit([SENTENCES[i % len(SENTENCES)]], id=i)
        elif cmd == "fail":
            todo.append(msg["id"])
        send({"command": "sync"})


if __name__ == "__main__":
    if sys.argv[1] == "spout":
        run_spout(int(sys.argv[2]))
    else:
        run_bolt("echo" in sys.argv)
