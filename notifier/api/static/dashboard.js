// The dashboard refreshes its figures every 10 s without a reload; text only, never HTML.
(function () {
  "use strict";
  function cell(text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text || "";
    return td;
  }
  function when(iso) {
    return iso ? iso.replace("T", " ").replace(/:\d\dZ$/, " UTC") : "";
  }
  function render(status) {
    for (const [queue, depth] of Object.entries(status.queues)) {
      const el = document.querySelector(`[data-queue="${CSS.escape(queue)}"]`);
      if (el) el.textContent = depth;
    }
    for (const [state, count] of Object.entries(status.deliveries)) {
      const el = document.querySelector(`[data-delivery="${CSS.escape(state)}"]`);
      if (el) el.textContent = count;
    }
    document.querySelector('[data-waiting="deliveries"]').textContent = status.deliveries_waiting;
    document.querySelector('[data-waiting="stories"]').textContent = status.stories_waiting;
    const body = document.getElementById("feeds");
    if (!status.feeds.length) return;
    body.replaceChildren(...status.feeds.map((feed) => {
      const row = document.createElement("tr");
      const health = document.createElement("span");
      health.className = `health ${feed.health}`;
      health.textContent = feed.health;
      const healthCell = cell("");
      healthCell.append(health);
      row.append(cell(feed.name), healthCell, cell(when(feed.last_success)), cell(when(feed.next_poll)), cell(feed.last_error, "small"));
      return row;
    }));
  }
  async function refresh() {
    try {
      const answer = await fetch("/dashboard/status.json", { credentials: "same-origin" });
      if (answer.ok) render(await answer.json());
    } catch (e) { /* the next round tries again */ }
  }
  setInterval(refresh, 10000);
})();
