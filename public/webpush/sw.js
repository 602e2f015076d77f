// Herald's web push service worker: shows what the server pushed. The
// payload is decrypted by the browser; it holds a sender and text only when
// the server's operator allows them (push.with_sender, push.with_body).
self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {}
  const title = data.type === 'call' ? 'Incoming call' : data.type === 'test' ? 'Herald test push' : data.sender ? `Message from ${data.sender}` : 'New message';
  event.waitUntil(self.registration.showNotification(title, { body: data.body ?? 'Open your chat app to read it.', tag: data.id, renotify: true }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow('./'));
});
