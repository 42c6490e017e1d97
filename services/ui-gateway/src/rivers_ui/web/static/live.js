// rivers live updates: one Server-Sent Events stream per page (/api/events), the Live /
// Reconnecting / Stale indicator, live regions re-rendered by the server, and small helpers
// (JSON calls, toasts, action buttons) the pages share. No framework, no build step.
(function () {
  "use strict";

  const listeners = {};
  // The stream starts after the last event the server had seen when it rendered the page,
  // so an event written between the render and the stream's start still arrives.
  const rendered = document.querySelector('meta[name="rivers-seq"]');
  const rivers = {
    lastSeq: rendered && rendered.content !== "" ? Number(rendered.content) : null,
    state: "connecting",
    keepalive: 15,
    on(type, fn) {
      (listeners[type] = listeners[type] || []).push(fn);
    },
    emit(type, data) {
      for (const fn of listeners[type] || []) {
        try { fn(data); } catch (err) { console.error(err); }
      }
    },
  };
  window.rivers = rivers;

  // --- JSON calls and toasts -------------------------------------------------------------

  rivers.api = async function (method, url, body) {
    const init = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = { error: text }; }
    if (!response.ok) {
      const message = (data && data.error) || `${response.status} ${response.statusText}`;
      const err = new Error(message);
      err.status = response.status;
      throw err;
    }
    return data;
  };

  rivers.toast = function (message, kind) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const item = document.createElement("div");
    item.className = "toast " + (kind || "info");
    item.setAttribute("role", kind === "error" ? "alert" : "status");
    item.textContent = message;
    box.appendChild(item);
    setTimeout(() => item.remove(), kind === "error" ? 9000 : 4000);
  };

  // Buttons: <button data-post="/api/..." data-body='{"a":1}' data-confirm="Sure?"
  //   data-done="Done" data-follow="run_id:/runs/"> (follow: open /runs/<response.run_id>).
  document.addEventListener("click", async (ev) => {
    const button = ev.target.closest("[data-post]");
    if (!button) return;
    ev.preventDefault();
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    button.disabled = true;
    try {
      const body = button.dataset.body ? JSON.parse(button.dataset.body) : {};
      const result = await rivers.api("POST", button.dataset.post, body);
      if (button.dataset.done) rivers.toast(button.dataset.done, "ok");
      follow(button.dataset.follow, result);
      refreshAll();
    } catch (err) {
      rivers.toast(err.message, "error");
    } finally {
      button.disabled = false;
    }
  });

  function follow(spec, result) {
    if (!spec || !result) return;
    const [field, prefix] = spec.split(":");
    if (result[field]) window.location.assign(prefix + encodeURIComponent(result[field]));
  }
  rivers.follow = follow;

  // --- live regions -------------------------------------------------------------------------

  // <div data-live-block="runs" data-live-on="run_status changed:backfills" data-live-run="ID">
  // is re-rendered from ?fragment=runs when one of its triggers arrives (debounced).
  const pending = new Map();

  function regions() {
    return Array.from(document.querySelectorAll("[data-live-block]"));
  }

  function triggers(el) {
    return (el.dataset.liveOn || "").split(/\s+/).filter(Boolean);
  }

  async function refresh(el) {
    const name = el.dataset.liveBlock;
    if (pending.get(name) === "running") { pending.set(name, "again"); return; }
    pending.set(name, "running");
    try {
      const url = new URL(window.location.href);
      url.searchParams.set("fragment", name);
      const response = await fetch(url, { headers: { Accept: "text/html" } });
      if (response.ok) {
        el.innerHTML = await response.text();
        rivers.emit("refreshed", el);
      }
    } catch (_) {
      // the stream's indicator already tells the user; the next event retries
    } finally {
      const again = pending.get(name) === "again";
      pending.delete(name);
      if (again) schedule(el);
    }
  }

  const timers = new Map();
  function schedule(el) {
    const name = el.dataset.liveBlock;
    if (timers.has(name)) return;
    timers.set(name, setTimeout(() => { timers.delete(name); refresh(el); }, 150));
  }

  function refreshAll() {
    for (const el of regions()) schedule(el);
  }
  rivers.refreshAll = refreshAll;

  function notify(trigger, runId) {
    for (const el of regions()) {
      const only = el.dataset.liveRun;
      if (only && runId && only !== runId) continue;
      if (triggers(el).includes(trigger)) schedule(el);
    }
  }

  // --- the stream and its indicator ---------------------------------------------------------

  let source = null;
  let lastMessage = Date.now();
  let backoff = 1000;
  let wasDown = false;

  function setState(state) {
    rivers.state = state;
    const badge = document.getElementById("live");
    if (badge) {
      badge.dataset.state = state;
      badge.className = "live " + state;
      badge.textContent = { live: "Live", reconnecting: "Reconnecting…", stale: "Stale",
                            connecting: "Connecting…" }[state];
    }
    rivers.emit("state", state);
  }

  function seen() {
    lastMessage = Date.now();
    if (rivers.state !== "live") {
      setState("live");
      if (wasDown) { wasDown = false; refreshAll(); rivers.emit("resync"); }
    }
  }

  function connect() {
    const url = rivers.lastSeq == null ? "/api/events" : `/api/events?after_seq=${rivers.lastSeq}`;
    source = new EventSource(url);
    source.addEventListener("hello", (ev) => {
      const hello = JSON.parse(ev.data);
      rivers.keepalive = hello.keepalive || rivers.keepalive;
      if (rivers.lastSeq == null) rivers.lastSeq = hello.last_seq;
      backoff = 1000;
      seen();
    });
    source.addEventListener("ping", seen);
    source.addEventListener("run_event", (ev) => {
      seen();
      const event = JSON.parse(ev.data);
      if (event.seq != null) rivers.lastSeq = Math.max(rivers.lastSeq || 0, event.seq);
      rivers.emit("run_event", event);
      notify("run_event", event.run_id);
    });
    source.addEventListener("run_status", (ev) => {
      seen();
      const status = JSON.parse(ev.data);
      rivers.emit("run_status", status);
      notify("run_status", status.run_id);
    });
    source.addEventListener("changed", (ev) => {
      seen();
      const change = JSON.parse(ev.data);
      rivers.emit("changed", change);
      notify("changed:" + change.topic, null);
    });
    source.onerror = () => {
      wasDown = true;
      setState("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        // the browser gave up (an error response): reconnect ourselves, from the last seq
        source.close();
        setTimeout(connect, backoff);
        backoff = Math.min(backoff * 2, 10000);
      }
    };
  }

  // Stale: the stream looks open but nothing (not even a ping) arrived for too long.
  setInterval(() => {
    const limit = Math.max(rivers.keepalive * 2500, 5000);
    if (rivers.state === "live" && Date.now() - lastMessage > limit) {
      setState("stale");
      wasDown = true;
      source.close();
      connect();
    }
  }, 1000);

  window.addEventListener("pagehide", () => source && source.close());
  document.addEventListener("DOMContentLoaded", () => setState(rivers.state));
  connect();
})();
