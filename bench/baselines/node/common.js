// What the Node.js baselines share with the harness: the notification's fields, the clock its
// `data.t` is read from, the publishing plans and the loopback control API. The same contract as
// `bench/common.py`; see there.
import { createServer } from "node:http";
import { setImmediate as turn, setTimeout as sleep } from "node:timers/promises";

export const NOTIFICATION_TYPE = "task_completed";
export const MESSAGE = "Deployment completed successfully";
export const BADGE = "✅";
export const STREAM_PATH = "/api/notifications/stream";
export const HOST = "127.0.0.1";

export function userName(index) {
  return `u${index}`;
}

// The load generator takes latency as its receive time (Python's `time.time_ns()`, the wall
// clock) minus `data.t`, so `t` must be wall-clock nanoseconds since the epoch. Node reads the
// wall clock only to the millisecond (`Date.now()`) and nanoseconds only on the monotonic clock
// (`process.hrtime.bigint()`, whose zero is arbitrary). At start-up, watch `Date.now()` tick
// over to the next millisecond: the tick happened after the monotonic reading taken just before
// the last call that still returned the old millisecond, and before the one taken just after
// the first call that returned the new one. Of several ticks, the one bracketed most tightly
// (a process preempted in between gets a wide bracket) gives the offset from then on:
// `t = hrtime + offset`.
const TICKS = 12;

function calibrate() {
  let best = null;
  for (let i = 0; i < TICKS; i++) {
    let lastBefore = process.hrtime.bigint();
    const first = Date.now();
    let before;
    let after;
    let ms;
    for (;;) {
      before = process.hrtime.bigint();
      ms = Date.now();
      after = process.hrtime.bigint();
      if (ms !== first) break;
      lastBefore = before;
    }
    if (ms !== first + 1) continue; // preempted across more than a tick: no bracket
    const width = after - lastBefore;
    if (best === null || width < best.width) {
      best = { width, offset: BigInt(ms) * 1_000_000n - (lastBefore + after) / 2n };
    }
  }
  if (best === null) throw new Error("the wall clock did not tick by one millisecond");
  return best.offset;
}

const EPOCH_MINUS_HRTIME = calibrate();

// Epoch nanoseconds, about 1.8e18, are beyond a JS number's 2^53: as a number the value is
// rounded to a multiple of 256 ns (an error of at most 128 ns), and JSON.stringify writes it as
// an integer (digits, no exponent, below 1e21), which the load generator reads as an int.
export function epochNs() {
  return Number(EPOCH_MINUS_HRTIME + process.hrtime.bigint());
}

export function stamp(k) {
  return { t: epochNs(), k };
}

// Publish what `spec` says; resolves to the number of notifications published. The plans of
// `bench/common.py: run_plan`, with the same lanes, order and `parts`/`part` split. The targets
// of the random-user plans (`storm`, `steady`) come in the spec as `plan` (one user index per
// notification), made by the harness with Python's generator, so every server publishes the
// same sequence. `sink.one(user, k)` and `sink.many(users, k)` send without waiting; each
// publisher gives the event loop a turn after each notification, as an awaited call would.
export async function runPlan(sink, spec) {
  const scenario = spec.scenario;
  const users = Array.from({ length: Number(spec.users) }, (_, i) => userName(i));
  const count = Number(spec.count);
  const lanes = Math.max(1, Number(spec.concurrency ?? 1));
  const k0 = Number(spec.k0 ?? 0);
  const parts = Math.max(1, Number(spec.parts ?? 1));
  const part = Number(spec.part ?? 0);
  const strided = function* (items, j) {
    for (let i = j; i < items.length; i += lanes) yield items[i];
  };
  const lanesOf = (work) => Promise.all(Array.from({ length: lanes }, (_, j) => work(j)));

  if (scenario === "burst" || scenario === "reconnect") {
    const mineK = [];
    for (let k = k0; k < k0 + count; k++) if (k % parts === part) mineK.push(k);
    await lanesOf(async (j) => {
      for (const k of strided(mineK, j)) {
        sink.many(users, k);
        await turn();
      }
    });
    return mineK.length * users.length;
  }
  const plan = spec.plan;
  if (!Array.isArray(plan) || plan.length !== count) {
    throw new Error(`a ${scenario} plan needs "plan": a list of ${count} user indexes`);
  }
  const mine = plan.map((u) => (u + 1) % parts === part);
  if (scenario === "storm") {
    const ks = [];
    for (let k = 0; k < count; k++) if (mine[k]) ks.push(k);
    await lanesOf(async (j) => {
      for (const k of strided(ks, j)) {
        sink.one(users[plan[k]], k);
        await turn();
      }
    });
    return ks.length;
  }
  if (scenario === "steady") {
    const rate = Number(spec.rate);
    const start = performance.now();
    let sent = 0;
    while (sent < count) {
      const due = Math.min(count, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
      for (; sent < due; sent++) if (mine[sent]) sink.one(users[plan[sent]], sent);
      await sleep(2); // pacing a fixed-rate publisher, not waiting for anything
    }
    return mine.filter(Boolean).length;
  }
  throw new Error(`unknown scenario ${JSON.stringify(scenario)}`);
}

// One publishing plan at a time, run in the server's event loop.
export class Publisher {
  constructor(sink) {
    this.sink = sink;
    this.running = null;
    this.state = { running: false };
  }

  async run(spec) {
    const started = performance.now();
    this.state = { running: true, scenario: spec.scenario };
    try {
      const published = await runPlan(this.sink, spec);
      this.state = { running: false, published, seconds: (performance.now() - started) / 1000 };
    } catch (err) {
      // reported to the load generator, which fails loudly
      this.state = { running: false, error: `${err.name}: ${err.message}` };
    }
  }

  async start(spec, wait) {
    if (this.running !== null) return { error: "a plan is already running" };
    this.running = this.run(spec).finally(() => {
      this.running = null;
    });
    if (wait) await this.running;
    return this.state;
  }
}

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

// An HTTP server answering `GET /bench/health`, `POST /bench/publish` and `GET /bench/status`
// (anything else: 404); the WebSocket servers attach to it.
export function controlServer(publisher) {
  return createServer((req, res) => {
    const path = (req.url ?? "").split("?", 1)[0];
    if (req.method === "GET" && path === "/bench/health") return reply(res, 200, { ok: true });
    if (req.method === "GET" && path === "/bench/status") return reply(res, 200, publisher.state);
    if (req.method === "POST" && path === "/bench/publish") {
      readJson(req).then(
        async (spec) => {
          const state = await publisher.start(spec, Boolean(spec.wait));
          reply(res, "error" in state ? 409 : 200, state);
        },
        (err) => reply(res, 400, { error: `bad request: ${err.message}` }),
      );
      return undefined;
    }
    return reply(res, 404, { error: "not found" });
  });
}

// Listen on a loopback port the system picks, announce it on stdout (`LISTEN <port>`, the one
// line the harness reads there), and stop on SIGINT or SIGTERM: `close` ends the WebSocket
// server's connections, then the process exits (at most 2 s later, as uvicorn's graceful
// shutdown in the Python servers).
export function serve(server, close) {
  server.listen({ port: 0, host: HOST, backlog: 4096 }, () => {
    process.stdout.write(`LISTEN ${server.address().port}\n`);
  });
  const stop = () => {
    setTimeout(() => process.exit(0), 2000).unref();
    close();
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
