import sys

from streamparse import Grouping, ShellBolt, Topology

from mlwords.components import CountBolt, SentenceSpout


class MultilangWordCount(Topology):
    sentences = SentenceSpout.spec()
    split = ShellBolt.spec(command=sys.executable, script="splitsentence.py", outputs=["word"],
                           inputs=[sentences], par=2)
    count = CountBolt.spec(inputs={split: Grouping.fields("word")}, par=2)
