// A Node.js bolt written from Storm's multilang protocol (no library): counts words.
// JSON messages, each followed by a line "end", on stdin/stdout. Emits without need_task_ids,
// so the host answers each emit with a list of task ids (read and dropped here, as storm.js does).
// `node wordcount.js echo` emits each tuple's values unchanged instead; `delay MS` acks MS later
// (the tuples stay inside this process meanwhile).
"use strict";
const fs = require("fs");
const path = require("path");

let buf = "";
const counts = new Map();
const echo = process.argv.includes("echo");
const delayAt = process.argv.indexOf("delay");
const delay = delayAt >= 0 ? Number(process.argv[delayAt + 1]) : 0;
let started = false;

function send(msg) {
  process.stdout.write(JSON.stringify(msg) + "\nend\n");
}

function handle(msg) {
  if (!started) {
    started = true;
    send({ pid: process.pid });
    fs.writeFileSync(path.join(msg.pidDir, String(process.pid)), "");
    send({ command: "log", msg: "node word count ready, task " + msg.context.taskid, level: 2 });
    return;
  }
  if (Array.isArray(msg)) return; // task ids of an emit
  if (msg.stream === "__heartbeat") { send({ command: "sync" }); return; }
  if (msg.stream === "__tick" && msg.task === -1) { send({ command: "ack", id: msg.id }); return; }
  const finish = () => {
    if (echo) {
      send({ command: "emit", tuple: msg.tuple, anchors: [msg.id] });
    } else {
      const word = msg.tuple[0];
      const n = (counts.get(word) || 0) + 1;
      counts.set(word, n);
      send({ command: "emit", tuple: [word, n], anchors: [msg.id] });
    }
    send({ command: "ack", id: msg.id });
  };
  if (delay) setTimeout(finish, delay); else finish();
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
