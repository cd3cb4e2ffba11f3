// Squall's web UI: one page, plain JS, no build step. It reads only the REST API (api/v1/...,
// relative to the page, so it also works behind a path prefix) and polls it about once a second.
// Vendored libraries (static/vendor, see its README): uPlot (charts) and dagre (graph layout),
// loaded as classic scripts before this module: globals `uPlot` and `dagre`.

const POLL_MS = 1000;
const HIDDEN_POLL_MS = 5000; // a background tab asks less often
const LOG_KEEP = 1000; // lines kept in the log pane
const SATURATED = 0.8; // capacity from which a bolt is called a bottleneck (Storm UI turns red there)
const TOKEN_KEY = "squall.token"; // sessionStorage is per origin (host:port), so per run
const WINDOW_KEY = "squall.window";
const WINDOWS = { 60: "last minute", 600: "last 10 minutes", ":all-time": "all time" };

const $ = (sel) => document.querySelector(sel);
const SVG_NS = "http://www.w3.org/2000/svg";

// ---------------------------------------------------------------- small helpers

/** Build an element: h("td", {class: "num", title: "..."}, "text", child...). Text is never parsed as HTML. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "style") el.style.cssText = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c);
  return el;
}

const nf = new Intl.NumberFormat("en-US");
const num = (x) => {
  const n = Number(x);
  return Number.isFinite(n) ? n : 0;
};

/** 1,234 below 10,000, then 12.3k, 4.56M, 1.2B. */
function compact(x) {
  const n = num(x);
  const a = Math.abs(n);
  if (a < 10000) return nf.format(Math.round(n));
  for (const [v, unit] of [[1e9, "B"], [1e6, "M"], [1e3, "k"]]) {
    if (a >= v) {
      const q = n / v;
      return (Math.abs(q) >= 100 ? q.toFixed(0) : Math.abs(q) >= 10 ? q.toFixed(1) : q.toFixed(2)) + unit;
    }
  }
  return String(n);
}

function perSec(x) {
  const n = num(x);
  if (n === 0) return "0/s";
  if (n < 10) return n.toFixed(1) + "/s";
  return compact(n) + "/s";
}

function millis(x) {
  if (x === undefined || x === null || x === "") return "–";
  const n = num(x);
  if (n === 0) return "0";
  if (n < 1) return n.toFixed(3);
  if (n < 100) return n.toFixed(2);
  return nf.format(Math.round(n));
}

function mib(bytes) {
  const n = num(bytes);
  if (!n) return "–";
  return (n / 1048576).toFixed(n < 100 * 1048576 ? 1 : 0) + " MiB";
}

function duration(secs) {
  let t = Math.max(0, Math.floor(num(secs)));
  const d = Math.floor(t / 86400);
  t -= d * 86400;
  const hh = Math.floor(t / 3600);
  t -= hh * 3600;
  const mm = Math.floor(t / 60);
  const ss = t - mm * 60;
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${mm}m`;
  if (mm) return `${mm}m ${ss}s`;
  return `${ss}s`;
}

function clock(epoch) {
  const n = Number(epoch);
  if (!Number.isFinite(n) || n <= 0) return "";
  return new Date(n * 1000).toLocaleTimeString([], { hour12: false });
}

const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));

/** Capacity colour: green up to 0.3, through amber, red from 1.0 (hue 130 -> 0). */
function capHue(cap) {
  return 130 * (1 - clamp((num(cap) - 0.3) / 0.7, 0, 1));
}
const capStroke = (cap) => `hsl(${capHue(cap)} 62% 38%)`;
const capFill = (cap) => `hsl(${capHue(cap)} 75% 93%)`;
const capBar = (cap) => `hsl(${capHue(cap)} 70% 48%)`;

const isSystem = (name) => String(name).startsWith("__");

// ---------------------------------------------------------------- state

const state = {
  id: null, // topology id
  window: localStorage.getItem(WINDOW_KEY) || "60",
  topo: null,
  viz: null,
  workers: [],
  errors: [],
  series: null,
  component: null, // component shown in the drawer
  logAfter: 0,
  logWorker: "",
  graphKey: "",
  charts: new Map(), // component -> {plot, el, value}
  openErrors: new Set(), // tracebacks the user expanded, kept open across refreshes
  errorsKey: "",
  configKey: "",
  lastOk: 0,
  failures: 0,
};
if (!(state.window in WINDOWS)) state.window = "60";

// ---------------------------------------------------------------- REST API

class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.errorMessage || body.error)) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(path, options = {}) {
  const res = await fetch("api/v1/" + path, { cache: "no-store", ...options });
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

const topoPath = (rest = "") => `topology/${encodeURIComponent(state.id)}${rest}`;

async function discover() {
  const summary = await api("topology/summary");
  const t = (summary.topologies || [])[0];
  if (!t) throw new Error("no topology runs here");
  if (state.id !== null && state.id !== t.id) {
    // another run now answers on this address: start its logs and charts afresh
    state.logAfter = 0;
    $("#logs").replaceChildren();
    state.series = null;
  }
  state.id = t.id;
}

// ---------------------------------------------------------------- token and actions

function takeTokenFromHash() {
  // http://127.0.0.1:PORT/#token=...: keep the token for this tab, then strip it from the address bar
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
  }
}

const getToken = () => sessionStorage.getItem(TOKEN_KEY) || "";

function showTokenState() {
  const b = $("#btn-token");
  const has = Boolean(getToken());
  b.textContent = has ? "token ✓" : "token";
  b.classList.toggle("set", has);
}

/** Ask for the token in a dialog; resolves to the token, or "" when cancelled. */
function askToken(message) {
  const dlg = $("#token-dialog");
  const input = $("#token-input");
  const err = $("#token-error");
  err.hidden = !message;
  err.textContent = message || "";
  input.value = getToken();
  return new Promise((resolve) => {
    dlg.addEventListener(
      "close",
      () => {
        if (dlg.returnValue === "ok" && input.value.trim()) {
          sessionStorage.setItem(TOKEN_KEY, input.value.trim());
          showTokenState();
          resolve(input.value.trim());
        } else resolve("");
      },
      { once: true },
    );
    dlg.returnValue = "";
    dlg.showModal();
    input.focus();
  });
}

async function post(path, label) {
  let token = getToken() || (await askToken());
  for (let attempt = 0; token && attempt < 3; attempt++) {
    try {
      await api(topoPath(path), { method: "POST", headers: { Authorization: "Bearer " + token } });
      toast(label);
      refreshSoon();
      return true;
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
        sessionStorage.removeItem(TOKEN_KEY);
        showTokenState();
        token = await askToken(`The server refused the token (${e.status}: ${e.message}). Paste the one squall run printed.`);
        continue;
      }
      toast(`${label} failed: ${e.message}`, true);
      return false;
    }
  }
  return false;
}

function confirmKill() {
  const dlg = $("#kill-dialog");
  $("#kill-name").textContent = state.topo ? state.topo.name : "the topology";
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => resolve(dlg.returnValue === "ok"), { once: true });
    dlg.returnValue = "";
    dlg.showModal();
  });
}

function wireActions() {
  $("#btn-activate").addEventListener("click", () => post("/activate", "Activated"));
  $("#btn-deactivate").addEventListener("click", () => post("/deactivate", "Deactivated"));
  $("#btn-kill").addEventListener("click", async () => {
    if (!(await confirmKill())) return;
    const wait = Math.max(0, Math.floor(num($("#kill-wait").value)));
    await post(`/kill/${wait}`, "Kill requested");
  });
  $("#btn-token").addEventListener("click", () => askToken());
}

let toastTimer = 0;
function toast(text, bad = false) {
  const t = $("#toast");
  t.textContent = text;
  t.classList.toggle("bad", bad);
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), bad ? 6000 : 2500);
}

// ---------------------------------------------------------------- window selector

function wireWindow() {
  for (const b of document.querySelectorAll("#window button")) {
    b.addEventListener("click", () => {
      state.window = b.dataset.window;
      localStorage.setItem(WINDOW_KEY, state.window);
      showWindow();
      refreshSoon();
    });
  }
  showWindow();
}

function showWindow() {
  for (const b of document.querySelectorAll("#window button")) {
    const on = b.dataset.window === state.window;
    b.classList.toggle("on", on);
    b.setAttribute("aria-checked", on ? "true" : "false");
  }
}

// ---------------------------------------------------------------- summary, insight, totals

const OVER = new Set(["KILLED", "COMPLETED", "STOPPED", "FAILED"]);

function renderSummary(t) {
  document.title = `${t.name} · ${String(t.status).toLowerCase()} · Squall`;
  $("#topo-name").textContent = t.name;
  $("#topo-name").title = `topology id ${t.id}`;
  const st = $("#status");
  st.textContent = String(t.status || "").toLowerCase();
  st.dataset.status = t.status || "";
  st.title = `REST status ${t.status}; run state ${t.squallStatus}`;
  $("#fact-uptime").textContent = t.uptimeSeconds !== undefined ? duration(t.uptimeSeconds) : t.uptime;
  $("#fact-workers").textContent = t.workersTotal;
  $("#fact-executors").textContent = t.executorsTotal;
  $("#fact-tasks").textContent = t.tasksTotal;
  const nErr = t.errorCount ?? [...(t.spouts || []), ...(t.bolts || [])].reduce((a, c) => a + num(c.errorCount), 0);
  const fe = $("#fact-errors");
  fe.textContent = nf.format(nErr);
  fe.classList.toggle("bad", nErr > 0);
  const over = OVER.has(t.status);
  $("#btn-activate").disabled = over || t.status === "ACTIVE" || t.status === "DRAINING";
  $("#btn-deactivate").disabled = over || t.status !== "ACTIVE";
  $("#btn-kill").disabled = over || t.status === "DRAINING";
}

function bottleneck(t) {
  let best = null;
  for (const b of t.bolts || []) {
    if (isSystem(b.boltId)) continue;
    if (!best || num(b.capacity) > num(best.capacity)) best = b;
  }
  return best;
}

function flowText(viz) {
  // The user components as chains along their streams, the busiest stream first at each branch:
  // "sentences → split → count → report; split → lengths".
  if (!viz) return "";
  const names = Object.keys(viz).filter((n) => !isSystem(n));
  const out = new Map(names.map((n) => [n, []]));
  const indeg = new Map(names.map((n) => [n, 0]));
  for (const n of names) {
    for (const i of viz[n][":inputs"] || []) {
      const src = i[":component"];
      if (!out.has(src) || src === n || out.get(src).some((e) => e.to === n)) continue;
      out.get(src).push({ to: n, rate: num(i[":rate"]) });
      indeg.set(n, indeg.get(n) + 1);
    }
  }
  for (const list of out.values()) list.sort((a, b) => b.rate - a.rate || a.to.localeCompare(b.to));
  const used = new Set();
  const chains = [];
  const walk = (start) => {
    const chain = [start];
    let cur = start;
    for (;;) {
      const next = out.get(cur).find((e) => !used.has(cur + "\u0000" + e.to));
      if (!next) break;
      used.add(cur + "\u0000" + next.to);
      chain.push(next.to);
      if (chain.indexOf(next.to) !== chain.length - 1) break; // a cycle
      cur = next.to;
    }
    if (chain.length > 1) chains.push(chain.join(" → "));
  };
  const starts = names.filter((n) => indeg.get(n) === 0);
  for (const n of [...starts, ...names]) while (out.get(n).some((e) => !used.has(n + "\u0000" + e.to))) walk(n);
  const lonely = names.filter((n) => indeg.get(n) === 0 && !out.get(n).length);
  return [...chains, ...lonely].join("; ");
}

/** One line of the insight box: a label column, then the text. */
function line(cls, label, ...content) {
  return h("p", { class: cls }, h("span", { class: "label" }, label), h("span", { class: "text" }, ...content));
}

function renderInsight(t, viz) {
  const box = $("#insight");
  box.replaceChildren();
  const win = WINDOWS[state.window];
  const lines = [];
  const flow = flowText(viz);
  if (flow) {
    const rates = (t.spouts || [])
      .filter((sp) => viz && viz[sp.spoutId])
      .map((sp) => h("span", {}, h("b", {}, sp.spoutId), " emits ", h("b", {}, perSec(viz[sp.spoutId][":rate"]))));
    lines.push(line("flow", "flow", flow, rates.length ? " — " : "", ...joinNodes(rates, "; ")));
  }
  if (OVER.has(t.status)) {
    lines.push(line("note", "status", `The run has ended (${String(t.status).toLowerCase()}). The numbers are its last.`));
  } else if (t.status === "INACTIVE") {
    lines.push(line("note", "status", "The spouts are deactivated: no new tuples enter. Activate resumes them."));
  } else if (t.status === "DRAINING") {
    lines.push(line("note", "status", "The run is stopping: the spouts are off and the tuples in flight drain."));
  }
  const b = bottleneck(t);
  if (b && num(b.capacity) > 0) {
    const cap = num(b.capacity);
    const pct = Math.round(cap * 100);
    const name = h("a", { href: "#component=" + encodeURIComponent(b.boltId), class: "comp" }, b.boltId);
    if (cap >= SATURATED) {
      lines.push(
        line("bottleneck hot", "bottleneck", name,
          ` is busy ${pct}% of the time (capacity ${cap.toFixed(3)}, ${win}): it cannot keep up and holds the spouts back. Give it more tasks (par=) or make its process() faster.`),
      );
    } else {
      lines.push(
        line("bottleneck", "busiest bolt", name,
          ` is busy ${pct}% of the time (capacity ${cap.toFixed(3)}, ${win}); no bolt is saturated (that starts near ${SATURATED}).`),
      );
    }
  }
  const trees = (t.spouts || []).reduce((a, c) => a + num(c.failed), 0);
  const failing = (t.bolts || []).filter((c) => num(c.failed) > 0 && !isSystem(c.boltId));
  const errs = [...(t.spouts || []), ...(t.bolts || [])].filter((c) => num(c.errorCount) > 0);
  if (trees > 0 || failing.length || errs.length) {
    const parts = [];
    if (trees > 0) parts.push(`${nf.format(trees)} tuple tree(s) failed at the spouts (${win})`);
    for (const b of failing) parts.push(`${b.boltId} failed ${nf.format(num(b.failed))} tuple(s)`);
    if (errs.length) parts.push(`errors in ${errs.map((c) => c.spoutId || c.boltId).join(", ")} (see Errors below)`);
    lines.push(line("trouble", "attention", parts.join("; ") + "."));
  }
  box.append(...lines);
}

function joinNodes(nodes, sep) {
  const out = [];
  nodes.forEach((n, i) => {
    if (i) out.push(sep);
    out.push(n);
  });
  return out;
}

const SHORT = { 60: "1 min", 600: "10 min", ":all-time": "all time" };

/** A complete latency, or "–" when no tree completed (acking off, or none acked yet). */
function completeLatency(latency, acked) {
  return num(acked) === 0 && num(latency) === 0 ? "–" : millis(latency);
}

function renderTotals(t) {
  const row = (t.topologyStats || []).find((r) => String(r.window) === state.window) || (t.topologyStats || [])[0];
  const box = $("#totals");
  box.replaceChildren();
  if (!row) return;
  const win = SHORT[state.window] || row.windowPretty;
  const card = (label, value, title, cls) =>
    h("div", { class: "total " + (cls || "") }, h("span", { class: "v", title }, value), h("span", { class: "k" }, label, h("span", { class: "w" }, ` · ${win}`)));
  const spoutRate = Object.values(state.viz || {})
    .filter((v) => v[":type"] === "spout")
    .reduce((a, v) => a + num(v[":rate"]), 0);
  const noTrees = num(row.acked) === 0 && num(row.completeLatency) === 0;
  box.append(
    h("div", { class: "total now" }, h("span", { class: "v" }, perSec(spoutRate)), h("span", { class: "k" }, "spouts emit now")),
    card("emitted", compact(row.emitted), nf.format(num(row.emitted))),
    card("transferred", compact(row.transferred), nf.format(num(row.transferred))),
    card("acked", compact(row.acked), nf.format(num(row.acked))),
    card("failed", compact(row.failed), nf.format(num(row.failed)), num(row.failed) > 0 ? "bad" : ""),
    card(
      "complete latency",
      noTrees ? "–" : millis(row.completeLatency) + " ms",
      noTrees ? "no tuple tree completed: acking is off (the spouts emit without ids) or nothing was acked yet" : "spout emit → tuple tree acked, average",
    ),
  );
  const cp = t.checkpoints;
  if (cp) {
    const title = cp.committed
      ? `checkpoint ${cp.committed} committed in ${millis(cp.lastDurationMs)} ms: ${nf.format(num(cp.lastBytes))} bytes written, ` +
        `${nf.format(num(cp.stateKeys))} keys in state; ${nf.format(num(cp.count))} committed in this run, ` +
        `${nf.format(num(cp.aborted))} abandoned; every ${nf.format(num(cp.intervalMs))} ms`
      : "no checkpoint committed yet";
    box.append(
      h("div", { class: "total checkpoint", id: "checkpoint-card" },
        h("span", { class: "v", title }, cp.committed ? `#${cp.committed}` : "–"),
        h("span", { class: "k" }, "last checkpoint", h("span", { class: "w" }, cp.committed ? ` · ${millis(cp.lastDurationMs)} ms · ${compact(cp.stateKeys)} keys` : ""))),
    );
  }
}

// ---------------------------------------------------------------- tables

/** A table from column specs: {key, label, title, num, render(row) -> node|string, cls(row)}. */
function fillTable(table, columns, rows, rowAttrs) {
  const head = h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : "", title: c.title }, c.label))));
  const body = h("tbody", {});
  if (!rows.length) {
    body.append(h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, "none")));
  }
  for (const r of rows) {
    const tr = h("tr", rowAttrs ? rowAttrs(r) : {});
    for (const c of columns) {
      const content = c.render ? c.render(r) : r[c.key];
      const attrs = { class: [c.num ? "num" : "", c.key || "", c.cls ? c.cls(r) : ""].join(" ").trim() };
      if (c.num && c.key) attrs["data-value"] = String(num(r[c.key]));
      tr.append(h("td", attrs, content));
    }
    body.append(tr);
  }
  table.replaceChildren(head, body);
}

const countCol = (key, label, title) => ({
  key,
  label,
  title,
  num: true,
  render: (r) => h("span", { title: nf.format(num(r[key])) }, compact(r[key])),
});
const msCol = (key, label, title) => ({ key, label: label + " (ms)", title, num: true, render: (r) => millis(r[key]) });

function capacityCell(cap, isBottleneck) {
  const c = num(cap);
  return h(
    "div",
    { class: "cap" + (isBottleneck ? " top" : ""), title: `busy ${Math.round(c * 100)}% of the window` },
    h("div", { class: "bar" }, h("i", { style: `width:${clamp(c, 0, 1) * 100}%;background:${capBar(c)}` })),
    h("span", { style: `color:${capStroke(c)}` }, c.toFixed(3)),
  );
}

function compLink(name) {
  return h("a", { href: "#component=" + encodeURIComponent(name), class: "comp" }, name);
}

function errorCol(idKey) {
  return {
    key: "lastError",
    label: "last error",
    render: (r) =>
      r.lastError
        ? h("a", { href: "#component=" + encodeURIComponent(r[idKey]), class: "err-link", title: r.lastError },
            `${num(r.errorCount)}× ${truncate(r.lastError, 60)}`)
        : "",
  };
}

const truncate = (text, n) => (String(text).length > n ? String(text).slice(0, n - 1) + "…" : String(text));

function renderSpouts(t) {
  fillTable(
    $("#spouts"),
    [
      { key: "spoutId", label: "spout", render: (r) => compLink(r.spoutId) },
      { key: "tasks", label: "tasks", num: true, render: (r) => r.tasks },
      countCol("emitted", "emitted", "tuples emitted in the window"),
      countCol("transferred", "transferred", "tuples sent to other tasks"),
      countCol("acked", "acked", "tuple trees completed"),
      { ...countCol("failed", "failed", "tuple trees failed or timed out"), cls: (r) => (num(r.failed) ? "bad" : "") },
      { key: "completeLatency", label: "complete latency (ms)", title: "spout emit → tree acked, average", num: true, render: (r) => completeLatency(r.completeLatency, r.acked) },
      errorCol("spoutId"),
    ],
    (t.spouts || []).filter((r) => !isSystem(r.spoutId)),
    (r) => ({ dataset: { component: r.spoutId } }),
  );
  $("#spouts-hint").textContent = `window: ${WINDOWS[state.window]}`;
}

function renderBolts(t) {
  const top = bottleneck(t);
  fillTable(
    $("#bolts"),
    [
      {
        key: "boltId",
        label: "bolt",
        render: (r) => [compLink(r.boltId), top === r && num(r.capacity) > 0 ? h("span", { class: "badge hot" }, num(r.capacity) >= SATURATED ? "bottleneck" : "busiest") : ""],
      },
      { key: "tasks", label: "tasks", num: true, render: (r) => r.tasks },
      countCol("executed", "executed", "tuples processed"),
      countCol("emitted", "emitted"),
      countCol("transferred", "transferred"),
      countCol("acked", "acked"),
      { ...countCol("failed", "failed"), cls: (r) => (num(r.failed) ? "bad" : "") },
      msCol("executeLatency", "execute", "average time in process() per tuple"),
      msCol("processLatency", "process", "tuple received → acked, average"),
      { key: "capacity", label: "capacity", num: true, render: (r) => capacityCell(r.capacity, top === r) },
      errorCol("boltId"),
    ],
    (t.bolts || []).filter((r) => !isSystem(r.boltId)),
    (r) => ({ dataset: { component: r.boltId }, class: top === r && num(r.capacity) >= SATURATED ? "hot-row" : "" }),
  );
}

/** A worker's tasks ([{task, component}] or task ids) as "count_bolt 1, 2 · word_spout 3"; system tasks dimmed. */
function workerTasks(tasks) {
  if (!Array.isArray(tasks)) return tasks === undefined || tasks === null ? "–" : String(tasks);
  const by = new Map();
  for (const x of tasks) {
    const c = x && typeof x === "object" ? x.component : "";
    const id = x && typeof x === "object" ? x.task : x;
    if (!by.has(c)) by.set(c, []);
    by.get(c).push(id);
  }
  const parts = [...by.entries()].sort((a, b) => isSystem(a[0]) - isSystem(b[0]) || String(a[0]).localeCompare(String(b[0])));
  return h(
    "span",
    { class: "tasks" },
    joinNodes(parts.map(([c, ids]) => h("span", { class: isSystem(c) ? "sys" : "" }, c ? `${c} ` : "", h("b", {}, ids.join(", ")))), " · "),
  );
}

function renderWorkers(list) {
  fillTable(
    $("#workers"),
    [
      { key: "index", label: "worker", render: (r) => r.index },
      { key: "pid", label: "pid", num: true, render: (r) => r.pid || "–" },
      { key: "host", label: "host" },
      { key: "uptime", label: "uptime", num: true, render: (r) => (r.uptimeSeconds !== undefined && r.uptimeSeconds !== null ? duration(r.uptimeSeconds) : r.uptime || "–") },
      { key: "rss", label: "RSS", num: true, render: (r) => h("span", { title: r.peakRss ? "peak " + mib(r.peakRss) : "" }, mib(r.rss)) },
      { key: "tasks", label: "tasks", render: (r) => workerTasks(r.tasks) },
      { key: "restarts", label: "restarts", num: true, cls: (r) => (num(r.restarts) ? "bad" : ""), render: (r) => num(r.restarts) },
      {
        key: "alive",
        label: "state",
        render: (r) =>
          r.alive === false ? h("span", { class: "badge bad" }, "down") : r.stale ? h("span", { class: "badge warn", title: "its last stats answer is late" }, "stale") : h("span", { class: "badge ok" }, "up"),
      },
    ],
    list,
  );
}

// ---------------------------------------------------------------- errors

function errorItem(e, key, extra) {
  const when = clock(e.errorTime) || e.time || "";
  const det = h(
    "details",
    { class: "error", dataset: { key } },
    h(
      "summary",
      {},
      h("span", { class: "when" }, when),
      extra,
      h("span", { class: "where" }, [`task ${e.task ?? "?"}`, `worker ${e.worker ?? "?"}`, e.where && !String(e.where).startsWith("worker") ? `in ${e.where}()` : ""].filter(Boolean).join(" · ")),
      h("span", { class: "msg" }, e.error || "(no message)"),
    ),
    h("pre", { class: "traceback" }, e.traceback || e.error || ""),
  );
  if (state.openErrors.has(key)) det.open = true;
  det.addEventListener("toggle", () => (det.open ? state.openErrors.add(key) : state.openErrors.delete(key)));
  return det;
}

function errorComponent(e) {
  if (e.component) return e.component;
  const w = String(e.where || "");
  return w.includes(":") ? w.slice(0, w.lastIndexOf(":")) : w || "?";
}

function renderErrors(list) {
  const totals = {}; // errors per component over the run (the list keeps only the last ones)
  for (const c of [...((state.topo && state.topo.spouts) || []), ...((state.topo && state.topo.bolts) || [])]) totals[c.spoutId || c.boltId] = num(c.errorCount);
  const key = JSON.stringify([totals, list.map((e) => [e.errorTime, e.task, e.error])]);
  if (key === state.errorsKey) return;
  state.errorsKey = key;
  const last = new Map(); // component -> [last error, count]
  for (const e of list) {
    const c = errorComponent(e);
    const prev = last.get(c);
    last.set(c, [e, (prev ? prev[1] : 0) + 1]);
  }
  const box = $("#errors");
  box.replaceChildren();
  if (!last.size) {
    box.append(h("p", { class: "empty" }, "No errors."));
    return;
  }
  const rows = [...last.entries()].sort((a, b) => num(b[1][0].errorTime) - num(a[1][0].errorTime));
  for (const [c, [e, kept]] of rows) {
    const n = Math.max(kept, totals[c] || 0);
    const count = n > 1 ? h("span", { class: "count", title: `${nf.format(n)} errors in this run` }, ` (${nf.format(n)})`) : "";
    box.append(errorItem(e, "errors:" + c + ":" + e.errorTime, h("span", { class: "who" }, compLink(c), count)));
  }
}

// ---------------------------------------------------------------- configuration

function renderConfig(conf) {
  const key = JSON.stringify(conf || {});
  if (key === state.configKey) return;
  state.configKey = key;
  const rows = Object.keys(conf || {})
    .sort()
    .map((k) => {
      const v = conf[k];
      const text = v === null ? "null" : typeof v === "object" ? JSON.stringify(v) : String(v);
      return h("div", { class: "kv-row" + (v === null ? " unset" : "") }, h("span", { class: "k" }, k), h("span", { class: "v" }, text));
    });
  $("#config").replaceChildren(...(rows.length ? rows : [h("p", { class: "empty" }, "none")]));
}

// ---------------------------------------------------------------- graph

const NODE_W = 190;
const NODE_H = 74;

function graphModel(viz) {
  const nodes = Object.keys(viz).filter((n) => !isSystem(n)).sort();
  const edges = [];
  for (const target of nodes) {
    for (const i of viz[target][":inputs"] || []) {
      const src = i[":component"];
      if (!nodes.includes(src)) continue;
      edges.push({ src, target, stream: i[":stream"], grouping: groupingText(i[":grouping"]), rate: num(i[":rate"]) });
    }
  }
  return { nodes, edges };
}

function groupingText(g) {
  if (!g) return "";
  if (typeof g === "string") return g.toLowerCase();
  if (g.type) return g.fields && g.fields.length ? `${g.type}(${g.fields.join(", ")})` : g.type;
  return JSON.stringify(g);
}

const edgeLabel = (e) => `${e.stream} · ${e.grouping}`;

function layoutGraph(model) {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 28, ranksep: 70, edgesep: 16, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of model.nodes) g.setNode(n, { width: NODE_W, height: NODE_H });
  for (const e of model.edges) {
    const w = Math.max(64, 6.6 * Math.max(edgeLabel(e).length, 8)) + 12;
    g.setEdge(e.src, e.target, { width: w, height: 34, labelpos: "c" }, e.stream);
  }
  dagre.layout(g);
  return g;
}

/** d3's curveBasis through dagre's points: a smooth path. */
function basisPath(pts) {
  if (pts.length < 3) return "M" + pts.map((p) => `${p.x},${p.y}`).join("L");
  let d = "";
  let x0 = NaN, y0 = NaN, x1 = NaN, y1 = NaN, k = 0;
  const seg = (x, y) =>
    `C${(2 * x0 + x1) / 3},${(2 * y0 + y1) / 3} ${(x0 + 2 * x1) / 3},${(y0 + 2 * y1) / 3} ${(x0 + 4 * x1 + x) / 6},${(y0 + 4 * y1 + y) / 6}`;
  for (const p of pts) {
    const { x, y } = p;
    if (k === 0) d += `M${x},${y}`;
    else if (k === 2) d += `L${(5 * x0 + x1) / 6},${(5 * y0 + y1) / 6}` + seg(x, y);
    else if (k > 2) d += seg(x, y);
    k++;
    x0 = x1; x1 = x; y0 = y1; y1 = y;
  }
  d += seg(x1, y1) + `L${x1},${y1}`;
  return d;
}

function drawGraph(model) {
  const svg = $("#graph");
  const g = layoutGraph(model);
  const gw = g.graph().width || 200;
  const gh = g.graph().height || 100;
  svg.setAttribute("viewBox", `0 0 ${gw} ${gh}`);
  svg.style.maxWidth = `${Math.max(gw, 320) * 1.4}px`;
  svg.style.aspectRatio = `${gw} / ${gh}`;
  const defs = s(
    "defs",
    {},
    s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 11, markerHeight: 11, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" },
      s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" })),
  );
  const edges = s("g", { class: "edges" });
  for (const e of model.edges) {
    const ed = g.edge(e.src, e.target, e.stream);
    const lw = ed.width - 12;
    edges.append(
      s("g", { class: "edge", dataset: { source: e.src, target: e.target, stream: e.stream } },
        s("path", { class: "line", d: basisPath(ed.points), "marker-end": "url(#arrow)" }),
        s("g", { class: "elabel", transform: `translate(${ed.x},${ed.y})` },
          s("rect", { x: -lw / 2 - 4, y: -16, width: lw + 8, height: 32, rx: 6 }),
          s("text", { class: "stream", y: -3, "text-anchor": "middle" }, edgeLabel(e)),
          s("text", { class: "rate", y: 11, "text-anchor": "middle" }, ""))),
    );
  }
  const nodes = s("g", { class: "nodes" });
  for (const n of model.nodes) {
    const nd = g.node(n);
    const title = s("title", {}, n);
    const grp = s("g", { class: "node", dataset: { component: n }, transform: `translate(${nd.x - NODE_W / 2},${nd.y - NODE_H / 2})`, tabindex: 0, role: "button" },
      title,
      s("rect", { class: "box", width: NODE_W, height: NODE_H, rx: 9 }),
      s("rect", { class: "capbar-bg", x: 10, y: NODE_H - 11, width: NODE_W - 20, height: 4, rx: 2 }),
      s("rect", { class: "capbar", x: 10, y: NODE_H - 11, width: 0, height: 4, rx: 2 }),
      s("text", { class: "name", x: 12, y: 21 }, n),
      s("text", { class: "kind", x: 12, y: 39 }, ""),
      s("text", { class: "meta", x: 12, y: 55 }, ""),
      s("text", { class: "tag", x: NODE_W - 10, y: 21, "text-anchor": "end" }, ""),
    );
    grp.addEventListener("click", () => openComponent(n));
    grp.addEventListener("keydown", (ev) => (ev.key === "Enter" || ev.key === " ") && openComponent(n));
    nodes.append(grp);
  }
  svg.replaceChildren(defs, edges, nodes);
}

/** Show ``full`` in the SVG text ``el``, cut with "…" to ``width`` pixels. */
function fitText(el, full, width) {
  el.textContent = full;
  if (typeof el.getComputedTextLength !== "function" || el.getComputedTextLength() <= width) return;
  let n = full.length;
  while (n > 2 && el.getComputedTextLength() > width) {
    n--;
    el.textContent = full.slice(0, n) + "…";
  }
}

function updateGraph(viz, t) {
  const model = graphModel(viz);
  const key = JSON.stringify([model.nodes, model.edges.map((e) => [e.src, e.target, e.stream, e.grouping])]);
  if (key !== state.graphKey) {
    state.graphKey = key;
    drawGraph(model);
  }
  const top = bottleneck(t);
  const maxRate = Math.max(1, ...model.edges.map((e) => e.rate));
  for (const e of model.edges) {
    const el = document.querySelector(`#graph g.edge[data-source="${CSS.escape(e.src)}"][data-target="${CSS.escape(e.target)}"][data-stream="${CSS.escape(e.stream)}"]`);
    if (!el) continue;
    el.querySelector(".line").setAttribute("stroke-width", (1.4 + 5 * Math.sqrt(e.rate / maxRate)).toFixed(2));
    el.querySelector(".rate").textContent = perSec(e.rate);
    el.classList.toggle("idle", e.rate === 0);
  }
  for (const n of model.nodes) {
    const v = viz[n];
    const el = document.querySelector(`#graph g.node[data-component="${CSS.escape(n)}"]`);
    if (!el) continue;
    const spout = v[":type"] === "spout";
    const cap = num(v[":capacity"]);
    el.classList.toggle("spout", spout);
    el.classList.toggle("bolt", !spout);
    const isTop = !spout && top && top.boltId === n && cap > 0;
    el.classList.toggle("bottleneck", Boolean(isTop && num(top.capacity) >= SATURATED));
    el.classList.toggle("selected", state.component === n);
    const box = el.querySelector(".box");
    if (spout) {
      box.removeAttribute("style");
    } else {
      box.style.fill = capFill(cap);
      box.style.stroke = capStroke(cap);
    }
    const executed = v[":executedRate"] ?? v[":rate"];
    const tasks = v[":tasks"] ? `${v[":tasks"]} task${v[":tasks"] === 1 ? "" : "s"}` : "";
    el.querySelector(".kind").textContent = spout ? `emits ${perSec(v[":rate"])}` : `executes ${perSec(executed)}`;
    el.querySelector(".meta").textContent = spout
      ? ["spout", tasks].filter(Boolean).join(" · ")
      : ["bolt", tasks, `${millis(v[":latency"])} ms`].filter(Boolean).join(" · ");
    el.querySelector(".tag").textContent = spout ? "" : `cap ${cap.toFixed(2)}`;
    el.querySelector(".tag").style.fill = spout ? "" : capStroke(cap);
    fitText(el.querySelector(".name"), n, NODE_W - 24 - (spout ? 0 : el.querySelector(".tag").getComputedTextLength() + 8));
    const bar = el.querySelector(".capbar");
    bar.setAttribute("width", spout ? 0 : ((NODE_W - 20) * clamp(cap, 0, 1)).toFixed(1));
    bar.style.fill = capBar(cap);
    el.querySelector(".capbar-bg").style.display = spout ? "none" : "";
    el.querySelector("title").textContent = spout
      ? `${n} (spout): ${perSec(v[":rate"])} emitted, ${compact(v[":emitted"])} in the window`
      : `${n} (bolt): capacity ${cap.toFixed(3)}, execute latency ${millis(v[":latency"])} ms, executes ${perSec(executed)}, emits ${perSec(v[":rate"])}`;
  }
}

// ---------------------------------------------------------------- throughput charts

const SERIES = {
  spout: [
    ["emitted_rate", "emitted", "#2f6fd0"],
    ["acked_rate", "acked", "#2e9d5b"],
    ["failed_rate", "failed", "#d64541"],
  ],
  bolt: [
    ["executed_rate", "executed", "#7b4fd0"],
    ["emitted_rate", "emitted", "#2f6fd0"],
    ["failed_rate", "failed", "#d64541"],
  ],
};

function componentTypes() {
  const types = {};
  for (const sp of (state.topo && state.topo.spouts) || []) types[sp.spoutId] = "spout";
  for (const b of (state.topo && state.topo.bolts) || []) types[b.boltId] = "bolt";
  return types;
}

/** uPlot data ([times, ...series]) for one component from the timeseries answer. */
function seriesData(series, component, kind) {
  const pts = (series && series.points) || [];
  const t = state.topo;
  const start = t ? Date.now() / 1000 - num(t.uptimeSeconds) : 0; // points carry uptime seconds
  const xs = [];
  const ys = SERIES[kind].map(() => []);
  for (const p of pts) {
    const c = p[component];
    if (!c) continue;
    xs.push(start + num(p.time));
    SERIES[kind].forEach(([k], i) => ys[i].push(c[k] === undefined || c[k] === null ? null : num(c[k])));
  }
  return [xs, ...ys];
}

function hhmm(epoch, seconds) {
  const d = new Date(epoch * 1000);
  const p = (n) => String(n).padStart(2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}` + (seconds ? `:${p(d.getSeconds())}` : "");
}

function makeChart(el, kind, height) {
  const width = Math.max(200, el.clientWidth || 300);
  const axis = { stroke: "#6b7785", grid: { stroke: "#edf0f3", width: 1 }, ticks: { show: false }, font: "11px system-ui, sans-serif" };
  const timeAxis = { ...axis, size: 30, space: 70, values: (u, splits) => splits.map((v) => hhmm(v, u.scales.x.max - u.scales.x.min < 180)) };
  return new uPlot(
    {
      width,
      height,
      legend: { show: false },
      cursor: { points: { size: 5 } },
      scales: { x: { time: true }, y: { range: (u, lo, hi) => [0, Math.max(1, hi * 1.1)] } },
      axes: [timeAxis, { ...axis, size: 52, space: 24, values: (u, vals) => vals.map((v) => compact(v)) }],
      series: [{}, ...SERIES[kind].map(([, label, color], i) => ({ label, stroke: color, width: i ? 1.2 : 1.8, fill: i ? undefined : color + "18", points: { show: false } }))],
    },
    [[], ...SERIES[kind].map(() => [])],
    el,
  );
}

function renderCharts(series) {
  const box = $("#charts");
  const types = componentTypes();
  const names = Object.keys(types).filter((n) => !isSystem(n));
  for (const [name, c] of state.charts) {
    if (!names.includes(name)) {
      c.plot.destroy();
      c.el.remove();
      state.charts.delete(name);
    }
  }
  for (const name of names) {
    const kind = types[name];
    let c = state.charts.get(name);
    if (!c) {
      const value = h("span", { class: "now" });
      const plotEl = h("div", { class: "plot" });
      const key = h("span", { class: "key" }, SERIES[kind].map(([, label, color]) => h("span", {}, h("i", { style: `background:${color}` }), label)));
      const link = compLink(name);
      link.title = name;
      const el = h("div", { class: "chart", dataset: { component: name } }, h("div", { class: "chart-head" }, link, key, value), plotEl);
      box.append(el);
      c = { el, plotEl, value, kind, plot: makeChart(plotEl, kind, 120) };
      state.charts.set(name, c);
    }
    const data = seriesData(series, name, kind);
    c.plot.setData(data);
    const last = data[1].length ? data[1][data[1].length - 1] : null;
    c.value.textContent = last === null ? "" : perSec(last);
  }
}

function resizeCharts() {
  for (const c of state.charts.values()) c.plot.setSize({ width: Math.max(200, c.plotEl.clientWidth), height: 120 });
  if (drawer.plot) drawer.plot.setSize({ width: Math.max(200, drawer.plotEl.clientWidth), height: 140 });
}

// ---------------------------------------------------------------- logs

async function refreshLogs() {
  const q = new URLSearchParams({ after: String(state.logAfter), limit: "500" });
  if (state.logWorker !== "") q.set("worker", state.logWorker);
  const ans = await api(topoPath("/logs?" + q));
  const lines = ans.lines || [];
  const pre = $("#logs");
  if (ans.available === false && !lines.length) {
    if (!pre.dataset.unavailable) {
      pre.dataset.unavailable = "1";
      pre.replaceChildren(h("span", { class: "l warn" }, "This run keeps no worker log lines (its workers' output goes to the terminal of squall run)."));
    }
    return;
  }
  if (pre.dataset.unavailable) {
    delete pre.dataset.unavailable;
    pre.replaceChildren();
  }
  if (ans.next !== undefined) state.logAfter = num(ans.next);
  else if (lines.length) state.logAfter = num(lines[lines.length - 1].seq);
  if (!lines.length) return;
  const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 30;
  const frag = document.createDocumentFragment();
  for (const l of lines) {
    const text = String(l.line);
    const cls = /\b(ERROR|CRITICAL|Traceback)\b/.test(text) ? "l err" : /\bWARNING\b/.test(text) ? "l warn" : "l";
    frag.append(h("span", { class: cls }, h("span", { class: "w" }, `w${l.worker} `), text + "\n"));
  }
  pre.append(frag);
  while (pre.childNodes.length > LOG_KEEP) pre.firstChild.remove();
  if ($("#log-follow").checked && atBottom) pre.scrollTop = pre.scrollHeight;
}

function renderLogWorkers(list) {
  const sel = $("#log-worker");
  const want = ["", ...list.map((w) => String(w.index))];
  const have = [...sel.options].map((o) => o.value);
  if (JSON.stringify(want) === JSON.stringify(have)) return;
  const cur = sel.value;
  sel.replaceChildren(...want.map((v) => h("option", { value: v }, v === "" ? "all" : `worker ${v}`)));
  sel.value = want.includes(cur) ? cur : "";
}

function wireLogs() {
  $("#log-worker").addEventListener("change", (ev) => {
    state.logWorker = ev.target.value;
    state.logAfter = 0;
    $("#logs").replaceChildren();
    refreshLogs().catch(() => {});
  });
  $("#log-follow").addEventListener("change", (ev) => {
    if (ev.target.checked) $("#logs").scrollTop = $("#logs").scrollHeight;
  });
}

// ---------------------------------------------------------------- component drawer

const drawer = { plot: null, plotEl: null, kind: null, name: null, errorsKey: "" };

function openComponent(name) {
  const params = new URLSearchParams(location.hash.slice(1));
  params.set("component", name);
  location.hash = params.toString();
}

function closeComponent() {
  const params = new URLSearchParams(location.hash.slice(1));
  params.delete("component");
  const rest = params.toString();
  history.pushState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
  onHash();
}

function onHash() {
  takeTokenFromHash();
  showTokenState();
  const name = new URLSearchParams(location.hash.slice(1)).get("component");
  state.component = name || null;
  const el = $("#drawer");
  if (!name) {
    el.hidden = true;
    document.body.classList.remove("drawer-open");
    return;
  }
  if (drawer.name !== name) {
    if (drawer.plot) drawer.plot.destroy();
    Object.assign(drawer, { plot: null, plotEl: null, kind: null, name, errorsKey: "", samples: [], sampleAfter: 0, sampleUntil: 0 });
    $("#drawer-title").textContent = name;
    $("#drawer-sub").textContent = "";
    $("#drawer-body").replaceChildren(h("p", { class: "empty" }, "loading…"));
  }
  el.hidden = false;
  document.body.classList.add("drawer-open");
  refreshComponent().catch((e) => $("#drawer-body").replaceChildren(h("p", { class: "error-text" }, e.message)));
}

async function refreshComponent() {
  const name = state.component;
  if (!name || !state.id) return;
  const c = await api(topoPath(`/component/${encodeURIComponent(name)}?window=${encodeURIComponent(state.window)}`));
  if (state.component !== name) return;
  renderComponent(c);
}

function renderComponent(c) {
  const kind = c.componentType === "spout" ? "spout" : "bolt";
  $("#drawer-sub").textContent = `${kind} · ${c.executors} executor(s) · ${c.tasks} task(s) · window: ${WINDOWS[state.window]}`;
  const body = $("#drawer-body");
  if (drawer.kind !== kind) {
    drawer.kind = kind;
    drawer.plotEl = h("div", { class: "plot" });
    body.replaceChildren(
      h("section", {}, h("h3", {}, "Throughput"), drawer.plotEl),
      h("section", {}, h("h3", {}, "Windows"), h("div", { class: "scroll" }, h("table", { class: "stats", id: "c-windows" }))),
      h("section", {}, h("h3", {}, "Tasks (executors)"), h("div", { class: "scroll" }, h("table", { class: "stats", id: "c-executors" }))),
      h("div", { class: "grid2 tight" },
        h("section", {}, h("h3", {}, "Inputs"), h("table", { class: "stats", id: "c-inputs" })),
        h("section", {}, h("h3", {}, "Output streams"), h("table", { class: "stats", id: "c-outputs" }))),
      h("section", {}, h("h3", {}, "Errors"), h("div", { id: "c-errors" })),
      h("section", { id: "c-metrics-sec", hidden: true }, h("h3", {}, "The component's own figures"), h("table", { class: "stats", id: "c-metrics" })),
      h(
        "section",
        {},
        h("h3", {}, "Tuples flowing (sample)"),
        h(
          "div",
          { class: "sample-bar" },
          h("label", { class: "inline" }, "stream ", h("select", { id: "c-sample-stream" }, h("option", { value: "" }, "all"))),
          h("label", { class: "inline" }, "for ", h("input", { type: "number", id: "c-sample-secs", min: 1, max: 600, value: 30 }), " s"),
          h("button", { type: "button", class: "btn", id: "c-sample-go", onclick: startSampling }, "Sample"),
          h("span", { class: "hint", id: "c-sample-state" }, "captures what this component emits (Storm UI's debug sampling); off unless asked"),
        ),
        h("div", { class: "scroll samples" }, h("table", { class: "stats", id: "c-samples" })),
      ),
    );
    drawer.samples = [];
    drawer.sampleAfter = 0;
    drawer.sampleUntil = 0;
    drawer.plot = makeChart(drawer.plotEl, kind, 140);
  }
  const spout = kind === "spout";
  fillTable(
    $("#c-windows"),
    [
      { key: "windowPretty", label: "window", render: (r) => r.windowPretty || r.window },
      countCol("emitted", "emitted"),
      countCol("transferred", "transferred"),
      ...(spout ? [] : [countCol("executed", "executed")]),
      countCol("acked", "acked"),
      countCol("failed", "failed"),
      ...(spout ? [{ key: "completeLatency", label: "complete latency (ms)", num: true, render: (r) => completeLatency(r.completeLatency, r.acked) }] : [msCol("executeLatency", "execute"), msCol("processLatency", "process"), { key: "capacity", label: "capacity", num: true, render: (r) => capacityCell(r.capacity, false) }]),
    ],
    c.spoutSummary || c.boltStats || [],
  );
  fillTable(
    $("#c-executors"),
    [
      { key: "id", label: "executor" },
      { key: "task", label: "task", num: true },
      {
        key: "worker",
        label: "worker",
        render: (r) => h("span", { title: [r.host && `host ${r.host}`, r.uptime && `up ${r.uptime}`].filter(Boolean).join(", ") }, `${r.worker ?? "?"}`, r.pid ? h("span", { class: "dim" }, ` · pid ${r.pid}`) : ""),
      },
      countCol("emitted", "emitted"),
      countCol("transferred", "transferred"),
      ...(spout ? [] : [countCol("executed", "executed")]),
      countCol("acked", "acked"),
      { ...countCol("failed", "failed"), cls: (r) => (num(r.failed) ? "bad" : "") },
      ...(spout ? [{ key: "completeLatency", label: "complete latency (ms)", num: true, render: (r) => completeLatency(r.completeLatency, r.acked) }] : [msCol("executeLatency", "execute"), msCol("processLatency", "process"), { key: "capacity", label: "capacity", num: true, render: (r) => capacityCell(r.capacity, false) }]),
    ],
    c.executorStats || [],
  );
  fillTable(
    $("#c-inputs"),
    [
      { key: "component", label: "from", render: (r) => compLink(r.component) },
      { key: "stream", label: "stream" },
      { key: "grouping", label: "grouping", render: (r) => groupingText(r.grouping) },
    ],
    (c.inputStats || []).filter((r) => !isSystem(r.component)),
  );
  fillTable($("#c-outputs"), [{ key: "stream", label: "stream" }, countCol("emitted", "emitted"), countCol("transferred", "transferred")], (c.outputStats || []).filter((r) => !isSystem(r.stream)));
  const errs = c.componentErrors || [];
  const ekey = JSON.stringify(errs.map((e) => [e.errorTime, e.task, e.error]));
  if (ekey !== drawer.errorsKey) {
    drawer.errorsKey = ekey;
    const box = $("#c-errors");
    box.replaceChildren();
    if (!errs.length) box.append(h("p", { class: "empty" }, "No errors."));
    [...errs].reverse().forEach((e, i) => box.append(errorItem(e, `c:${c.id}:${e.errorTime}:${e.task}:${i}`)));
  }
  const own = [
    ...Object.entries(c.metrics || {}).map(([name, value]) => ({ name: name.replaceAll("_", " "), value, kind: "total over the run" })),
    ...Object.entries(c.gauges || {}).map(([name, value]) => ({ name: name.replaceAll("_", " "), value, kind: "now" })),
  ];
  $("#c-metrics-sec").hidden = !own.length;
  fillTable($("#c-metrics"), [{ key: "name", label: "figure" }, countCol("value", "value"), { key: "kind", label: "" }], own);
  renderSampleStreams(c.outputStats || []);
  if (state.series) drawer.plot.setData(seriesData(state.series, drawer.name, kind));
  for (const g of document.querySelectorAll("#graph g.node")) g.classList.toggle("selected", g.dataset.component === drawer.name);
}

const SAMPLES_KEEP = 200;

function renderSampleStreams(outputs) {
  const sel = $("#c-sample-stream");
  if (!sel) return;
  const want = ["", ...outputs.map((o) => o.stream).filter((x) => !isSystem(x))];
  if (JSON.stringify(want) === JSON.stringify([...sel.options].map((o) => o.value))) return;
  const cur = sel.value;
  sel.replaceChildren(...want.map((v) => h("option", { value: v }, v || "all")));
  sel.value = want.includes(cur) ? cur : "";
}

async function startSampling() {
  const name = drawer.name;
  const secs = clamp(Math.round(num($("#c-sample-secs").value) || 30), 1, 600);
  const stream = $("#c-sample-stream").value;
  const q = stream ? "?stream=" + encodeURIComponent(stream) : "";
  const ok = await post(`/component/${encodeURIComponent(name)}/debug/enable/${secs}${q}`, `Sampling ${name} for ${secs} s`);
  if (ok && drawer.name === name) {
    drawer.sampleUntil = Date.now() + secs * 1000;
    refreshSamples().catch(() => {});
  }
}

async function refreshSamples() {
  const name = drawer.name;
  if (!name || !$("#c-samples")) return;
  const ans = await api(topoPath(`/component/${encodeURIComponent(name)}/sample?after=${drawer.sampleAfter}`));
  if (drawer.name !== name) return;
  const got = ans.samples || [];
  if (ans.next !== undefined) drawer.sampleAfter = num(ans.next);
  drawer.samples = [...drawer.samples, ...got].slice(-SAMPLES_KEEP);
  const left = Math.ceil((drawer.sampleUntil - Date.now()) / 1000);
  $("#c-sample-state").textContent =
    ans.available === false
      ? "this run cannot sample tuples"
      : left > 0
        ? `sampling… ${left} s left, ${drawer.samples.length} tuple(s)`
        : drawer.samples.length
          ? `${drawer.samples.length} tuple(s) sampled (newest first)`
          : "captures what this component emits (Storm UI's debug sampling); off unless asked";
  if (!got.length && $("#c-samples").childNodes.length) return;
  fillTable(
    $("#c-samples"),
    [
      { key: "time", label: "time", render: (r) => clock(r.time) },
      { key: "task", label: "task", num: true },
      { key: "stream", label: "stream" },
      { key: "values", label: "values", render: (r) => h("code", {}, truncate(JSON.stringify(r.values), 200)) },
    ],
    [...drawer.samples].reverse(),
  );
}

function wireDrawer() {
  $("#drawer-close").addEventListener("click", closeComponent);
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && state.component && !document.querySelector("dialog[open]")) closeComponent();
  });
  window.addEventListener("hashchange", onHash);
}

// ---------------------------------------------------------------- the poll loop

function setConnected(ok, err) {
  const b = $("#banner");
  if (ok) {
    state.failures = 0;
    state.lastOk = Date.now();
    b.hidden = true;
    document.body.classList.remove("offline");
    return;
  }
  state.failures++;
  if (state.failures < 2 && state.lastOk) return; // one missed answer is not worth a banner
  b.hidden = false;
  document.body.classList.add("offline");
  const since = state.lastOk ? ` Last update at ${new Date(state.lastOk).toLocaleTimeString([], { hour12: false })}.` : "";
  b.textContent = `No answer from the Squall UI server (${err && err.message ? err.message : "unreachable"}): the run may have ended.${since} Retrying…`;
}

let tick = 0;
let timer = 0;
let running = false;

async function refresh() {
  if (!state.id) await discover();
  tick++;
  const win = encodeURIComponent(state.window);
  const [topo, viz, workers, errors, series] = await Promise.allSettled([
    api(topoPath(`?window=${win}`)),
    api(topoPath("/visualization")),
    api(topoPath("/workers")),
    api(topoPath("/errors")),
    tick % 2 === 1 || !state.series ? api(topoPath("/timeseries")) : Promise.resolve(state.series),
  ]);
  if (topo.status === "rejected") {
    if (topo.reason instanceof ApiError && topo.reason.status === 404) await discover(); // a new run on this port
    throw topo.reason;
  }
  state.topo = topo.value;
  renderSummary(state.topo);
  renderSpouts(state.topo);
  renderBolts(state.topo);
  renderConfig(state.topo.configuration);
  if (viz.status === "fulfilled") {
    state.viz = viz.value;
    updateGraph(state.viz, state.topo);
  }
  renderTotals(state.topo);
  renderInsight(state.topo, state.viz);
  if (workers.status === "fulfilled") {
    state.workers = workers.value.workers || [];
    renderWorkers(state.workers);
    renderLogWorkers(state.workers);
  }
  if (errors.status === "fulfilled") renderErrors(errors.value.errors || []);
  if (series.status === "fulfilled") {
    state.series = series.value;
    renderCharts(state.series);
  }
  await Promise.allSettled([refreshLogs(), refreshComponent().then(() => refreshSamples())]);
}

async function loop() {
  if (running) return;
  running = true;
  clearTimeout(timer);
  try {
    await refresh();
    setConnected(true);
  } catch (e) {
    setConnected(false, e);
  } finally {
    running = false;
    const backoff = state.failures ? Math.min(10000, POLL_MS * 2 ** Math.min(state.failures, 4)) : 0;
    timer = setTimeout(loop, Math.max(document.hidden ? HIDDEN_POLL_MS : POLL_MS, backoff));
  }
}

function refreshSoon() {
  clearTimeout(timer);
  timer = setTimeout(loop, 50);
}

function main() {
  takeTokenFromHash();
  showTokenState();
  wireActions();
  wireWindow();
  wireLogs();
  wireDrawer();
  window.addEventListener("resize", resizeCharts);
  document.addEventListener("visibilitychange", () => !document.hidden && refreshSoon());
  onHash();
  loop();
}

main();
