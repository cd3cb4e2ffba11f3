// A word count bolt written with node-storm (npm), run by Squall as a multilang subprocess.
// node-storm runs the component named like the Squall component (the handshake's context says
// which); its basicbolt anchors emits to the input tuple and acks it after the function returns.
"use strict";
const storm = require("node-storm");

const counts = {};
const count = storm
  .basicbolt(function (data) {
    const word = data.tuple[0];
    counts[word] = (counts[word] || 0) + 1;
    this.emit([word, counts[word]]);
  })
  .declareOutputFields(["word", "count"]);

const builder = storm.topologybuilder();
builder.setBolt("count", count, 2);
storm.submit(builder.createTopology(), {});
