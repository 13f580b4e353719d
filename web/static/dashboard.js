// roman dashboard: renders GET <base>/summary and re-fetches it whenever the
// live stream (<base>/events, Server-Sent Events) reports a change. Data is
// written with textContent only, never as HTML. No libraries, no build step.
"use strict";

// layoutLabels places a chart's event labels so that none overlaps another.
// items are [{x, text}] (x: the event's line); opts: left and right bounds,
// rows (how many rows labels may stack in), gap (the least space between two
// labels of a row), pad (from the line to its label) and measure(text) (a
// label's width). Each label, in order of x, sits right of its line, or left
// of it when that side crosses the right bound or is taken, in the first row
// where it fits; where no row has room for the whole text, it is shortened
// with "…" to the longest text that fits, and left empty when not even one
// character does. Returns, in the input's order, [{x, row, anchor, text,
// full, left, right}]: x and anchor ("start" or "end") place an SVG text,
// left and right are its extent.
function layoutLabels(items, opts) {
  const left = opts.left, right = opts.right, rows = opts.rows || 3;
  const gap = opts.gap === undefined ? 4 : opts.gap, pad = opts.pad === undefined ? 3 : opts.pad;
  const measure = opts.measure;
  const taken = Array.from({ length: rows }, () => []); // per row: [[left, right], ...]
  const fits = (row, l, r) => l >= left && r <= right && taken[row].every(([a, b]) => r + gap <= a || l >= b + gap);
  const order = items.map((_, i) => i).sort((a, b) => items[a].x - items[b].x || a - b);
  const out = new Array(items.length);
  for (const i of order) {
    const x = items[i].x, full = String(items[i].text);
    const chars = Array.from(full);
    let placed = null;
    for (let n = chars.length; n >= 1 && !placed; n--) {
      const text = n === chars.length ? full : chars.slice(0, n).join("").trimEnd() + "…";
      const w = measure(text);
      const sides = x + pad + w > right ? ["end", "start"] : ["start", "end"];
      for (let row = 0; row < rows && !placed; row++) {
        for (const anchor of sides) {
          const l = anchor === "start" ? x + pad : x - pad - w, r = l + w;
          if (fits(row, l, r)) {
            placed = { x: anchor === "start" ? x + pad : x - pad, row, anchor, text, full, left: l, right: r };
            taken[row].push([l, r]);
            break;
          }
        }
      }
    }
    out[i] = placed || { x: x + pad, row: 0, anchor: "start", text: "", full, left: x + pad, right: x + pad };
  }
  return out;
}

if (typeof module === "object" && module.exports) module.exports = { layoutLabels };

(function () {
  if (typeof document === "undefined") return;
  // Times a page renders in UTC show in the browser's time zone.
  for (const t of document.querySelectorAll("time[datetime]")) {
    const d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) { t.title = t.textContent; t.textContent = d.toLocaleString(); }
  }
  window.romanDashboard = { layoutLabels };
  const app = document.getElementById("app");
  if (!app) return;
  const base = app.dataset.base;
  let range = app.dataset.range || "24h";
  const openRollbacks = new Set();
  let skewMs = 0; // server clock minus browser clock
  let lastSummary = null;

  // ---- small helpers ----
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  }
  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  // At most one decimal and none when whole, like the server's texts.
  function rate(v) { return String(Math.round(v * 10) / 10); }
  function pct(r) { return r === null || r === undefined ? "–" : (Math.round(r * 1000) / 10) + "%"; }
  function dur(s) {
    if (s === null || s === undefined) return "–";
    if (s < 1) return Math.round(s * 1000) + " ms";
    if (s < 60) return (Math.round(s * 10) / 10) + " s";
    const m = Math.floor(s / 60), r = Math.round(s % 60);
    return m + " min " + r + " s";
  }
  function now() { return Date.now() + skewMs; }
  function ago(iso) {
    const s = Math.max(0, (now() - Date.parse(iso)) / 1000);
    if (s < 60) return Math.floor(s) + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min ago";
    return Math.floor(s / 86400) + " d ago";
  }
  function clock(iso) {
    return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }
  function when(iso) {
    const d = new Date(iso);
    return d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + clock(iso);
  }
  function badge(text, cls) { return el("span", { class: "badge " + (cls || text), text: text }); }
  function remaining(endsAt) {
    const s = Math.max(0, Math.round((Date.parse(endsAt) - now()) / 1000));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0") + " left";
  }

  // ---- figures ----
  function renderStats(st) {
    document.getElementById("stat-total").textContent = st.total;
    document.getElementById("stat-breakdown").textContent =
      st.succeeded + " succeeded · " + st.failed + " failed · " + st.aborted + " rejected" +
      (st.unfinished ? " · " + st.unfinished + " running" : "");
    document.getElementById("stat-success").textContent = pct(st.success_rate);
    document.getElementById("stat-duration").textContent = dur(st.average_duration_seconds);
    document.getElementById("stat-approval").textContent = pct(st.approval_rate);
    document.getElementById("stat-validations").textContent = st.approved + " of " + st.validations + " validations approved";
  }

  // ---- environments ----
  function renderEnvironments(envs) {
    const box = document.getElementById("environments");
    if (!envs.length) {
      box.replaceChildren(el("p", { class: "muted", text: "No successful deployment recorded yet." }));
      return;
    }
    box.replaceChildren(...envs.map(envCard));
  }

  function envCard(e) {
    const d = e.deployment, h = e.health;
    const status = h ? h.status : "unknown";
    const service = e.service || d.service || "default";
    const dl = el("dl", {},
      el("dt", { text: "Service" }), el("dd", { class: "service", text: service }),
      el("dt", { text: "Commit" }), el("dd", {}, el("code", { text: d.git_commit }), " on ", el("code", { text: d.git_branch })),
      el("dt", { text: "Deployed" }), el("dd", { "data-ago": d.completed_at || d.deployed_at, text: ago(d.completed_at || d.deployed_at) }),
      el("dt", { text: "Error rate" }), el("dd", { class: "error-rate", text: h ? rate(h.error_rate_per_minute) + " errors/minute" : "–" }),
      el("dt", { text: "Recent errors" }), el("dd", { text: h ? h.recent_errors + " in 5 minutes" : "–" }),
      el("dt", { text: "Watch window" }), el("dd", {}, watchText(e.watch)));
    if (e.rolled_back_from) {
      dl.append(el("dt", { text: "Restored" }), el("dd", { text: "by rollback from " + e.rolled_back_from }));
    }
    if (e.rollback) dl.append(el("dt", { text: "Rollback" }), decision(e.rollback));
    if (e.decision) dl.append(el("dt", { text: "Decision" }), decision(e.decision));
    if (e.judgement) {
      const j = e.judgement;
      dl.append(el("dt", { text: "Judge" }), el("dd", { class: "judgement verdict-" + j.verdict, "data-verdict": j.verdict },
        el("strong", { text: j.judge + ": " + j.verdict }), " ", el("span", { class: "why", text: j.why })));
    }
    if (h && h.reason) dl.append(el("dt", { text: "Trigger" }), el("dd", { text: h.reason }));
    if (h && h.warnings && h.warnings.length) dl.append(el("dt", { text: "Warnings" }), el("dd", { text: h.warnings.join("; ") }));
    if (e.new_errors && e.new_errors.length) {
      dl.append(el("dt", { text: "New errors" }), el("dd", {},
        el("ul", { class: "new-errors" }, ...e.new_errors.map((g) =>
          el("li", { title: "fingerprint " + g.fingerprint + ", first seen " + g.first_seen },
            el("span", { class: "count", text: g.count + (g.count === 1 ? " event" : " events") }), " ",
            el("span", { class: "message", text: (g.error_type ? g.error_type + ": " : "") + g.message }))))));
    }
    if (e.health_error) dl.append(el("dt", { text: "Health" }), el("dd", { text: e.health_error }));
    return el("article", { class: "env", "data-environment": e.environment, "data-service": service },
      el("header", {}, el("h3", { text: e.environment }),
        el("span", { class: "head-right" },
          el("a", { class: "explain-link", href: e.explain_url, title: "Why: the decision timeline of " + d.version, text: "explain" }),
          " ", badge(status, status))),
      el("div", { class: "version", text: d.version }),
      dl, chart(e), legend(e));
  }

  function hm(iso) { return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }); }

  // decisionText is a decision's headline, its longer reason (when the
  // headline does not say it all) and the command to run.
  function decisionText(dc) {
    const at = " at " + hm(dc.at);
    switch (dc.kind) {
      case "breach": return [ "Breach: " + dc.reason + at ];
      case "suppressed": case "manual_intervention": {
        const head = (dc.kind === "suppressed" ? "Rollback suppressed: " : "Manual intervention required: ") +
          (dc.suppressed_by ? dc.suppressed_by.replaceAll("_", " ") : dc.reason) +
          (dc.suppressed_until ? " until " + hm(dc.suppressed_until) : "");
        return [head, dc.suppressed_by ? dc.reason : ""];
      }
      case "alert_only": return ["Alert only: " + dc.reason + at];
      case "rollback_triggered": return ["Rollback triggered: " + dc.reason + at];
      case "window_passed": return ["Window passed" + at];
      case "window_failed": return ["Window failed" + at, dc.reason];
      case "window_unverified": return ["Window unverified" + at, dc.reason];
      case "rolled_back": return ["Rolled back to " + (dc.target_version || "?") + " from " + (dc.version || "?") +
        (dc.status && dc.status !== "success" ? " (rollback " + dc.status + ")" : "") + ": " + dc.reason + at];
      default: return [dc.kind + ": " + dc.reason + at];
    }
  }

  function decision(dc) {
    const [head, more] = decisionText(dc);
    return el("dd", { class: "decision sev-" + dc.severity, "data-kind": dc.kind },
      el("span", { class: "headline", title: dc.at, text: head }), " ",
      el("a", { class: "explain", href: dc.explain_url, title: "Why: the decision timeline of " + (dc.version || "this release"), text: "why?" }),
      more ? el("span", { class: "detail", text: more }) : null,
      dc.command ? el("span", { class: "command" }, "run: ", el("code", { text: dc.command })) : null);
  }

  function watchText(w) {
    switch (w.state) {
      case "watching": return el("span", {}, badge("watching"), " ", el("span", { class: "num", "data-ends-at": w.ends_at, text: remaining(w.ends_at) }));
      case "passed": return badge("passed");
      case "pending": return badge("pending");
      default: return el("span", { class: "muted", text: "ended" });
    }
  }

  function legend(e) {
    const items = e.chart.series.map(s => el("span", {},
      el("span", { class: "sw " + s.kind }),
      s.version + (s.kind === "current" ? " (current)" : s.ended_at ? " (rolled back, until " + clock(s.ended_at) + ")" : " (rolled back)")));
    items.push(el("span", {}, el("span", { class: "sw trigger" }), "trigger " + rate(e.thresholds.error_rate) + "/min"));
    items.push(el("span", {}, el("span", { class: "sw warning" }), "warning " + rate(e.thresholds.warn_error_rate) + "/min"));
    return el("div", { class: "legend" }, ...items);
  }

  // chart draws the error rate per minute of each charted deployment with
  // the trigger and warning thresholds and the chart's markers, as SVG.
  function chart(e) {
    const c = e.chart, W = 600, H = 190, L = 34, R = 10, T = 12, B = 22;
    const from = Date.parse(c.from), to = Date.parse(c.to), span = Math.max(1, to - from);
    let top = Math.max(e.thresholds.error_rate * 1.4, 1);
    for (const s of c.series) for (const v of s.rates) top = Math.max(top, v * 1.15);
    const x = t => L + (W - L - R) * (t - from) / span;
    const y = v => T + (H - T - B) * (1 - v / top);
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, class: "chart", role: "img",
      "aria-label": "Error rate per minute in " + e.environment });
    const stepV = niceStep(top / 4);
    for (let v = 0; v <= top; v += stepV) {
      root.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      root.append(svg("text", { x: L - 4, y: y(v) + 3, "text-anchor": "end" }, rate(v)));
    }
    const thr = [["warning", e.thresholds.warn_error_rate, "warning"], ["trigger", e.thresholds.error_rate, "trigger"]];
    for (const [cls, v, label] of thr) {
      if (!(v > 0) || v > top) continue;
      root.append(svg("line", { class: cls, x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      root.append(svg("text", { class: cls + "-label", x: L + 4, y: y(v) - 3 }, label + " " + rate(v) + "/min"));
    }
    // Marker labels never overlap: layoutLabels stacks close ones over
    // three rows and shortens what still does not fit (the line's tooltip
    // keeps the whole label).
    const xs = c.markers.map(m => x(Date.parse(m.at)));
    const labels = layoutLabels(c.markers.map((m, i) => ({ x: xs[i], text: m.label })),
      { left: L, right: W - R, rows: 3, gap: 4, pad: 3, measure: labelWidth });
    c.markers.forEach((m, i) => {
      const line = svg("line", { class: "marker " + m.kind, x1: xs[i], x2: xs[i], y1: T, y2: H - B });
      line.append(svg("title", {}, m.label + " · " + clock(m.at)));
      root.append(line);
      const p = labels[i];
      if (!p.text) return;
      // Rows are 13 units apart: a 10px label's box (ascent and descent)
      // is about 12 high, so rows never touch.
      const t = svg("text", { class: "marker-label", x: p.x, y: T + 9 + p.row * 13, "text-anchor": p.anchor, "data-kind": m.kind }, p.text);
      if (p.text === p.full) { root.append(t); return; }
      const g = svg("g", {});
      g.append(svg("title", {}, p.full), t);
      root.append(g);
    });
    const stepMs = c.step_seconds * 1000;
    for (const s of c.series) {
      if (!s.rates.length) continue;
      const pts = s.rates.map((v, i) => x(from + i * stepMs).toFixed(1) + "," + y(v).toFixed(1)).join(" ");
      root.append(svg("polyline", { class: "series " + s.kind, points: pts, "data-version": s.version,
        "data-points": s.rates.length, "data-ended-at": s.ended_at || "" }));
      if (s.ended_at) {
        const n = s.rates.length - 1;
        root.append(svg("circle", { class: "series-end " + s.kind, cx: x(from + n * stepMs).toFixed(1), cy: y(s.rates[n]).toFixed(1), r: 2.5 }));
      }
    }
    root.append(svg("text", { x: L, y: H - 6 }, clock(c.from)));
    root.append(svg("text", { x: W - R, y: H - 6, "text-anchor": "end" }, clock(c.to)));
    root.append(svg("text", { x: L + 2, y: T - 2 }, "errors/minute"));
    return root;
  }

  // labelWidth is a marker label's width in the chart's units (its text is
  // 10px in the page's font), with a pixel to spare for rounding.
  let measureCtx = null;
  function labelWidth(text) {
    if (!measureCtx) {
      measureCtx = document.createElement("canvas").getContext("2d");
      measureCtx.font = "10px " + getComputedStyle(document.body).fontFamily;
    }
    return measureCtx.measureText(text).width + 1;
  }

  function niceStep(raw) {
    const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-9))));
    for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }

  // ---- rollbacks ----
  function renderRollbacks(rbs) {
    const body = document.querySelector("#rollbacks tbody");
    if (!rbs.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: "7", class: "muted", text: "No rollback in this range." })));
      return;
    }
    const rows = [];
    for (const r of rbs) {
      const open = openRollbacks.has(r.event_id);
      const tr = el("tr", { class: "rollback" + (open ? " open" : ""), tabindex: "0", "data-event-id": r.event_id,
        "aria-expanded": open ? "true" : "false", "data-status": r.status, "data-trigger": r.trigger_type },
        el("td", { class: "num", title: r.initiated_at, text: when(r.initiated_at) }),
        el("td", { text: r.environment }),
        el("td", { class: "num", text: (r.version || "?") + " → " + (r.target_version || "–") }),
        el("td", {}, badge(r.trigger_type, "info")),
        el("td", { class: "reason", text: r.trigger_reason }),
        el("td", {}, badge(r.status)),
        el("td", { class: "num", text: dur(r.duration_seconds) }));
      const toggle = () => {
        if (openRollbacks.has(r.event_id)) openRollbacks.delete(r.event_id); else openRollbacks.add(r.event_id);
        if (lastSummary) renderRollbacks(lastSummary.rollbacks);
      };
      tr.addEventListener("click", toggle);
      tr.addEventListener("keydown", ev => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); toggle(); } });
      rows.push(tr);
      if (open) rows.push(stepsRow(r));
    }
    body.replaceChildren(...rows);
  }

  function stepsRow(r) {
    const steps = r.rollback_steps || [];
    const list = el("ol", { class: "step-list" }, ...steps.map(s => {
      const ms = Date.parse(s.finished_at) - Date.parse(s.started_at);
      return el("li", { "data-step": s.name },
        el("strong", { text: s.name.replaceAll("_", " ") }), " ", badge(s.status), " ",
        el("span", { class: "muted num", text: dur(ms / 1000) }),
        s.detail ? el("span", { class: "detail", text: detailText(s.detail) }) : null);
    }));
    const content = steps.length ? list : el("p", { class: "muted", text: "No step recorded yet." });
    return el("tr", { class: "steps", "data-steps-for": r.event_id }, el("td", { colspan: "7" }, content));
  }

  // detailText shortens a step's JSON detail to one readable line.
  function detailText(d) {
    if (typeof d !== "object" || d === null) return String(d);
    if (d.error) return "error: " + d.error;
    const parts = [];
    for (const [k, v] of Object.entries(d)) {
      if (k === "results" || k === "health" && typeof v === "object") continue;
      if (Array.isArray(v)) parts.push(k + ": " + (v.length ? v.join("; ") : "none"));
      else if (typeof v !== "object" || v === null) parts.push(k + ": " + v);
    }
    if (d.health && typeof d.health === "object") parts.push("health: " + d.health.status + ", " + rate(d.health.error_rate_per_minute) + " errors/minute");
    return parts.join(" · ");
  }

  // ---- loading and live updates ----
  let loading = false, again = false;
  async function load() {
    if (loading) { again = true; return; }
    loading = true;
    try {
      const res = await fetch(base + "/summary?range=" + encodeURIComponent(range), {
        credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" });
      if (res.status === 401) { location.reload(); return; }
      if (!res.ok) throw new Error("summary: HTTP " + res.status);
      const s = await res.json();
      skewMs = Date.parse(s.generated_at) - Date.now();
      lastSummary = s;
      renderStats(s.stats);
      renderEnvironments(s.environments);
      renderRollbacks(s.rollbacks);
      document.getElementById("updated").textContent = "Updated " + clock(s.generated_at) + ".";
      app.dataset.generatedAt = s.generated_at;
    } catch (err) {
      document.getElementById("updated").textContent = "Could not update: " + err.message;
    } finally {
      loading = false;
      if (again) { again = false; schedule(); }
    }
  }

  let timer = null;
  function schedule() {
    if (timer) return;
    timer = setTimeout(() => { timer = null; load(); }, 120);
  }

  const live = document.getElementById("live");
  function setLive(state, text) { live.dataset.state = state; live.textContent = text; }
  function connect() {
    if (!window.EventSource) { setLive("offline", "no live updates"); return; }
    const es = new EventSource(base + "/events");
    es.addEventListener("ready", () => { setLive("live", "live"); schedule(); });
    es.addEventListener("change", schedule);
    es.onerror = () => setLive("connecting", "reconnecting…");
  }

  // Countdowns and ages tick in the browser between summaries.
  setInterval(() => {
    for (const e of document.querySelectorAll("[data-ends-at]")) e.textContent = remaining(e.dataset.endsAt);
    for (const e of document.querySelectorAll("[data-ago]")) e.textContent = ago(e.dataset.ago);
  }, 1000);

  const sel = document.getElementById("range");
  if (sel) sel.addEventListener("change", () => {
    range = sel.value;
    history.replaceState(null, "", base + "?range=" + encodeURIComponent(range));
    load();
  });

  load();
  connect();
})();
