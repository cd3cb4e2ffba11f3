"""A pystorm bolt run as a multilang subprocess: emits each tuple's values unchanged."""

from pystorm import Bolt


class Echo(Bolt):
    def process(self, tup):
        self.emit(list(tup.values))


if __name__ == "__main__":
    Echo().run()
