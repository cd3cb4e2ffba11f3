"""A multilang bolt that prints on stdout (the protocol channel): the host must say so, naming it."""

import json
import os
import sys


def read_message():
    lines = []
    while True:
        line = sys.stdin.readline()
        if not line:
            sys.exit(0)
        if line == "end\n":
            return json.loads("".join(lines))
        lines.append(line)


read_message()
sys.stdout.write(json.dumps({"pid": os.getpid()}) + "\nend\n")
sys.stdout.flush()
while True:
    tup = read_message()
    print("hello world, processing", tup["tuple"])
    sys.stdout.write(json.dumps({"command": "ack", "id": tup["id"]}) + "\nend\n")
    sys.stdout.flush()
