// The asset graph: a canvas (thousands of nodes, no per-node DOM), laid out by the server
// (column = dependency level, row = "order"), pan / zoom / fit, search, group and location
// filters, a details panel, multi-selection and a launch dialog whose config forms come from
// the assets' pydantic JSON schemas. Colours follow /api/graph, re-read when runs change.
(function () {
  "use strict";

  const COLW = 280, ROWH = 66, NODEW = 220, NODEH = 48;
  const STATUS = {
    materialized: { line: "#17803d", fill: "#dcfae6", label: "Materialized" },
    stale: { line: "#dc6803", fill: "#fef0c7", label: "Stale" },
    failed: { line: "#b42318", fill: "#fee4e2", label: "Failed" },
    running: { line: "#175cd3", fill: "#d1e9ff", label: "Running" },
    missing: { line: "#98a2b3", fill: "#f2f4f7", label: "Missing" },
  };
  const ACCENT = "#3b5bdb";

  const g = {
    nodes: [], byId: new Map(), byKey: new Map(), edges: [], ups: new Map(), downs: new Map(),
    visible: [], cols: [], visEdges: [], view: { x: 40, y: 0, k: 1 },
    selected: new Set(), focused: null, matches: [], matchIndex: 0, hover: null,
    group: "", location: "", query: "",
  };
  let canvas, ctx, width = 0, height = 0, dpr = 1, frame = 0;

  // --- data and layout ----------------------------------------------------------------------

  function load(data) {
    g.nodes = data.nodes;
    g.byId = new Map();
    g.byKey = new Map();
    for (const n of g.nodes) {
      g.byId.set(n.id, n);
      if (!g.byKey.has(n.key)) g.byKey.set(n.key, n);
    }
    g.edges = [];
    g.ups = new Map();
    g.downs = new Map();
    for (const e of data.edges) {
      const s = g.byId.get(e.source), t = g.byId.get(e.target);
      if (!s || !t) continue;
      g.edges.push([s, t]);
      push(g.ups, t.id, s);
      push(g.downs, s.id, t);
    }
    for (const id of Array.from(g.selected)) if (!g.byId.has(id)) g.selected.delete(id);
    if (g.focused && !g.byId.has(g.focused)) g.focused = null;
    layout();
  }

  function push(map, key, value) {
    const list = map.get(key);
    if (list) list.push(value); else map.set(key, [value]);
  }

  function passes(n) {
    return (!g.group || n.group === g.group) && (!g.location || n.location === g.location);
  }

  // Columns are the levels present (a filter leaves no empty column); rows keep the server's
  // order, compacted, and each column is centred on y = 0.
  function layout() {
    g.visible = g.nodes.filter(passes);
    const levels = Array.from(new Set(g.visible.map((n) => n.level))).sort((a, b) => a - b);
    const column = new Map(levels.map((level, i) => [level, i]));
    g.cols = levels.map(() => []);
    for (const n of g.visible) g.cols[column.get(n.level)].push(n);
    g.cols.forEach((col, c) => {
      col.sort((a, b) => a.order - b.order);
      const middle = (col.length - 1) / 2;
      col.forEach((n, i) => { n.x = c * COLW; n.y = (i - middle) * ROWH; n.col = c; });
    });
    const shown = new Set(g.visible);
    g.visEdges = g.edges.filter(([s, t]) => shown.has(s) && shown.has(t));
    document.getElementById("graph-count").textContent =
      g.visible.length === g.nodes.length ? `${g.nodes.length} assets`
        : `${g.visible.length} of ${g.nodes.length} assets`;
    search(g.query, false);
  }

  // --- drawing --------------------------------------------------------------------------------

  function resize() {
    const rect = canvas.parentElement.getBoundingClientRect();
    dpr = window.devicePixelRatio || 1;
    width = rect.width;
    height = rect.height;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    draw();
  }

  function redraw() {
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; draw(); });
  }

  function draw() {
    const { x: vx, y: vy, k } = g.view;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.setTransform(dpr * k, 0, 0, dpr * k, dpr * vx, dpr * vy);
    const x0 = -vx / k, y0 = -vy / k, x1 = x0 + width / k, y1 = y0 + height / k;
    const focus = g.focused ? g.byId.get(g.focused) : null;

    // Edges: one path for all, a second for the focused node's, so 10,000 curves cost two strokes.
    const plain = new Path2D(), lit = new Path2D();
    for (const [s, t] of g.visEdges) {
      const sx = s.x + NODEW, tx = t.x;
      if (tx < x0 || sx > x1 || Math.max(s.y, t.y) < y0 || Math.min(s.y, t.y) > y1) continue;
      const path = focus && (s === focus || t === focus) ? lit : plain;
      const bend = Math.max(40, (tx - sx) / 2);
      path.moveTo(sx, s.y);
      path.bezierCurveTo(sx + bend, s.y, tx - bend, t.y, tx, t.y);
    }
    ctx.lineWidth = Math.max(1.2, 1 / k);
    ctx.strokeStyle = "#b8c0cc";
    ctx.stroke(plain);
    ctx.lineWidth = Math.max(2.2, 2 / k);
    ctx.strokeStyle = ACCENT;
    ctx.stroke(lit);

    const detailed = k >= 0.35;
    const matches = new Set(g.matches);
    const boxes = {};
    for (const col of g.cols) {
      if (!col.length || col[0].x > x1 || col[0].x + NODEW < x0) continue;
      const middle = (col.length - 1) / 2;
      const first = Math.max(0, Math.floor((y0 - NODEH) / ROWH + middle));
      const last = Math.min(col.length - 1, Math.ceil((y1 + NODEH) / ROWH + middle));
      for (let i = first; i <= last; i++) {
        const n = col[i];
        if (detailed) drawNode(n, matches.has(n));
        else (boxes[n.status] = boxes[n.status] || []).push(n);
      }
    }
    if (!detailed) {
      // Far out: one filled path per status; selection and matches as outlines on top.
      for (const status of Object.keys(boxes)) {
        const path = new Path2D();
        for (const n of boxes[status]) path.rect(n.x, n.y - NODEH / 2, NODEW, NODEH);
        ctx.fillStyle = (STATUS[status] || STATUS.missing).line;
        ctx.fill(path);
      }
      const marked = new Path2D();
      for (const n of g.visible) {
        if (g.selected.has(n.id) || matches.has(n) || n === focus) {
          marked.rect(n.x - 12, n.y - NODEH / 2 - 12, NODEW + 24, NODEH + 24);
        }
      }
      ctx.lineWidth = 6 / k;
      ctx.strokeStyle = ACCENT;
      ctx.stroke(marked);
    }
  }

  function drawNode(n, matched) {
    const colors = STATUS[n.status] || STATUS.missing;
    const top = n.y - NODEH / 2;
    const selected = g.selected.has(n.id);
    if (matched) {
      ctx.fillStyle = "#fde272";
      roundRect(n.x - 5, top - 5, NODEW + 10, NODEH + 10, 11);
      ctx.fill();
    }
    ctx.fillStyle = n.status === "missing" ? "#fff" : colors.fill;
    roundRect(n.x, top, NODEW, NODEH, 8);
    ctx.fill();
    ctx.lineWidth = selected || n.id === g.focused ? 2.5 : 1;
    ctx.strokeStyle = selected || n.id === g.focused ? ACCENT : n === g.hover ? "#667085" : "#d0d5dd";
    ctx.stroke();
    // the status: a coloured strip on the left and a dot with its word
    ctx.fillStyle = colors.line;
    ctx.fillRect(n.x + 1, top + 6, 4, NODEH - 12);
    ctx.fillStyle = "#1d2433";
    ctx.font = "600 13px system-ui, -apple-system, 'Segoe UI', sans-serif";
    ctx.textBaseline = "middle";
    ctx.fillText(clip(n.key, 27), n.x + 14, top + 17);
    ctx.beginPath();
    ctx.arc(n.x + 18, top + 34, 4, 0, Math.PI * 2);
    ctx.fillStyle = colors.line;
    ctx.fill();
    ctx.fillStyle = "#667085";
    ctx.font = "11px system-ui, -apple-system, 'Segoe UI', sans-serif";
    const extra = n.partitioned ? " · partitioned" : "";
    ctx.fillText(clip(`${colors.label} · ${n.group}${extra}`, 34), n.x + 27, top + 34);
    if (selected) {
      ctx.fillStyle = ACCENT;
      ctx.beginPath();
      ctx.arc(n.x + NODEW - 12, top + 12, 7, 0, Math.PI * 2);
      ctx.fill();
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 1.8;
      ctx.beginPath();
      ctx.moveTo(n.x + NODEW - 15.5, top + 12);
      ctx.lineTo(n.x + NODEW - 12.5, top + 15);
      ctx.lineTo(n.x + NODEW - 8, top + 9);
      ctx.stroke();
    }
  }

  function roundRect(x, y, w, h, r) {
    ctx.beginPath();
    ctx.moveTo(x + r, y);
    ctx.arcTo(x + w, y, x + w, y + h, r);
    ctx.arcTo(x + w, y + h, x, y + h, r);
    ctx.arcTo(x, y + h, x, y, r);
    ctx.arcTo(x, y, x + w, y, r);
    ctx.closePath();
  }

  function clip(text, max) {
    return text.length > max ? text.slice(0, max - 1) + "…" : text;
  }

  // --- view: hit-testing, pan, zoom, fit -----------------------------------------------------

  function toWorld(px, py) {
    return [(px - g.view.x) / g.view.k, (py - g.view.y) / g.view.k];
  }

  function hit(px, py) {
    const [wx, wy] = toWorld(px, py);
    const c = Math.floor(wx / COLW);
    const col = g.cols[c];
    if (!col || wx - c * COLW > NODEW) return null;
    const i = Math.round(wy / ROWH + (col.length - 1) / 2);
    const n = col[i];
    return n && Math.abs(wy - n.y) <= NODEH / 2 ? n : null;
  }

  function zoomAt(px, py, factor) {
    const k = Math.min(2.5, Math.max(0.01, g.view.k * factor));
    g.view.x = px - (px - g.view.x) * (k / g.view.k);
    g.view.y = py - (py - g.view.y) * (k / g.view.k);
    g.view.k = k;
    redraw();
  }

  function fit(nodes, maxZoom) {
    if (!nodes.length) { g.view = { x: 40, y: height / 2, k: 1 }; redraw(); return; }
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (const n of nodes) {
      minX = Math.min(minX, n.x); maxX = Math.max(maxX, n.x + NODEW);
      minY = Math.min(minY, n.y - NODEH / 2); maxY = Math.max(maxY, n.y + NODEH / 2);
    }
    const pad = 40;
    const k = Math.min(maxZoom, (width - 2 * pad) / (maxX - minX), (height - 2 * pad) / (maxY - minY));
    g.view.k = Math.max(0.01, k);
    g.view.x = width / 2 - ((minX + maxX) / 2) * g.view.k;
    g.view.y = height / 2 - ((minY + maxY) / 2) * g.view.k;
    redraw();
  }

  function bindView() {
    let drag = null;
    canvas.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      drag = { x: ev.clientX, y: ev.clientY, vx: g.view.x, vy: g.view.y, moved: false };
      canvas.setPointerCapture(ev.pointerId);
    });
    canvas.addEventListener("pointermove", (ev) => {
      const rect = canvas.getBoundingClientRect();
      if (drag) {
        const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
        if (!drag.moved && Math.abs(dx) + Math.abs(dy) > 3) {
          drag.moved = true;
          canvas.classList.add("dragging");
        }
        if (drag.moved) {
          g.view.x = drag.vx + dx;
          g.view.y = drag.vy + dy;
          redraw();
        }
        return;
      }
      const over = hit(ev.clientX - rect.left, ev.clientY - rect.top);
      if (over !== g.hover) {
        g.hover = over;
        canvas.classList.toggle("over-node", !!over);
        redraw();
      }
    });
    canvas.addEventListener("pointerup", (ev) => {
      const was = drag;
      drag = null;
      canvas.classList.remove("dragging");
      if (!was || was.moved) return;
      const rect = canvas.getBoundingClientRect();
      const n = hit(ev.clientX - rect.left, ev.clientY - rect.top);
      if (ev.shiftKey || ev.ctrlKey || ev.metaKey) {
        if (n) toggle(n);
      } else if (n) {
        g.selected = new Set([n.id]);
        focus(n);
      } else {
        g.selected.clear();
        focus(null);
      }
      selectionChanged();
    });
    canvas.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const rect = canvas.getBoundingClientRect();
      const delta = ev.deltaMode === 1 ? ev.deltaY * 16 : ev.deltaY;
      zoomAt(ev.clientX - rect.left, ev.clientY - rect.top, Math.exp(-delta * 0.0015));
    }, { passive: false });
    window.addEventListener("resize", resize);
    document.addEventListener("keydown", (ev) => {
      if (ev.target.closest("input, select, textarea, dialog")) return;
      if (ev.key === "f") fit(g.visible, 1);
      else if (ev.key === "Escape") { g.selected.clear(); focus(null); selectionChanged(); }
    });
  }

  // --- selection and the details panel -------------------------------------------------------

  function toggle(n) {
    if (g.selected.has(n.id)) g.selected.delete(n.id); else g.selected.add(n.id);
    if (g.selected.has(n.id)) focus(n);
  }

  function selectionChanged() {
    const count = g.selected.size;
    const button = document.getElementById("graph-materialize");
    button.disabled = count === 0;
    button.textContent = count > 1 ? `Materialize selected (${count})` : "Materialize selected";
    document.getElementById("graph-clear").hidden = count === 0;
    redraw();
  }

  function focus(n) {
    g.focused = n ? n.id : null;
    showDetails();
    redraw();
  }

  function text(id, value) {
    document.getElementById(id).textContent = value;
  }

  function link(href, label) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = label;
    return a;
  }

  function showDetails() {
    const panel = document.getElementById("graph-details");
    const n = g.focused ? g.byId.get(g.focused) : null;
    const wasHidden = panel.hidden;
    panel.hidden = !n;
    if (wasHidden !== panel.hidden) {
      resize();
      const p = n && api.point(n.id);
      if (n && (!p || p.x > canvas.getBoundingClientRect().right - NODEW / 2)) center(n);
    }
    if (!n) return;
    text("details-key", n.key);
    const badge = document.getElementById("details-status");
    badge.className = "badge " + n.status;
    badge.textContent = (STATUS[n.status] || STATUS.missing).label;
    text("details-kind", n.kind === "asset" ? "" : n.kind);
    text("details-description", n.description || "");
    text("details-group", n.group);
    text("details-location", n.location);
    text("details-materialized", n.last_materialized_at
      ? `${ago(n.last_materialized_at)} (${new Date(n.last_materialized_at * 1000).toLocaleString()})`
      : "never");
    const run = document.getElementById("details-run");
    run.replaceChildren(n.last_run_id ? link(`/runs/${encodeURIComponent(n.last_run_id)}`, n.last_run_id.slice(0, 8)) : "-");
    const failed = document.getElementById("details-failed");
    failed.replaceChildren(n.failed_run_id ? link(`/runs/${encodeURIComponent(n.failed_run_id)}`, n.failed_run_id.slice(0, 8)) : "");
    failed.hidden = document.getElementById("details-failed-label").hidden = !n.failed_run_id;
    const parts = document.getElementById("details-partitions");
    parts.textContent = n.partitioned ? `${n.materialized_partitions || 0} materialized` : "";
    parts.hidden = document.getElementById("details-partitions-label").hidden = !n.partitioned;
    text("details-config", n.has_config ? "takes run config" : "none");
    neighbours("details-upstream", g.ups.get(n.id));
    neighbours("details-downstream", g.downs.get(n.id));
    document.getElementById("details-open").href =
      `/assets/${encodeURIComponent(n.location)}/${n.key.split("/").map(encodeURIComponent).join("/")}`;
  }

  function neighbours(id, list) {
    const ul = document.getElementById(id);
    ul.replaceChildren();
    if (!list || !list.length) {
      const li = document.createElement("li");
      li.className = "muted small";
      li.textContent = "none";
      ul.append(li);
      return;
    }
    for (const other of list) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = other.location === g.byId.get(g.focused).location ? other.key : other.id;
      button.addEventListener("click", () => {
        g.selected = new Set([other.id]);
        focus(other);
        center(other);
        selectionChanged();
      });
      li.append(button);
      ul.append(li);
    }
  }

  function ago(seconds) {
    const s = Date.now() / 1000 - seconds;
    if (s < 5) return "just now";
    if (s < 90) return `${Math.round(s)} s ago`;
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    if (s < 172800) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} d ago`;
  }

  function center(n) {
    if (n.x === undefined || !passes(n)) return;
    g.view.k = Math.max(g.view.k, 0.6);
    g.view.x = width / 2 - (n.x + NODEW / 2) * g.view.k;
    g.view.y = height / 2 - n.y * g.view.k;
    redraw();
  }

  // --- search and filters ---------------------------------------------------------------------

  function search(query, move) {
    g.query = query;
    const q = query.trim().toLowerCase();
    g.matches = q ? g.visible.filter((n) => n.key.toLowerCase().includes(q)) : [];
    g.matchIndex = 0;
    const label = document.getElementById("graph-matches");
    label.textContent = q ? (g.matches.length === 1 ? "1 match" : `${g.matches.length} matches`) : "";
    if (move && g.matches.length) fit(g.matches, 1);
    redraw();
  }

  function bindControls() {
    const input = document.getElementById("graph-search");
    let timer = 0;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => search(input.value, true), 120);
    });
    input.addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter") return;
      ev.preventDefault();
      clearTimeout(timer);
      if (g.query !== input.value) { search(input.value, false); }
      if (!g.matches.length) return;
      const n = g.matches[g.matchIndex % g.matches.length];
      g.matchIndex += 1;
      g.selected = new Set([n.id]);
      focus(n);
      center(n);
      selectionChanged();
    });
    for (const [id, field] of [["graph-group", "group"], ["graph-location", "location"]]) {
      document.getElementById(id).addEventListener("change", (ev) => {
        g[field] = ev.target.value;
        layout();
        fit(g.visible, 1);
      });
    }
    document.getElementById("graph-fit").addEventListener("click", () => fit(g.visible, 1));
    document.getElementById("graph-clear").addEventListener("click", () => {
      g.selected.clear();
      selectionChanged();
    });
    document.getElementById("details-close").addEventListener("click", () => focus(null));
    document.getElementById("graph-materialize").addEventListener("click", () => {
      openLaunch(Array.from(g.selected).map((id) => g.byId.get(id)).filter(Boolean));
    });
    document.getElementById("details-materialize").addEventListener("click", () => {
      const n = g.byId.get(g.focused);
      if (n) openLaunch([n]);
    });
  }

  // --- live colours -----------------------------------------------------------------------------

  let refreshTimer = 0, refreshing = false, again = false;
  const LIVE_KINDS = new Set(["STEP_STARTED", "STEP_SUCCESS", "STEP_FAILURE", "ASSET_MATERIALIZATION",
    "ASSET_FAILED", "RUN_STARTED", "RUN_SUCCESS", "RUN_FAILURE", "RUN_CANCELED"]);

  function scheduleRefresh() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => { refreshTimer = 0; refresh(); }, 250);
  }

  async function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      const data = await window.rivers.api("GET", "/api/graph");
      apply(data);
    } catch (_) {
      // the Live indicator tells the user; the next event or resync retries
    } finally {
      refreshing = false;
      if (again) { again = false; scheduleRefresh(); }
    }
  }

  // Same nodes in the same places: update fields in place (the view stays); else re-layout.
  function apply(data) {
    const same = data.nodes.length === g.nodes.length && data.edges.length === g.edges.length &&
      data.nodes.every((n) => {
        const old = g.byId.get(n.id);
        return old && old.level === n.level && old.order === n.order;
      });
    if (same) {
      for (const n of data.nodes) {
        const old = g.byId.get(n.id);
        if (old.status !== n.status) record(n.key, n.status);
        Object.assign(old, n);
      }
      if (g.focused) showDetails();
      redraw();
    } else {
      load(data);
      for (const n of g.nodes) record(n.key, n.status);
      showDetails();
      selectionChanged();
    }
  }

  const history = new Map();
  function record(key, status) {
    const seen = history.get(key) || [];
    if (seen[seen.length - 1] !== status) seen.push(status);
    history.set(key, seen);
  }

  function bindLive() {
    const rivers = window.rivers;
    rivers.on("run_status", scheduleRefresh);
    rivers.on("run_event", (ev) => { if (LIVE_KINDS.has(ev.kind)) scheduleRefresh(); });
    rivers.on("changed", (ev) => { if (ev.topic === "locations") scheduleRefresh(); });
    rivers.on("resync", scheduleRefresh);
  }

  // --- launching: the dialog and its config forms --------------------------------------------

  let launchTargets = [];
  let forms = [];

  async function openLaunch(targets) {
    if (!targets.length) return;
    launchTargets = targets;
    const dialog = document.getElementById("launch-dialog");
    const box = document.getElementById("launch-config");
    box.replaceChildren();
    forms = [];
    document.getElementById("launch-error").textContent = "";
    const names = targets.map((n) => n.key);
    text("launch-title", targets.length === 1 ? `Materialize ${names[0]}` : `Materialize ${targets.length} assets`);
    text("launch-summary", names.length <= 12 ? names.join(", ") : `${names.slice(0, 12).join(", ")} and ${names.length - 12} more`);
    document.getElementById("launch-partitions").hidden = !targets.some((n) => n.partitioned);
    document.getElementById("launch-partition-key").value = "";
    const configured = targets.filter((n) => n.has_config);
    try {
      for (const [location, nodes] of byLocation(configured)) {
        const keys = nodes.map((n) => n.key).join(",");
        const reply = await window.rivers.api("GET",
          `/api/assets/config-schema?location=${encodeURIComponent(location)}&keys=${encodeURIComponent(keys)}`);
        for (const n of nodes) {
          const schema = reply.schemas[n.key];
          if (schema) forms.push(buildForm(box, n, schema));
        }
      }
    } catch (err) {
      window.rivers.toast(err.message, "error");
      return;
    }
    if (!dialog.open) dialog.showModal();
  }

  function byLocation(nodes) {
    const out = new Map();
    for (const n of nodes) push(out, n.location, n);
    return out;
  }

  function resolve(schema, root) {
    let s = schema;
    for (let depth = 0; s && s.$ref && depth < 10; depth++) {
      const name = s.$ref.split("/").pop();
      s = Object.assign({}, (root.$defs || root.definitions || {})[name], s, { $ref: undefined });
    }
    if (s && Array.isArray(s.allOf) && s.allOf.length === 1) s = Object.assign({}, resolve(s.allOf[0], root), s);
    return s || {};
  }

  // {kind, optional} for a property: a scalar input when the (non-null) type is one scalar.
  function fieldKind(prop, root) {
    let s = resolve(prop, root), optional = false;
    if (Array.isArray(s.anyOf)) {
      const rest = s.anyOf.filter((a) => a.type !== "null");
      optional = rest.length < s.anyOf.length;
      if (rest.length === 1) s = Object.assign({}, resolve(rest[0], root), { default: s.default, description: s.description, title: s.title });
      else return { kind: "json", schema: s, optional };
    }
    if (Array.isArray(s.enum)) return { kind: "enum", schema: s, optional };
    if (["string", "integer", "number", "boolean"].includes(s.type)) return { kind: s.type, schema: s, optional };
    return { kind: "json", schema: s, optional };
  }

  function buildForm(box, node, root) {
    const schema = resolve(root, root);
    const fieldset = document.createElement("fieldset");
    fieldset.dataset.asset = node.key;
    const legend = document.createElement("legend");
    legend.textContent = node.key;
    fieldset.append(legend);
    if (schema.description) {
      const p = document.createElement("div");
      p.className = "help";
      p.textContent = schema.description;
      fieldset.append(p);
    }
    const required = new Set(schema.required || []);
    const fields = [];
    for (const [name, prop] of Object.entries(schema.properties || {})) {
      const info = fieldKind(prop, root);
      const s = info.schema;
      const id = `cfg-${node.id}-${name}`.replace(/[^A-Za-z0-9_-]/g, "_");
      const wrap = document.createElement("div");
      wrap.className = "field";
      wrap.dataset.field = name;
      let input;
      const hasDefault = Object.prototype.hasOwnProperty.call(s, "default") && s.default !== undefined;
      if (info.kind === "boolean") {
        const label = document.createElement("label");
        label.className = "check";
        input = document.createElement("input");
        input.type = "checkbox";
        input.checked = hasDefault ? !!s.default : false;
        label.append(input, document.createTextNode(s.title || name));
        wrap.append(label);
      } else {
        const label = document.createElement("label");
        label.htmlFor = id;
        label.textContent = (s.title || name) + (required.has(name) ? " *" : "");
        wrap.append(label);
        if (info.kind === "enum") {
          input = document.createElement("select");
          if (info.optional || !required.has(name)) input.append(new Option("", ""));
          for (const v of s.enum) input.append(new Option(String(v), JSON.stringify(v)));
          input.value = hasDefault ? JSON.stringify(s.default) : "";
        } else if (info.kind === "json") {
          input = document.createElement("textarea");
          input.value = hasDefault ? JSON.stringify(s.default, null, 2) : "";
          input.placeholder = "JSON";
        } else {
          input = document.createElement("input");
          if (info.kind === "integer" || info.kind === "number") {
            input.type = "number";
            input.step = info.kind === "integer" ? "1" : "any";
            if (s.minimum !== undefined) input.min = s.minimum;
            if (s.maximum !== undefined) input.max = s.maximum;
          }
          input.value = hasDefault && s.default !== null ? String(s.default) : "";
        }
        input.id = id;
        wrap.append(input);
      }
      input.name = name;
      const help = [];
      if (s.description) help.push(s.description);
      const bounds = describeBounds(s);
      if (bounds) help.push(bounds);
      if (help.length) {
        const div = document.createElement("div");
        div.className = "help";
        div.textContent = help.join(" · ");
        wrap.append(div);
      }
      const error = document.createElement("div");
      error.className = "field-error";
      wrap.append(error);
      fieldset.append(wrap);
      fields.push({ name, info, input, error, required: required.has(name), hasDefault });
    }
    box.append(fieldset);
    return { node, fields };
  }

  function describeBounds(s) {
    const parts = [];
    if (s.minimum !== undefined) parts.push(`≥ ${s.minimum}`);
    if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
    if (s.maximum !== undefined) parts.push(`≤ ${s.maximum}`);
    if (s.exclusiveMaximum !== undefined) parts.push(`< ${s.exclusiveMaximum}`);
    if (s.minLength !== undefined) parts.push(`at least ${s.minLength} characters`);
    if (s.maxLength !== undefined) parts.push(`at most ${s.maxLength} characters`);
    return parts.join(", ");
  }

  // The field's value, or throws Error(reason): required, types, bounds, lengths, pattern.
  function readField(f) {
    const s = f.info.schema;
    const raw = f.input.type === "checkbox" ? f.input.checked : f.input.value;
    if (f.info.kind === "boolean") return { value: raw };
    if (raw === "" || raw === undefined) {
      if (f.required) throw new Error("required");
      if (f.info.optional && !f.hasDefault) return { value: null };
      return { skip: true };
    }
    let value;
    if (f.info.kind === "enum") value = JSON.parse(raw);
    else if (f.info.kind === "json") {
      try { value = JSON.parse(raw); } catch (_) { throw new Error("not valid JSON"); }
      const type = s.type;
      if (type === "object" && (typeof value !== "object" || value === null || Array.isArray(value))) throw new Error("must be a JSON object");
      if (type === "array" && !Array.isArray(value)) throw new Error("must be a JSON list");
    } else if (f.info.kind === "integer" || f.info.kind === "number") {
      value = Number(raw);
      if (!Number.isFinite(value)) throw new Error("must be a number");
      if (f.info.kind === "integer" && !Number.isInteger(value)) throw new Error("must be a whole number");
      if (s.minimum !== undefined && value < s.minimum) throw new Error(`must be ≥ ${s.minimum}`);
      if (s.maximum !== undefined && value > s.maximum) throw new Error(`must be ≤ ${s.maximum}`);
      if (s.exclusiveMinimum !== undefined && value <= s.exclusiveMinimum) throw new Error(`must be > ${s.exclusiveMinimum}`);
      if (s.exclusiveMaximum !== undefined && value >= s.exclusiveMaximum) throw new Error(`must be < ${s.exclusiveMaximum}`);
      if (s.multipleOf !== undefined && Math.abs(value / s.multipleOf - Math.round(value / s.multipleOf)) > 1e-9) throw new Error(`must be a multiple of ${s.multipleOf}`);
    } else {
      value = raw;
      if (s.minLength !== undefined && value.length < s.minLength) throw new Error(`must have at least ${s.minLength} characters`);
      if (s.maxLength !== undefined && value.length > s.maxLength) throw new Error(`must have at most ${s.maxLength} characters`);
      if (s.pattern !== undefined && !new RegExp(s.pattern, "u").test(value)) throw new Error(`must match ${s.pattern}`);
    }
    return { value };
  }

  // Every form's values by asset key, or null (with each bad field marked) if one is invalid.
  function collect() {
    const config = {};
    let ok = true;
    for (const form of forms) {
      const values = {};
      for (const f of form.fields) {
        f.error.textContent = "";
        f.input.classList.remove("invalid");
        try {
          const read = readField(f);
          if (!read.skip) values[f.name] = read.value;
        } catch (err) {
          ok = false;
          f.error.textContent = `${f.name}: ${err.message}`;
          f.input.classList.add("invalid");
          f.input.setAttribute("aria-invalid", "true");
        }
      }
      (config[form.node.location] = config[form.node.location] || {})[form.node.key] = values;
    }
    return ok ? config : null;
  }

  async function launch(ev) {
    ev.preventDefault();
    const errorBox = document.getElementById("launch-error");
    errorBox.textContent = "";
    const config = collect();
    if (!config) { errorBox.textContent = "Fix the fields marked in red."; return; }
    const submit = document.getElementById("launch-submit");
    submit.disabled = true;
    const partitionKey = document.getElementById("launch-partition-key").value.trim();
    try {
      for (const [location, nodes] of byLocation(launchTargets)) {
        const body = { location, selection: nodes.map((n) => n.key), config: config[location] || {}, tags: {} };
        if (nodes.some((n) => n.partitioned)) body.partitions = partitionKey ? { key: partitionKey } : { all: true };
        const run = await window.rivers.api("POST", "/api/runs", body);
        toastRun(run.run_id, nodes.length);
      }
      document.getElementById("launch-dialog").close();
      scheduleRefresh();
    } catch (err) {
      errorBox.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  }

  function toastRun(runId, count) {
    window.rivers.toast(`Launched run ${runId.slice(0, 8)} (${count} asset${count === 1 ? "" : "s"}) `, "ok");
    const item = document.getElementById("toasts").lastElementChild;
    if (item) {
      const a = link(`/runs/${encodeURIComponent(runId)}`, "open run");
      a.style.color = "#fff";
      a.style.textDecoration = "underline";
      item.append(a);
    }
  }

  function bindLaunch() {
    document.getElementById("launch-form").addEventListener("submit", launch);
    document.getElementById("launch-cancel").addEventListener("click", () => document.getElementById("launch-dialog").close());
  }

  // --- start ----------------------------------------------------------------------------------

  // window.riversGraph: a small accessor for people in the console and the browser tests.
  const api = {
    ready: false,
    readyAt: null,
    status(key) { const n = g.byId.get(key) || g.byKey.get(key); return n ? n.status : null; },
    history(key) { return (history.get(key) || []).slice(); },
    keys() { return g.visible.map((n) => n.key); },
    matches() { return g.matches.map((n) => n.key); },
    selected() { return Array.from(g.selected).map((id) => g.byId.get(id).key); },
    focused() { return g.focused ? g.byId.get(g.focused).key : null; },
    view() { return Object.assign({}, g.view); },
    // the node's centre in page coordinates (to click it), or null when off screen
    point(key) {
      const n = g.byId.get(key) || g.byKey.get(key);
      if (!n || n.x === undefined || !passes(n)) return null;
      const rect = canvas.getBoundingClientRect();
      const x = rect.left + g.view.x + (n.x + NODEW / 2) * g.view.k;
      const y = rect.top + g.view.y + n.y * g.view.k;
      return x < rect.left || x > rect.right || y < rect.top || y > rect.bottom ? null : { x, y };
    },
    center(key) { const n = g.byId.get(key) || g.byKey.get(key); if (n) { center(n); draw(); } },
    fit() { fit(g.visible, 1); draw(); },
    refresh,
  };
  window.riversGraph = api;

  function start() {
    canvas = document.getElementById("graph-canvas");
    ctx = canvas.getContext("2d");
    load(JSON.parse(document.getElementById("graph-data").textContent));
    for (const n of g.nodes) record(n.key, n.status);
    bindView();
    bindControls();
    bindLaunch();
    bindLive();
    const rect = canvas.parentElement.getBoundingClientRect();
    width = rect.width;
    height = rect.height;
    fit(g.visible, 1);
    resize();
    api.ready = true;
    api.readyAt = performance.now();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
