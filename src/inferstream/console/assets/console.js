// inferstream console: renders the view the server pushes over server-sent events (/api/events).
// Plain DOM + hand-drawn SVG: no framework and nothing from a CDN, so the page works offline.
"use strict";

const NS = "http://www.w3.org/2000/svg";
const NODE_H = 56;
let graphDrawn = "";

function el(tag, attrs = {}, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
const fmt = (n) => (n === null || n === undefined ? "—" : Math.round(n).toLocaleString("en-US"));
const fmtMs = (n) => (n === null || n === undefined ? "—" : n < 10 ? n.toFixed(2) + " ms" : n.toFixed(0) + " ms");
function counted(node, value) { node.textContent = fmt(value); node.dataset.value = String(value ?? ""); return node; }

function drawGraph(view) {
  const g = view.graph, svg = document.getElementById("graph");
  const key = JSON.stringify([g.streamlets.map((s) => s.name), g.edges.length]);
  if (key !== graphDrawn) {
    graphDrawn = key;
    svg.replaceChildren();
    svg.setAttribute("width", g.width); svg.setAttribute("height", g.height);
    svg.setAttribute("viewBox", `0 0 ${g.width} ${g.height}`);
    const defs = el("svg:defs"), marker = el("svg:marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10",
      refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
    marker.append(el("svg:path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#9aa6bd" }));
    defs.append(marker); svg.append(defs);
    const at = {};
    const NODE_W = g.streamlet_width;
    for (const s of g.streamlets) at[s.name] = { x: s.x, y: s.y, w: NODE_W, h: NODE_H };
    for (const t of g.topics) at["topic:" + t.name] = { x: t.x, y: t.y + 8, w: g.topic_width, h: 40 };
    const outlets = Object.fromEntries(g.streamlets.map((s) => [s.name, s.outlets.length]));
    for (const e of g.edges) {
      const a = at[e.from], b = at[e.to];
      if (!a || !b) continue;
      const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2, mx = (x1 + x2) / 2;
      svg.append(el("svg:path", { class: "edge", d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`,
        "data-from": e.from, "data-to": e.to }));
      if (outlets[e.from] > 1)  // name the outlet where a streamlet has several (a decider's outcomes)
        svg.append(el("svg:text", { class: "edge-label", x: mx, y: (y1 + y2) / 2 - 3, "text-anchor": "middle" }, e.port));
    }
    for (const t of g.topics) {
      const p = at["topic:" + t.name], group = el("svg:g", { class: "topic", "data-topic": t.name });
      group.append(el("svg:ellipse", { cx: p.x + p.w / 2, cy: p.y + p.h / 2, rx: p.w / 2, ry: p.h / 2 }));
      const short = t.label.length > 24 ? "…" + t.label.slice(-23) : t.label;
      group.append(el("svg:text", { x: p.x + p.w / 2, y: p.y + p.h / 2 + 3, "text-anchor": "middle" }, short));
      group.append(el("svg:title", {}, "topic " + t.name));
      svg.append(group);
    }
    for (const s of g.streamlets) {
      const group = el("svg:g", { class: "streamlet", "data-streamlet": s.name, transform: `translate(${s.x},${s.y})` });
      group.append(el("svg:rect", { width: NODE_W, height: NODE_H }));
      group.append(el("svg:text", { class: "name", x: 8, y: 17 }, s.name));
      group.append(el("svg:text", { class: "detail kind", x: 8, y: 32 }, `${s.kind} ×${s.instances}`));
      group.append(el("svg:text", { class: "detail counts", x: 8, y: 47 }, ""));
      group.append(el("svg:title", {}, s.class));
      svg.append(group);
    }
  }
  for (const s of g.streamlets) {
    const v = view.streamlets[s.name], node = svg.querySelector(`g.streamlet[data-streamlet="${CSS.escape(s.name)}"]`);
    if (!v || !node) continue;
    node.classList.toggle("failed", v.failures.length > 0);
    const parts = [];
    if (s.inlets.length) parts.push("in " + fmt(v.records_in));
    if (s.outlets.length) parts.push("out " + fmt(v.records_out));
    if (v.errors) parts.push("err " + fmt(v.errors));
    node.querySelector(".counts").textContent = parts.join(" · ");
  }
}

function sparkline(series) {
  const w = 220, h = 34, svg = el("svg:svg", { class: "spark", width: w, height: h, viewBox: `0 0 ${w} ${h}` });
  svg.append(el("svg:line", { class: "axis", x1: 0, y1: h - 1, x2: w, y2: h - 1 }));
  if (series.length < 2) return svg;
  const t1 = series[series.length - 1][0], span = Math.min(300, Math.max(60, t1 - series[0][0]));
  const t0 = t1 - span;
  const top = Math.max(1, ...series.map((p) => Math.max(p[1], p[2])));
  for (const [index, cls] of [[1, "in"], [2, "out"]]) {
    const points = series.filter((p) => p[0] >= t0)
      .map((p) => `${(((p[0] - t0) / span) * w).toFixed(1)},${(h - 2 - (p[index] / top) * (h - 4)).toFixed(1)}`);
    svg.append(el("svg:polyline", { class: cls, points: points.join(" ") }));
  }
  svg.append(el("svg:title", {}, `peak ${fmt(top)} records/s`));
  return svg;
}

function drawStreamlets(view) {
  const body = document.querySelector("#streamlets tbody");
  body.replaceChildren();
  for (const s of view.graph.streamlets) {
    const v = view.streamlets[s.name];
    if (!v) continue;
    const row = el("tr", { "data-streamlet": s.name });
    row.append(el("td", {}, s.name), el("td", { class: "instances" }, String(s.instances)));
    row.append(counted(el("td", { class: "in" }), v.records_in), counted(el("td", { class: "out" }), v.records_out));
    row.append(el("td", { class: "rate-in" }, fmt(v.rate_in)), el("td", { class: "rate-out" }, fmt(v.rate_out)));
    row.append(counted(el("td", { class: "errors" + (v.errors ? " bad" : "") }), v.errors));
    row.append(counted(el("td", { class: "dead-letters" + (v.dead_letters ? " bad" : "") }), v.dead_letters));
    const chart = el("td", { class: "chart" }); chart.append(sparkline(v.series)); row.append(chart);
    const links = el("td", { class: "state" });
    const urls = v.state_urls.length ? v.state_urls : ["/state/" + encodeURIComponent(s.name)];
    urls.forEach((url, i) => {
      if (i) links.append(" ");
      links.append(el("a", { href: url, target: "_blank", rel: "noopener" }, urls.length > 1 ? `/state #${i}` : "/state"));
    });
    row.append(links);
    body.append(row);
  }
}

function card(label, value, cls = "", raw) {
  const box = el("div", { class: "card " + cls });
  box.append(el("div", { class: "label" }, label));
  const v = el("div", { class: "value" }, value);
  if (raw !== undefined) v.dataset.value = String(raw);
  box.append(v);
  return box;
}

function drawDecisions(view) {
  const box = document.getElementById("decisions");
  box.replaceChildren();
  for (const s of view.graph.streamlets) {
    const v = view.streamlets[s.name];
    if (!v || s.outlets.length < 2) continue;  // a decider: one outlet per outcome
    const group = el("div", { class: "outlets", "data-streamlet": s.name });
    group.append(el("h3", {}, s.name));
    const cards = el("div", { class: "cards" });
    for (const outlet of s.outlets) {
      const c = card(outlet, fmt(v.outlets[outlet] ?? 0), outlet, v.outlets[outlet] ?? 0);
      c.dataset.outlet = outlet;
      cards.append(c);
    }
    group.append(cards); box.append(group);
  }
  if (!box.children.length) box.append(el("p", { class: "empty" }, "no streamlet with several outlets"));
}

function drawServing(view) {
  const box = document.getElementById("serving");
  const names = Object.keys(view.serving);
  if (!names.length) return;
  box.replaceChildren();
  for (const name of names) {
    const m = view.serving[name], group = el("div", { class: "model-serving", "data-streamlet": name });
    const models = m.models.map((x) => `${x.model} version ${x.version}`).join(", ") ||
      (m.state.map((s) => s && s.name).filter(Boolean)[0] ?? "—");
    group.append(el("h3", {}, `${name}: `), el("p", { class: "model" }, "serving " + models));
    group.querySelector("h3").append(el("small", {}, `${m.state.length} instance(s)`));
    const cards = el("div", { class: "cards" });
    cards.append(card("call p50", fmtMs(m.latency_p50_ms), "p50"), card("call p99", fmtMs(m.latency_p99_ms), "p99"),
      card("records / call", m.records_per_call === null ? "—" : m.records_per_call.toFixed(1), "per-call"),
      card("calls in flight", fmt(m.in_flight), "in-flight", m.in_flight),
      card("calls", fmt(m.calls), "calls", m.calls),
      card("failed attempts", fmt(m.error_total), "error call-errors", m.error_total));
    group.append(cards);
    const table = el("table", { class: "endpoints" });
    const head = el("tr");
    for (const h of ["endpoint", "health", "ok calls", "failed", "ejections"]) head.append(el("th", {}, h));
    table.append(head);
    for (const e of m.endpoints) {
      const row = el("tr", { "data-endpoint": e.endpoint });
      row.append(el("td", {}, e.endpoint), el("td", { class: "health " + (e.up ? "up" : "down") }, e.up ? "up" : "down"));
      row.append(counted(el("td", { class: "ok" }), e.ok), counted(el("td", { class: "failed" }), e.failed),
        counted(el("td", { class: "ejections" }), e.ejections));
      table.append(row);
    }
    group.append(table);
    const kinds = Object.entries(m.errors).map(([k, n]) => `${k}: ${fmt(n)}`).join(", ");
    if (kinds) group.append(el("p", { class: "error-kinds bad" }, "failed attempts by kind — " + kinds));
    box.append(group);
  }
}

function drawLags(view) {
  const body = document.querySelector("#lags tbody");
  body.replaceChildren();
  for (const l of view.lags) {
    const row = el("tr", { "data-topic": l.topic, "data-partition": String(l.partition) });
    row.append(el("td", {}, l.group), el("td", {}, l.topic), el("td", {}, l.partition < 0 ? "all" : String(l.partition)));
    row.append(l.lag === null ? el("td", { class: "bad" }, l.error || "?") : counted(el("td", { class: "lag" }), l.lag));
    body.append(row);
  }
  if (!view.lags.length) body.append(el("tr", {}, ""));
}

function render(view) {
  document.getElementById("app").textContent = view.app;
  document.getElementById("transport").textContent = view.transport;
  document.getElementById("elapsed").textContent = view.elapsed_s.toFixed(1) + " s";
  const status = document.getElementById("status");
  status.textContent = view.ended ? (view.ok ? "ended" : "ended with failures") : (view.ok ? "running" : "failing");
  status.className = "status " + (view.ended ? "ended" : "running") + (view.ok ? "" : " failed");
  document.body.dataset.version = String((Number(document.body.dataset.version) || 0) + 1);
  drawGraph(view); drawStreamlets(view); drawDecisions(view); drawServing(view); drawLags(view);
}

function connect() {
  const events = new EventSource("/api/events");
  events.addEventListener("view", (e) => render(JSON.parse(e.data)));
  events.onerror = () => {
    const status = document.getElementById("status");
    if (!status.classList.contains("ended")) { status.textContent = "disconnected"; status.className = "status failed"; }
    if (events.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
  };
}
connect();
