// Node.js baseline: the `ws` library, as a team would write the seed's design in Node.
//
// `ws://127.0.0.1:<port>/api/notifications/stream?user_id=U`; `connections` maps each user to
// the Set of their open sockets; `notifyUser` builds the seed's notification, serializes it once
// (`JSON.stringify`) and sends the text to each of the user's sockets. For the harness, as the
// seed-style server: a `welcome` frame once the socket is registered, `pong` to `{"type":"ping"}`,
// `data` in the notification, and the loopback control API (`common.js`). A protocol-level ping
// every 20 s ends sockets that stopped answering (the Python servers' uvicorn setting).
import { WebSocketServer } from "ws";

import {
  BADGE,
  MESSAGE,
  NOTIFICATION_TYPE,
  Publisher,
  STREAM_PATH,
  controlServer,
  serve,
  stamp,
} from "./common.js";

const PING_INTERVAL_MS = 20_000;
const connections = new Map();

function notifyUser(userId, type, message, badge, data) {
  const sockets = connections.get(userId);
  if (sockets === undefined) return;
  const text = JSON.stringify({
    type,
    message,
    badge,
    timestamp: new Date().toISOString(),
    data,
  });
  for (const ws of sockets) ws.send(text);
}

const sink = {
  one(user, k) {
    notifyUser(user, NOTIFICATION_TYPE, MESSAGE, BADGE, stamp(k));
  },
  many(users, k) {
    const data = stamp(k);
    for (const user of users) notifyUser(user, NOTIFICATION_TYPE, MESSAGE, BADGE, data);
  },
};

const http = controlServer(new Publisher(sink));
const wss = new WebSocketServer({ server: http, path: STREAM_PATH, maxPayload: 1024 * 1024 });

wss.on("connection", (ws, req) => {
  const userId = new URL(req.url, "http://localhost").searchParams.get("user_id") ?? "user";
  let sockets = connections.get(userId);
  if (sockets === undefined) {
    sockets = new Set();
    connections.set(userId, sockets);
  }
  sockets.add(ws);
  ws.alive = true;
  ws.on("pong", () => {
    ws.alive = true;
  });
  ws.on("message", (raw) => {
    let frame;
    try {
      frame = JSON.parse(raw);
    } catch {
      return; // not JSON: ignored, as the seed's endpoint would fail only that receive
    }
    if (frame !== null && frame.type === "ping") ws.send('{"type":"pong"}');
  });
  ws.on("error", () => {}); // a reset connection: "close" follows and cleans up
  ws.on("close", () => {
    sockets.delete(ws);
    if (sockets.size === 0 && connections.get(userId) === sockets) connections.delete(userId);
  });
  ws.send(JSON.stringify({ type: "welcome", user_id: userId }));
});

const heartbeat = setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.alive) {
      ws.terminate();
      continue;
    }
    ws.alive = false;
    ws.ping();
  }
}, PING_INTERVAL_MS);

serve(http, () => {
  clearInterval(heartbeat);
  for (const ws of wss.clients) ws.terminate();
  wss.close();
});
