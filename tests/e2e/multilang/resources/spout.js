// A Node.js spout written from the protocol with storm.js's quirks: it never answers activate or
// deactivate, and every emit waits for its task ids (no need_task_ids key). Emits N words
// (argv[2]) with ids 0..N-1, replays a failed one, then emits nothing more.
"use strict";
const fs = require("fs");
const path = require("path");

const WORDS = ["dog", "cat", "zebra", "elephant"];
const todo = [];
for (let i = 0; i < Number(process.argv[2]); i++) todo.push(i);
let buf = "";
let started = false;
let waiting = null; // the command to finish once an emit's task ids arrive
const queue = [];
const send = (msg) => process.stdout.write(JSON.stringify(msg) + "\nend\n");

function command(msg) {
  if (msg.command === "next") {
    if (todo.length) {
      const i = todo.shift();
      send({ command: "emit", tuple: [WORDS[i % WORDS.length]], id: i });
      waiting = () => send({ command: "sync" });
      return;
    }
  } else if (msg.command === "fail") {
    todo.push(msg.id);
  } else if (msg.command === "activate" || msg.command === "deactivate") {
    return; // storm.js: no sync
  }
  send({ command: "sync" });
}

function handle(msg) {
  if (!started) {
    started = true;
    fs.writeFileSync(path.join(msg.pidDir, String(process.pid)), "");
    send({ pid: process.pid });
    return;
  }
  if (Array.isArray(msg)) { // task ids: the emit is done
    const done = waiting;
    waiting = null;
    done();
  } else {
    queue.push(msg);
  }
  while (!waiting && queue.length) command(queue.shift());
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
