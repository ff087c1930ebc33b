// The service worker: shows each Web Push alert (title, body) and opens the story on a click.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let alert = {};
  try {
    alert = event.data ? event.data.json() : {};
  } catch (e) {
    alert = { body: event.data ? event.data.text() : "" };
  }
  const url = typeof alert.url === "string" && /^https?:\/\//.test(alert.url) ? alert.url : "/";
  event.waitUntil(
    self.registration.showNotification(alert.title || "Breaking news", {
      body: alert.body || "",
      tag: alert.tag || undefined,
      renotify: Boolean(alert.tag && alert.renotify), // an update replacing its event's first alert
      data: { url },
    })
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow((event.notification.data || {}).url || "/"));
});
