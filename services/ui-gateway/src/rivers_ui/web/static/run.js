// The run page: the step timeline (Gantt) and the event log, both built from the run's events.
// Stored events are read in pages of /api/runs/{id}/events; new ones arrive on the SSE
// stream (rivers.on("run_event")) and are appended, never re-fetched. Events are applied once,
// in sequence order (anything at or below the last applied seq is dropped).
(function () {
  "use strict";

  const gantt = document.getElementById("gantt");
  if (!gantt) return;
  const runId = gantt.dataset.run;
  const PAGE = 1000;
  const LEVELS = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };
  const ENDS = { STEP_SUCCESS: "success", STEP_FAILURE: "failure", STEP_SKIPPED: "skipped" };

  const steps = new Map();
  for (const key of JSON.parse(gantt.dataset.steps || "[]")) addStep(key);
  let runStart = parseFloat(gantt.dataset.start) || null;
  let runEnd = parseFloat(gantt.dataset.end) || null;
  let finished = gantt.dataset.finished === "true";
  let lastSeq = 0;
  let loading = false;
  let total = 0;
  let errorCount = 0;
  const buffered = [];
  const filters = { level: "", step: "", text: "" };

  const tbody = document.querySelector("#log tbody");
  const scroller = document.getElementById("log-scroll");
  const stepSelect = document.getElementById("log-step");
  const count = document.getElementById("log-count");

  function addStep(key) {
    if (!steps.has(key)) {
      steps.set(key, { key, start: null, end: null, outcome: "pending", attempts: 0 });
      const select = document.getElementById("log-step");
      if (select) {
        const option = document.createElement("option");
        option.value = key;
        option.textContent = key;
        select.appendChild(option);
      }
    }
    return steps.get(key);
  }

  // --- applying events ------------------------------------------------------------------

  function apply(event) {
    const kind = event.kind;
    const ts = event.timestamp;
    if (kind === "RUN_STARTED" && runStart == null) runStart = ts;
    if (kind === "RUN_SUCCESS" || kind === "RUN_FAILURE" || kind === "RUN_CANCELED") {
      runEnd = ts;
      finished = true;
      for (const step of steps.values()) {
        if (step.outcome === "running" || step.outcome === "retry") {
          step.end = ts;
          step.outcome = kind === "RUN_CANCELED" ? "canceled" : "failure";
        }
      }
    }
    if (!event.step_key) return;
    const step = addStep(event.step_key);
    if (kind === "STEP_STARTED") {
      if (step.start == null) step.start = ts;
      step.end = null;
      step.outcome = "running";
      step.attempts += 1;
    } else if (kind === "STEP_UP_FOR_RETRY") {
      step.outcome = "retry";
    } else if (ENDS[kind]) {
      if (step.start == null) step.start = ts;
      step.end = ts;
      step.outcome = ENDS[kind];
    }
  }

  function ingest(events) {
    const rows = document.createDocumentFragment();
    const stick = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 24;
    for (const event of events) {
      if (event.seq != null) {
        if (event.seq <= lastSeq) continue;
        lastSeq = event.seq;
      }
      apply(event);
      for (const line of expandLines(event)) {
        total += 1;
        rows.appendChild(logRow(line));
      }
      if (event.error) showError(event);
    }
    tbody.appendChild(rows);
    if (stick) scroller.scrollTop = scroller.scrollHeight;
    updateCount();
    drawSoon();
  }

  // --- the log --------------------------------------------------------------------------

  function clock(ts) {
    const d = new Date(ts * 1000);
    const pad = (n, w) => String(n).padStart(w || 2, "0");
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    if (text != null) td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function describe(event) {
    if (event.message) return event.message;
    const parts = [];
    if (event.asset_key) parts.push(event.asset_key);
    if (event.partition_key) parts.push(`[${event.partition_key}]`);
    return parts.join(" ");
  }

  function traceText(error) {
    // A Python traceback already ends with "Type: message"; without one, say just that.
    return (error.traceback || `${error.error_type}: ${error.message}`).trimEnd();
  }

  // Captured lines are stored in chunks (one LOG event, metadata.lines, lines joined by
  // newlines): show one row per line, as `rivers logs` does.
  function expandLines(event) {
    const meta = event.metadata || {};
    if (event.kind !== "LOG" || meta.lines == null || !event.message) return [event];
    const rest = Object.assign({}, meta);
    delete rest.lines;
    return event.message.split("\n").map((line) => Object.assign({}, event, { message: line, metadata: rest }));
  }

  function logRow(event) {
    const tr = document.createElement("tr");
    const level = (event.level || "INFO").toUpperCase();
    tr.dataset.level = level;
    tr.dataset.step = event.step_key || "";
    tr.dataset.seq = event.seq == null ? "" : event.seq;
    tr.className = "ev " + event.kind + (event.error ? " has-error" : "");
    const time = cell(tr, clock(event.timestamp), "t mono");
    time.title = new Date(event.timestamp * 1000).toISOString();
    cell(tr, null).appendChild(span("level " + level, level));
    const stepCell = cell(tr, null, "mono");
    if (event.step_key) {
      const link = span("step-link", event.step_key);
      link.dataset.step = event.step_key;
      link.title = "Show only this step's events";
      stepCell.appendChild(link);
    }
    cell(tr, null).appendChild(span("kind " + event.kind, event.kind));
    const message = cell(tr, describe(event), "msg");
    if (event.duration_ms != null) message.appendChild(span("muted small", ` (${fmtDuration(event.duration_ms / 1000)})`));
    if (event.error) {
      const pre = document.createElement("pre");
      pre.className = "trace";
      pre.textContent = traceText(event.error);
      message.appendChild(pre);
    }
    tr.hidden = !visible(tr);
    return tr;
  }

  function span(cls, text) {
    const el = document.createElement("span");
    el.className = cls;
    el.textContent = text;
    return el;
  }

  function visible(tr) {
    if (filters.level && (LEVELS[tr.dataset.level] || 20) < LEVELS[filters.level]) return false;
    if (filters.step && tr.dataset.step !== filters.step) return false;
    if (filters.text && !tr.textContent.toLowerCase().includes(filters.text)) return false;
    return true;
  }

  function refilter() {
    for (const tr of tbody.rows) tr.hidden = !visible(tr);
    updateCount();
    drawSoon();
  }

  function updateCount() {
    const filtered = filters.level || filters.step || filters.text;
    let text = `${total} event${total === 1 ? "" : "s"}`;
    if (filtered) {
      let shown = 0;
      for (const tr of tbody.rows) if (!tr.hidden) shown += 1;
      text += ` · ${shown} shown`;
    }
    count.textContent = loading ? text + " · loading…" : text;
  }

  function setStep(key) {
    filters.step = key;
    stepSelect.value = key;
    refilter();
  }

  document.getElementById("log-level").addEventListener("change", (ev) => {
    filters.level = ev.target.value;
    refilter();
  });
  stepSelect.addEventListener("change", (ev) => setStep(ev.target.value));
  let typing = null;
  document.getElementById("log-text").addEventListener("input", (ev) => {
    clearTimeout(typing);
    typing = setTimeout(() => { filters.text = ev.target.value.trim().toLowerCase(); refilter(); }, 150);
  });
  tbody.addEventListener("click", (ev) => {
    const link = ev.target.closest(".step-link");
    if (link) setStep(filters.step === link.dataset.step ? "" : link.dataset.step);
  });

  // --- errors ---------------------------------------------------------------------------

  function showError(event) {
    errorCount += 1;
    if (errorCount > 20) return;
    const panel = document.getElementById("errors-panel");
    panel.hidden = false;
    const box = document.createElement("div");
    box.className = "error-item";
    const title = document.createElement("div");
    title.className = "error-title";
    title.appendChild(span("kind " + event.kind, event.kind));
    if (event.step_key) title.appendChild(span("mono", " " + event.step_key));
    title.appendChild(span("", ` — ${event.error.error_type}: ${event.error.message}`));
    const pre = document.createElement("pre");
    pre.className = "trace";
    pre.textContent = traceText(event.error);
    box.append(title, pre);
    document.getElementById("errors").appendChild(box);
  }

  // --- the timeline -----------------------------------------------------------------------

  function fmtDuration(seconds) {
    if (seconds == null) return "";
    if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
    if (seconds < 60) return `${seconds.toFixed(1)} s`;
    const m = Math.floor(seconds / 60);
    return `${m} min ${String(Math.floor(seconds % 60)).padStart(2, "0")} s`;
  }

  let drawPending = false;
  function drawSoon() {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => { drawPending = false; draw(); });
  }

  function draw() {
    const now = Date.now() / 1000;
    const starts = [...steps.values()].map((s) => s.start).filter((t) => t != null);
    const t0 = runStart != null ? runStart : (starts.length ? Math.min(...starts) : now);
    let t1 = finished ? (runEnd || now) : now;
    for (const s of steps.values()) if (s.end != null) t1 = Math.max(t1, s.end);
    const span_ = Math.max(t1 - t0, 0.001);
    const pct = (t) => Math.max(0, Math.min(100, ((t - t0) / span_) * 100));
    const out = document.createDocumentFragment();
    const axis = document.createElement("div");
    axis.className = "gantt-axis";
    axis.appendChild(document.createElement("div"));
    const ticks = document.createElement("div");
    ticks.className = "gantt-ticks";
    for (let i = 0; i <= 4; i++) {
      const tick = span("tick", fmtDuration((span_ * i) / 4) || "0");
      tick.style.left = `${i * 25}%`;
      ticks.appendChild(tick);
    }
    axis.appendChild(ticks);
    axis.appendChild(document.createElement("div"));
    out.appendChild(axis);
    for (const step of steps.values()) {
      const row = document.createElement("div");
      row.className = "gantt-row" + (filters.step === step.key ? " selected" : "");
      row.dataset.step = step.key;
      row.dataset.outcome = step.outcome;
      row.title = "Show only this step's events";
      row.appendChild(span("gantt-label mono", step.key));
      const track = document.createElement("div");
      track.className = "gantt-track";
      if (step.start != null) {
        const end = step.end != null ? step.end : now;
        const bar = document.createElement("div");
        bar.className = "gantt-bar " + step.outcome;
        bar.style.left = `${pct(step.start)}%`;
        bar.style.width = `max(3px, ${pct(end) - pct(step.start)}%)`;
        bar.title = `${step.key}: ${step.outcome}, ${fmtDuration(end - step.start)}`;
        track.appendChild(bar);
      }
      row.appendChild(track);
      const took = step.start != null ? fmtDuration((step.end != null ? step.end : now) - step.start) : "";
      row.appendChild(span("gantt-meta small", step.outcome === "pending" ? "waiting" : `${step.outcome} ${took}`));
      out.appendChild(row);
    }
    gantt.replaceChildren(out);
    document.getElementById("gantt-span").textContent =
      starts.length ? `${fmtDuration(span_)}${finished ? "" : " so far"}` : "no step has started yet";
  }

  gantt.addEventListener("click", (ev) => {
    const row = ev.target.closest(".gantt-row");
    if (row) setStep(filters.step === row.dataset.step ? "" : row.dataset.step);
  });

  // Running bars grow while the run is unfinished.
  setInterval(() => {
    if (!finished && [...steps.values()].some((s) => s.outcome === "running" || s.outcome === "retry")) draw();
  }, 250);

  // --- loading and following ----------------------------------------------------------------

  async function catchUp() {
    if (loading) return;
    loading = true;
    updateCount();
    try {
      for (;;) {
        const page = await rivers.api("GET", `/api/runs/${encodeURIComponent(runId)}/events?after_seq=${lastSeq}&limit=${PAGE}`);
        ingest(page.events);
        if (page.events.length < PAGE) break;
        await new Promise((resolve) => setTimeout(resolve, 0)); // let the page paint
      }
    } catch (err) {
      rivers.toast(`Could not load the event log: ${err.message}`, "error");
    } finally {
      loading = false;
      ingest(buffered.splice(0).sort((a, b) => (a.seq || 0) - (b.seq || 0)));
    }
  }

  rivers.on("run_event", (event) => {
    if (event.run_id !== runId) return;
    if (loading) buffered.push(event);
    else ingest([event]);
  });
  rivers.on("resync", catchUp);

  // Cancel: ask, then say what happened (a finished run is not canceled).
  document.addEventListener("click", async (ev) => {
    const button = ev.target.closest("#cancel-run");
    if (!button) return;
    if (!window.confirm("Cancel this run?")) return;
    button.disabled = true;
    try {
      const result = await rivers.api("POST", `/api/runs/${encodeURIComponent(runId)}/cancel`, {});
      rivers.toast(result.canceled ? "Cancel requested" : "The run had already finished", result.canceled ? "ok" : "error");
      rivers.refreshAll();
    } catch (err) {
      rivers.toast(err.message, "error");
      button.disabled = false;
    }
  });

  draw();
  catchUp();
})();
