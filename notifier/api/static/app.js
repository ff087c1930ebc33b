// The reader's pages: "Get notifications" (service worker, permission, PushSubscription to our
// API), "Stop", and on the front page the live wire, refreshed every 15 s. Everything else on
// these pages works without this script. Text from feeds only ever goes in as textContent.
(function () {
  "use strict";
  const body = document.body;
  const page = body.dataset.page;
  const token = body.dataset.token || null; // on a reader's own page
  const SAVED = "notifier.push"; // {token, channel, manage_url} of this browser's subscription
  const $ = (id) => document.getElementById(id);

  function say(text) { $("push-message").textContent = text; }

  function saved() {
    try { return JSON.parse(localStorage.getItem(SAVED)); } catch (e) { return null; }
  }

  function showState(subscription) {
    const mine = subscription && (!token || subscription.token === token);
    $("push-button").hidden = Boolean(mine);
    $("push-on").hidden = !mine;
    if (mine && $("push-manage")) $("push-manage").href = subscription.manage_url;
  }

  function keyBytes(base64url) {
    const raw = atob((base64url + "=".repeat((4 - (base64url.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  function chosenTopics() {
    return Array.from(document.querySelectorAll("#topics input:checked"), (box) => box.value);
  }

  async function subscribe() {
    const topics = chosenTopics();
    if (!token && !topics.length) return say("Choose at least one topic first.");
    say("");
    const permission = await Notification.requestPermission();
    if (permission !== "granted") return say("Notifications are blocked for this site in your browser's settings.");
    const registration = await navigator.serviceWorker.ready;
    const subscription = (await registration.pushManager.getSubscription()) ||
      (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(body.dataset.vapidKey) }));
    const { endpoint, keys } = subscription.toJSON();
    const answer = await fetch(token ? `/api/me/${token}/push` : "/api/push/subscriptions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(token ? { endpoint, keys } : { endpoint, keys, topics }),
    });
    const reply = await answer.json();
    if (!answer.ok) return say(reply.error || "That did not work; please try again.");
    localStorage.setItem(SAVED, JSON.stringify(reply));
    showState(reply);
  }

  async function stop() {
    const mine = saved();
    const registration = await navigator.serviceWorker.getRegistration();
    const subscription = registration && (await registration.pushManager.getSubscription());
    if (subscription) await subscription.unsubscribe();
    if (mine) await fetch(`/api/me/${mine.token}/channels/${mine.channel}`, { method: "DELETE" });
    localStorage.removeItem(SAVED);
    showState(null);
    say("Notifications stopped.");
  }

  function setUpPush() {
    if (!("serviceWorker" in navigator && "PushManager" in window && "Notification" in window) || !$("push")) return;
    $("push").hidden = false;
    navigator.serviceWorker.register("/sw.js").catch(() => say("This browser cannot take notifications from this site."));
    showState(saved());
    $("push-button").addEventListener("click", () => subscribe().catch((e) => say(`That did not work: ${e.message}`)));
    $("push-stop").addEventListener("click", () => stop().catch((e) => say(`That did not work: ${e.message}`)));
  }

  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function when(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return "";
    const two = (n) => String(n).padStart(2, "0");
    return `${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())} UTC`;
  }

  function storyItem(story) {
    const item = document.createElement("li");
    const title = document.createElement(story.link ? "a" : "span");
    title.textContent = story.title;
    if (story.link) { title.href = story.link; title.rel = "noopener noreferrer"; }
    const meta = document.createElement("div");
    meta.className = "meta";
    const time = document.createElement("time");
    time.dateTime = story.time;
    time.textContent = when(story.time);
    meta.append(`${story.source} · `, time);
    for (const topic of story.topics) {
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = topic;
      meta.append(" ", tag);
    }
    item.append(title, meta);
    return item;
  }

  async function refreshWire() {
    try {
      const answer = await fetch("/api/wire?limit=30");
      if (!answer.ok) return;
      const { stories } = await answer.json();
      if (stories.length) $("wire").replaceChildren(...stories.map(storyItem));
      $("wire-updated").textContent = `updated ${when(new Date().toISOString())}`;
    } catch (e) { /* offline for a moment: the next round tries again */ }
  }

  setUpPush();
  if (page === "wire") setInterval(refreshWire, 15000);
})();
