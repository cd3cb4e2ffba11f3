from streamparse import Grouping, Topology

from showcase.bolts import DirectSinkBolt, EvenTickless, OddBatcher, RouterBolt, TickCounterBolt
from showcase.spouts import NumberSpout


class Rich(Topology):
    config = {"topology.message.timeout.secs": 30}
    numbers = NumberSpout.spec()
    router = RouterBolt.spec(inputs={numbers: Grouping.fields("n")}, par=2)  # a replay meets the same task
    evens = TickCounterBolt.spec(
        inputs={router["even"]: Grouping.SHUFFLE}, par=2, config={"topology.tick.tuple.freq.secs": 0.1}
    )
    direct_sink = DirectSinkBolt.spec(inputs={router["direct"]: Grouping.DIRECT}, par=3)
    batcher = OddBatcher.spec(
        inputs={router["odd"]: Grouping.fields("parity")}, config={"topology.tick.tuple.freq.secs": 0.1}
    )
    tickless = EvenTickless.spec(inputs={evens: Grouping.GLOBAL})
