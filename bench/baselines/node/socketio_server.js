// Node.js baseline: socket.io 4 with one room per user, as a team would write the seed's design
// with Node's socket.io.
//
// A client connects to `/socket.io/?EIO=4&transport=websocket&user_id=U`; the connection handler
// joins room `U` (in the same turn of the event loop as the namespace's CONNECT answer, so before
// the client can act on it); `notifyUser` emits the seed's notification as event `notification`
// to the room: `io.to(userId).emit(...)`. The loopback control API (`common.js`) shares the HTTP
// server. socket.io's defaults otherwise (ping every 25 s, as python-socketio's).
import { Server } from "socket.io";

import { BADGE, MESSAGE, NOTIFICATION_TYPE, Publisher, controlServer, serve, stamp } from "./common.js";

function notifyUser(userId, type, message, badge, data) {
  io.to(userId).emit("notification", {
    type,
    message,
    badge,
    timestamp: new Date().toISOString(),
    data,
  });
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
const io = new Server(http, { serveClient: false });

io.on("connection", (socket) => {
  const userId = socket.handshake.query.user_id;
  socket.join(typeof userId === "string" ? userId : "user");
});

serve(http, () => {
  io.close();
});
