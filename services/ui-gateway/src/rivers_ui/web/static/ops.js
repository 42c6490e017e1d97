// The operations pages: instigator on/off switches, the pool limit form, ticking "12 s ago".
// Uses window.rivers (live.js): rivers.api, rivers.toast, rivers.refreshAll.
(function () {
  "use strict";
  const rivers = window.rivers;

  // --- "12 s ago" that keeps counting between live refreshes ---------------------------------

  function span(seconds) {
    if (seconds < 90) return `${Math.round(seconds)} s`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
    if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)} h`;
    return `${Math.round(seconds / 86400)} d`;
  }

  function tickAgo() {
    const now = Date.now() / 1000;
    for (const el of document.querySelectorAll("[data-ago]")) {
      const seconds = now - parseFloat(el.dataset.ago);
      if (Number.isNaN(seconds)) continue;
      el.textContent = seconds < 0 ? "in " + span(-seconds) : span(seconds) + " ago";
    }
  }
  setInterval(tickAgo, 1000);

  // --- schedules and sensors: the on/off switch ---------------------------------------------

  document.addEventListener("change", async (ev) => {
    const box = ev.target.closest("[data-instigator-toggle]");
    if (!box) return;
    const on = box.checked;
    const name = box.dataset.url.split("/").pop();
    box.disabled = true;
    try {
      const info = await rivers.api("POST", `${box.dataset.url}/${on ? "start" : "stop"}`);
      rivers.toast(`${info.name} ${info.running ? "started" : "stopped"}`, "ok");
      const row = box.closest("[data-instigator]");
      if (row) row.dataset.running = String(info.running);
    } catch (err) {
      box.checked = !on;
      rivers.toast(`${name}: ${err.message}`, "error");
    } finally {
      box.disabled = false;
      rivers.refreshAll();
    }
  });

  // --- pools: the limit form ------------------------------------------------------------------

  function form() {
    return document.getElementById("pool-limit-form");
  }

  async function setLimit(limit) {
    const f = form();
    const name = f.elements.name.value.trim();
    if (!name) { rivers.toast("Name the pool", "error"); return; }
    for (const b of f.querySelectorAll("button")) b.disabled = true;
    try {
      const pool = await rivers.api("POST", `/api/pools/${encodeURIComponent(name)}`, { limit });
      const shown = pool.limit == null ? "unlimited" : pool.limit;
      rivers.toast(`${pool.name}: limit ${shown} (${pool.source})`, "ok");
      f.elements.limit.value = pool.limit == null ? "" : pool.limit;
      rivers.refreshAll();
    } catch (err) {
      rivers.toast(err.message, "error");
    } finally {
      for (const b of f.querySelectorAll("button")) b.disabled = false;
    }
  }

  document.addEventListener("submit", (ev) => {
    if (ev.target !== form()) return;
    ev.preventDefault();
    const raw = form().elements.limit.value.trim();
    if (raw === "" || !/^\d+$/.test(raw)) {
      rivers.toast("The limit is a whole number ≥ 0 (use Clear to remove it)", "error");
      return;
    }
    setLimit(parseInt(raw, 10));
  });

  document.addEventListener("click", (ev) => {
    if (ev.target.closest("[data-pool-clear]")) {
      ev.preventDefault();
      setLimit(null);
      return;
    }
    const edit = ev.target.closest("[data-pool-edit]");
    if (edit && form()) {
      const f = form();
      f.elements.name.value = edit.dataset.poolEdit;
      f.elements.limit.value = edit.dataset.limit || "";
      f.elements.limit.focus();
      f.elements.limit.select();
    }
  });
})();
