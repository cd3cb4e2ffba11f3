"""A pystorm bolt that emits (its task, the tick's frequency) for each tick tuple it gets."""

from pystorm import Bolt


class TickBolt(Bolt):
    outputs = ["task", "freq"]

    def initialize(self, conf, context):
        self.task = context["taskid"]

    def process(self, tup):
        pass

    def process_tick(self, tup):
        self.emit([self.task, tup.values[0]])


if __name__ == "__main__":
    TickBolt().run()
