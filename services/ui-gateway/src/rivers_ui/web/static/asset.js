// The asset page's partition heatmap: one cell per partition on a <canvas> (fast for 100k
// keys), coloured by status, selectable by click / shift-click / drag; "Launch selected" and
// "Backfill missing"; re-fetched when runs change. Header and history are live regions.
(function () {
  "use strict";

  const root = document.getElementById("asset");
  if (!root) return;
  const location = root.dataset.location;
  const assetKey = root.dataset.key;
  const strategy = root.dataset.strategy;
  const apiBase = "/api/assets/" + encodeURIComponent(location) + "/" +
    assetKey.split("/").map(encodeURIComponent).join("/");

  // History and header refresh when a run of ours materializes or fails this asset.
  rivers.on("run_event", (event) => {
    if (event.asset_key === assetKey &&
        (event.kind === "ASSET_MATERIALIZATION" || event.kind === "ASSET_FAILED")) {
      rivers.refreshAll();
      scheduleFetch();
    }
  });

  const canvas = document.getElementById("heatmap");
  if (!canvas) return;

  const STATUS = {
    m: { name: "materialized", color: "#32b66c" },
    f: { name: "failed", color: "#e5484d" },
    r: { name: "in progress", color: "#4a90f5" },
    "-": { name: "missing", color: "#d9dee6" },
  };
  const PAGE = 100000;
  const wrap = document.getElementById("heat-wrap");
  const tip = document.getElementById("heat-tip");
  const legend = document.getElementById("legend");
  const info = document.getElementById("selection-info");
  const launchButton = document.getElementById("launch-selected");
  const clearButton = document.getElementById("clear-selection");
  const backfillButton = document.getElementById("backfill-missing");

  let keys = [];
  let statuses = "";
  let rowSize = 0;
  let selected = new Uint8Array(0);
  let anchor = null;
  let layout = null;

  // --- data ------------------------------------------------------------------------------

  // The first load (and a change in the number of keys) reads keys and statuses; a live
  // refresh reads statuses only (one character per key, ~20x smaller than the keys).
  async function fetchAll() {
    if (keys.length) {
      const fresh = await rivers.api("GET", `${apiBase}/partitions?keys=0&limit=${PAGE}`);
      if (fresh.total === keys.length && fresh.total <= PAGE) {
        apply(fresh, keys, fresh.statuses);
        return;
      }
    }
    let offset = 0;
    let total = null;
    const allKeys = [];
    const parts = [];
    let first = null;
    while (total === null || offset < total) {
      const page = await rivers.api("GET", `${apiBase}/partitions?offset=${offset}&limit=${PAGE}`);
      if (first === null) first = page;
      total = page.total;
      for (const k of page.keys) allKeys.push(k);
      parts.push(page.statuses);
      offset += page.keys.length;
      if (!page.keys.length) break;
    }
    selected = new Uint8Array(allKeys.length);
    apply(first, allKeys, parts.join(""));
  }

  function apply(page, allKeys, allStatuses) {
    keys = allKeys;
    statuses = allStatuses;
    rowSize = page.row_size;
    canvas.dataset.counts = JSON.stringify(page.counts);
    canvas.dataset.statuses = keys.length <= 2000 ? statuses : "";
    renderLegend(page.counts, page.total);
    draw();
  }

  let fetching = false;
  let again = false;
  let timer = null;
  function scheduleFetch() {
    if (timer) return;
    timer = setTimeout(async () => {
      timer = null;
      if (fetching) { again = true; return; }
      fetching = true;
      try { await fetchAll(); } catch (err) { console.warn("partitions:", err.message); }
      fetching = false;
      if (again) { again = false; scheduleFetch(); }
    }, 250);
  }

  function renderLegend(counts, total) {
    const items = [
      ["materialized", counts.materialized, STATUS.m.color],
      ["failed", counts.failed, STATUS.f.color],
      ["in progress", counts.in_progress, STATUS.r.color],
      ["missing", counts.missing, STATUS["-"].color],
    ];
    legend.replaceChildren(...items.map(([name, n, color]) => {
      const span = document.createElement("span");
      span.style.setProperty("--c", color);
      span.dataset.status = name;
      span.textContent = `${n.toLocaleString()} ${name}`;
      return span;
    }));
    legend.title = `${total.toLocaleString()} partitions`;
    backfillButton.disabled = counts.missing === 0;
    backfillButton.textContent = counts.missing ? `Backfill missing (${counts.missing.toLocaleString()})` : "Backfill missing";
  }

  // --- layout and drawing ------------------------------------------------------------------

  function computeLayout() {
    const n = keys.length;
    const width = Math.max(200, wrap.clientWidth - 4);
    const cell = n <= 400 ? 26 : n <= 3000 ? 14 : n <= 20000 ? 7 : 4;
    const gap = cell >= 14 ? 3 : 1;
    const step = cell + gap;
    let perRow = rowSize > 0 ? rowSize : Math.max(1, Math.floor(width / step));
    perRow = Math.min(perRow, Math.max(1, Math.floor(width / step)));
    // Several logical rows (a week, a day of hours) side by side when they are narrow.
    const groupWidth = perRow * step;
    const groupGap = cell >= 14 ? 14 : 6;
    const groups = Math.max(1, Math.floor((width + groupGap) / (groupWidth + groupGap)));
    const rows = Math.ceil(n / perRow);
    const lines = Math.ceil(rows / groups);
    return { cell, gap, step, perRow, groups, groupWidth, groupGap, lines,
             width: groups === 1 ? groupWidth : groups * (groupWidth + groupGap) - groupGap,
             height: lines * step };
  }

  function position(i) {
    const row = Math.floor(i / layout.perRow);
    const col = i % layout.perRow;
    const group = row % layout.groups;
    const line = Math.floor(row / layout.groups);
    return [group * (layout.groupWidth + layout.groupGap) + col * layout.step, line * layout.step];
  }

  function indexAt(x, y) {
    const groupSpan = layout.groupWidth + layout.groupGap;
    const group = Math.floor(x / groupSpan);
    const inGroup = x - group * groupSpan;
    if (group < 0 || group >= layout.groups || inGroup >= layout.groupWidth) return null;
    const col = Math.floor(inGroup / layout.step);
    const line = Math.floor(y / layout.step);
    if (col < 0 || line < 0) return null;
    const i = (line * layout.groups + group) * layout.perRow + col;
    return i < keys.length ? i : null;
  }

  function draw() {
    layout = computeLayout();
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, layout.width * ratio);
    canvas.height = Math.max(1, layout.height * ratio);
    canvas.style.width = layout.width + "px";
    canvas.style.height = layout.height + "px";
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, layout.width, layout.height);
    const c = layout.cell;
    const radius = c >= 14 ? 3 : 0;
    for (let i = 0; i < keys.length; i++) {
      const [x, y] = position(i);
      ctx.fillStyle = STATUS[statuses[i]].color;
      if (radius) {
        ctx.beginPath();
        ctx.roundRect(x, y, c, c, radius);
        ctx.fill();
      } else {
        ctx.fillRect(x, y, c, c);
      }
      if (selected[i]) {
        ctx.strokeStyle = "#101828";
        ctx.lineWidth = c >= 14 ? 2 : 1;
        ctx.strokeRect(x + 0.5, y + 0.5, c - 1, c - 1);
      }
    }
    updateSelectionInfo();
  }

  // --- selection ---------------------------------------------------------------------------

  function selectedKeys() {
    const out = [];
    for (let i = 0; i < selected.length; i++) if (selected[i]) out.push(keys[i]);
    return out;
  }

  function updateSelectionInfo() {
    const n = selected.reduce((a, b) => a + b, 0);
    launchButton.disabled = n === 0;
    clearButton.disabled = n === 0;
    launchButton.textContent = n ? `Launch selected (${n})` : "Launch selected";
    if (n === 0) info.textContent = "Click, shift-click or drag to select partitions.";
    else if (n === 1) info.textContent = `Selected ${selectedKeys()[0]}`;
    else info.textContent = `${n.toLocaleString()} partitions selected`;
  }

  function cellFrom(ev) {
    const rect = canvas.getBoundingClientRect();
    return indexAt(ev.clientX - rect.left, ev.clientY - rect.top);
  }

  let drag = null;
  canvas.addEventListener("mousedown", (ev) => {
    const i = cellFrom(ev);
    if (i === null) return;
    ev.preventDefault();
    if (ev.shiftKey && anchor !== null) {
      const [lo, hi] = anchor < i ? [anchor, i] : [i, anchor];
      selected.fill(1, lo, hi + 1);
      draw();
      return;
    }
    drag = { start: i, base: selected.slice(), value: selected[i] ? 0 : 1 };
    anchor = i;
    selected[i] = drag.value;
    draw();
  });
  window.addEventListener("mousemove", (ev) => {
    if (drag) {
      const i = cellFrom(ev);
      if (i === null) return;
      const [lo, hi] = drag.start < i ? [drag.start, i] : [i, drag.start];
      selected = drag.base.slice();
      selected.fill(drag.value, lo, hi + 1);
      draw();
    }
  });
  window.addEventListener("mouseup", () => { drag = null; });

  canvas.addEventListener("mousemove", (ev) => {
    const i = cellFrom(ev);
    if (i === null) { tip.hidden = true; return; }
    const rect = wrap.getBoundingClientRect();
    tip.textContent = `${keys[i]} · ${STATUS[statuses[i]].name}`;
    tip.style.left = (ev.clientX - rect.left + wrap.scrollLeft + 12) + "px";
    tip.style.top = (ev.clientY - rect.top + wrap.scrollTop + 12) + "px";
    tip.hidden = false;
  });
  canvas.addEventListener("mouseleave", () => { tip.hidden = true; });

  clearButton.addEventListener("click", () => {
    selected.fill(0);
    anchor = null;
    draw();
  });

  // --- launching ---------------------------------------------------------------------------

  // One run may cover several partitions only if the asset's backfill strategy says so (a
  // multi-run asset reads context.partition.key); otherwise several keys are a backfill.
  async function launch(partitionKeys, asBackfill) {
    const body = { location, selection: [assetKey], partitions: { keys: partitionKeys } };
    if (asBackfill) {
      const backfill = await rivers.api("POST", "/api/backfills", body);
      rivers.toast(`Backfill ${backfill.backfill_id || ""} of ${partitionKeys.length} partitions started`, "ok");
    } else {
      const run = await rivers.api("POST", "/api/runs", body);
      rivers.toast(`Run ${run.run_id.slice(0, 8)} queued for ${partitionKeys.length === 1 ? partitionKeys[0] : partitionKeys.length + " partitions"}`, "ok");
    }
    scheduleFetch();
  }

  async function guarded(button, action) {
    button.disabled = true;
    try { await action(); } catch (err) { rivers.toast(err.message, "error"); }
    finally { updateSelectionInfo(); scheduleFetch(); }
  }

  launchButton.addEventListener("click", () => guarded(launchButton, async () => {
    const chosen = selectedKeys();
    if (!chosen.length) return;
    await launch(chosen, chosen.length > 1 && strategy !== "single_run");
    selected.fill(0);
    draw();
  }));

  backfillButton.addEventListener("click", () => guarded(backfillButton, async () => {
    const missing = [];
    for (let i = 0; i < keys.length; i++) if (statuses[i] === "-") missing.push(keys[i]);
    if (!missing.length) return;
    await launch(missing, true);
  }));

  // --- live ----------------------------------------------------------------------------------

  rivers.on("run_status", scheduleFetch);
  rivers.on("resync", scheduleFetch);
  rivers.on("changed", (change) => { if (change.topic === "backfills") scheduleFetch(); });
  let width = wrap.clientWidth;
  window.addEventListener("resize", () => {
    if (wrap.clientWidth !== width && keys.length) { width = wrap.clientWidth; draw(); }
  });
  fetchAll().catch((err) => rivers.toast(err.message, "error"));
})();
