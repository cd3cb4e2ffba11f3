"""I/O-bound bolts: calls in flight at once instead of one at a time per worker.

    squall run examples/io_bound/topology.py --workers 2

Each user is "looked up" by a service that takes 50 ms (``asyncio.sleep`` / ``time.sleep`` stand in
for an HTTP call and a blocking database client). ``lookup`` is ``async def``: its calls run on the
worker's event loop, ``concurrency`` (8) per task. ``store`` is blocking code on 4 threads per task
(``concurrency_mode = "threads"``). Emits inside a call are anchored to that call's tuple, and a
tuple is acked when its call completes: the run ends once every user's tree is done.
"""

import asyncio
import time

from squall import Bolt, Spout, Topology

USERS = 400


class UserSpout(Spout):
    outputs = ["user"]

    def initialize(self, conf, context):
        self.users = iter(range(USERS))

    def next_tuple(self):
        user = next(self.users)  # StopIteration: done once every tree is acked
        self.emit([user], tup_id=user)


class LookupBolt(Bolt):
    outputs = ["user", "country"]
    concurrency = 8  # calls in flight per task

    async def process(self, tup):
        user = tup.values.user
        await asyncio.sleep(0.05)  # e.g. await session.get(f"https://.../users/{user}")
        self.emit([user, ["fr", "de", "jp"][user % 3]])  # anchored to tup


class StoreBolt(Bolt):
    outputs = ["user", "stored"]
    concurrency = 4
    concurrency_mode = "threads"  # a blocking client, on 4 threads per task

    def process(self, tup):
        time.sleep(0.05)  # e.g. cursor.execute("INSERT ...")
        self.emit([tup.values.user, True])


class IOBound(Topology):
    users = UserSpout.spec()
    lookup = LookupBolt.spec(inputs=[users], par=2)
    store = StoreBolt.spec(inputs=[lookup], par=2)
