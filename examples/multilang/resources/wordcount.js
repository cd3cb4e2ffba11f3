// A Node.js word count bolt speaking Storm's multilang protocol directly (no package):
// JSON messages, each followed by a line "end", on stdin and stdout.
"use strict";
const fs = require("fs");
const path = require("path");

const counts = new Map();
let buf = "";
let started = false;
const send = (msg) => process.stdout.write(JSON.stringify(msg) + "\nend\n");

function handle(msg) {
  if (!started) { // the handshake: conf, context, pidDir; answer with our pid
    started = true;
    send({ pid: process.pid });
    fs.writeFileSync(path.join(msg.pidDir, String(process.pid)), "");
    return;
  }
  if (Array.isArray(msg)) return; // the task ids an emit went to
  if (msg.stream === "__heartbeat") return send({ command: "sync" });
  if (msg.stream === "__tick") return send({ command: "ack", id: msg.id });
  const word = msg.tuple[0];
  counts.set(word, (counts.get(word) || 0) + 1);
  send({ command: "emit", tuple: [word, counts.get(word)], anchors: [msg.id] });
  send({ command: "ack", id: msg.id });
}

process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  buf += chunk;
  let i;
  while ((i = buf.indexOf("\nend\n")) >= 0) {
    const text = buf.slice(0, i).trim();
    buf = buf.slice(i + 5);
    if (text) handle(JSON.parse(text));
  }
});
process.stdin.on("end", () => process.exit(0));
