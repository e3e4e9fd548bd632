import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GraceClient, type ClientOptions } from './client.js';
import type { NotificationFrame } from './frames.js';
import { FakeWebSocket, MemoryStorage, fakeFetch, note } from './test/fakes.js';

function make(over: ClientOptions = {}) {
  const storage = (over.storage as MemoryStorage | undefined) ?? new MemoryStorage();
  const client = new GraceClient({
    baseUrl: 'http://grace.test',
    WebSocketImpl: FakeWebSocket as unknown as typeof WebSocket,
    EventSourceImpl: null,
    random: () => 0.5,
    ...over,
    storage,
  });
  const seen: NotificationFrame[] = [];
  client.on('notification', (n) => seen.push(n));
  return { client, storage, seen };
}

beforeEach(() => {
  FakeWebSocket.reset();
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('resume and dedupe', () => {
  it('authenticates with hello and resumes from the seq kept for the user', () => {
    const { client, storage, seen } = make({ token: 'T', user: 'alice' });
    client.connect();
    const ws = FakeWebSocket.last;
    expect(ws.url).toBe('ws://grace.test/api/notifications/stream');
    ws.open();
    expect(ws.sent[0]).toEqual({ type: 'hello', token: 'T', since: null });
    ws.receive({ type: 'welcome', user_id: 'alice', epoch: 'e1', seq: 0, unread: 0, protocol: 1 }, { type: 'synced', seq: 0 });
    ws.receive(note(1), note(2));
    expect(seen.map((n) => n.seq)).toEqual([1, 2]);
    client.close();

    // a new page: the stored position is used, and nothing is shown twice
    const again = make({ token: 'T', user: 'alice', storage });
    again.client.connect();
    const ws2 = FakeWebSocket.last;
    ws2.open();
    expect(ws2.sent[0]).toEqual({ type: 'hello', token: 'T', since: 2 });
    ws2.receive({ type: 'welcome', user_id: 'alice', epoch: 'e1', seq: 3, unread: 1, protocol: 1 }, note(2), note(3), { type: 'synced', seq: 3 });
    ws2.receive(note(3), note(4));
    expect(again.seen.map((n) => n.seq)).toEqual([3, 4]);
  });

  it('keeps positions per user and sends since in the URL with the cookie', () => {
    const storage = new MemoryStorage();
    storage.setItem('grace.resume.v1:alice', JSON.stringify({ epoch: 'e1', seq: 7 }));
    storage.setItem('grace.resume.v1:bob', JSON.stringify({ epoch: 'e1', seq: 99 }));
    storage.setItem('grace.user', 'alice');
    const { client } = make({ storage });
    client.connect();
    expect(FakeWebSocket.last.url).toBe('ws://grace.test/api/notifications/stream?since=7');
    FakeWebSocket.last.open();
    expect(FakeWebSocket.last.sent).toEqual([]); // the cookie authenticates: no hello
  });

  it('discards the replay and resets when the server’s epoch changed', () => {
    const storage = new MemoryStorage();
    storage.setItem('grace.resume.v1:alice', JSON.stringify({ epoch: 'old', seq: 50 }));
    const { client, seen } = make({ storage, user: 'alice' });
    const resets: string[] = [];
    client.on('reset', (r) => resets.push(r));
    client.connect();
    const ws = FakeWebSocket.last;
    ws.open();
    ws.receive({ type: 'welcome', user_id: 'alice', epoch: 'new', seq: 3, unread: 0, protocol: 1 }, { type: 'synced', seq: 3, gap: true });
    expect(resets).toEqual(['epoch', 'gap']);
    ws.receive(note(4));
    expect(seen.map((n) => n.seq)).toEqual([4]);
    expect(JSON.parse(storage.getItem('grace.resume.v1:alice')!)).toEqual({ epoch: 'new', seq: 4 });
  });
});

describe('commands', () => {
  it('resolves each command by its ref, whatever the order of replies', async () => {
    const { client } = make({ token: 'T' });
    client.connect();
    const ws = FakeWebSocket.last;
    ws.greet();
    const tasks = client.listTasks();
    const pong = client.ping();
    await vi.advanceTimersByTimeAsync(0);
    const [a, b] = ws.sent.slice(-2);
    ws.receive({ type: 'pong', ref: b.id }, { type: 'task_list', tasks: [], active: 0, ref: a.id });
    await expect(pong).resolves.toEqual({ type: 'pong', ref: b.id });
    await expect(tasks).resolves.toMatchObject({ type: 'task_list', active: 0 });
  });

  it('rejects with the server’s error code, and on timeout', async () => {
    const { client } = make({ token: 'T', commandTimeoutMs: 1000 });
    client.connect();
    const ws = FakeWebSocket.last;
    ws.greet();
    const cancel = client.cancelTask('nope');
    await vi.advanceTimersByTimeAsync(0);
    ws.receive({ type: 'error', code: 'not_found', message: 'no task nope', ref: ws.lastSent('cancel_task').id });
    await expect(cancel).rejects.toMatchObject({ code: 'not_found', message: 'no task nope' });

    const silent = client.status();
    const check = expect(silent).rejects.toMatchObject({ code: 'timeout' });
    await vi.advanceTimersByTimeAsync(1001);
    await check;
  });

  it('waits for the connection before sending, and rejects pending commands when it drops', async () => {
    const { client } = make({ token: 'T' });
    client.connect();
    const ws = FakeWebSocket.last;
    const p = client.approve('ap1');
    ws.greet();
    await vi.advanceTimersByTimeAsync(0);
    expect(ws.lastSent('approve')).toMatchObject({ approval_id: 'ap1' });
    const check = expect(p).rejects.toMatchObject({ code: 'disconnected' });
    ws.serverClose(1012);
    await check;
  });
});

describe('reconnecting', () => {
  it('backs off exponentially with jitter and resets after a welcome', async () => {
    const { client } = make({ token: 'T', backoffInitialMs: 100, backoffMaxMs: 1000, random: () => 0 });
    const states: string[] = [];
    client.on('state', (s) => states.push(s));
    client.connect();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      const ws = FakeWebSocket.last;
      ws.serverClose(1006);
      const count = FakeWebSocket.instances.length;
      let waited = 0;
      while (FakeWebSocket.instances.length === count) {
        await vi.advanceTimersByTimeAsync(10);
        waited += 10;
      }
      delays.push(waited);
    }
    // random() = 0 → half the exponential base: 50, 100, 200, 400, 500 (capped), 500
    expect(delays).toEqual([50, 100, 200, 400, 500, 500]);
    expect(states).toContain('reconnecting');
    FakeWebSocket.last.greet();
    expect(client.state).toBe('connected');
    expect(client.nextBackoffRange()).toEqual([50, 100]);
  });

  it('jitter spreads the delay between half and all of the base', () => {
    const low = make({ token: 'T', backoffInitialMs: 1000, random: () => 0 }).client;
    const high = make({ token: 'T', backoffInitialMs: 1000, random: () => 0.999 }).client;
    expect(low.nextBackoffRange()).toEqual([500, 1000]);
    expect(high.nextBackoffRange()).toEqual([500, 1000]);
  });

  it('detects a dead connection by a ping without pong and reconnects', async () => {
    const { client } = make({ token: 'T', heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 500, backoffInitialMs: 10 });
    client.connect();
    const ws = FakeWebSocket.last;
    ws.greet();
    await vi.advanceTimersByTimeAsync(1000);
    const ping = ws.lastSent('ping');
    expect(ping).toBeDefined();
    ws.receive({ type: 'pong', ref: ping.id }); // alive
    await vi.advanceTimersByTimeAsync(1000);
    expect(ws.sent.filter((f) => f.type === 'ping')).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(500); // no pong this time
    expect(ws.closed).not.toBeNull();
    await vi.advanceTimersByTimeAsync(20);
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it('stops on 4401 and says why', () => {
    const { client } = make();
    client.connect();
    FakeWebSocket.last.open();
    FakeWebSocket.last.receive({ type: 'error', code: 'unauthenticated', message: 'token expired' });
    FakeWebSocket.last.serverClose(4401, 'token expired');
    expect(client.state).toBe('offline');
    expect(client.error?.code).toBe('unauthenticated');
    vi.advanceTimersByTime(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });
});

describe('too many connections (4429)', () => {
  const refuse = () => {
    const ws = FakeWebSocket.last;
    ws.open();
    ws.receive({ type: 'error', code: 'rate_limited', message: 'too many connections: at most 32 per user' });
    ws.serverClose(4429, 'too many connections: at most 32 per user');
  };

  it('waits the longest delay, says so, and does not fall back to SSE', async () => {
    class FakeES {
      constructor() {
        throw new Error('SSE must not be used');
      }
    }
    const { client } = make({
      token: 'T',
      backoffInitialMs: 100,
      backoffMaxMs: 10_000,
      random: () => 0,
      fallbackAfterFailures: 1,
      EventSourceImpl: FakeES as unknown as typeof EventSource,
    });
    client.connect();
    refuse();
    expect(client.state).toBe('reconnecting');
    expect(client.error?.code).toBe('too_many_connections');
    expect(client.error?.message).toMatch(/^Too many open tabs/);
    await vi.advanceTimersByTimeAsync(4_990); // random() = 0: half of the longest delay
    expect(FakeWebSocket.instances).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(client.transport).toBe('websocket');
    // the exponential backoff was not used up by it
    expect(client.nextBackoffRange()).toEqual([50, 100]);
  });

  it('gives up after a few refusals in a row, with a message', async () => {
    const { client } = make({ token: 'T', backoffMaxMs: 1000, tooManyConnectionsTries: 3 });
    client.connect();
    for (let i = 0; i < 3; i++) {
      refuse();
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(client.state).toBe('offline');
    expect(client.error?.code).toBe('too_many_connections');
    expect(client.error?.message).toContain('close some of the other Grace tabs');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeWebSocket.instances).toHaveLength(3);
  });

  it('counts refusals only until a connection is welcomed', async () => {
    const { client } = make({ token: 'T', backoffMaxMs: 1000, tooManyConnectionsTries: 2 });
    client.connect();
    refuse();
    await vi.advanceTimersByTimeAsync(1000);
    FakeWebSocket.last.greet();
    FakeWebSocket.last.serverClose(1012);
    await vi.advanceTimersByTimeAsync(1000);
    refuse();
    expect(client.state).toBe('reconnecting');
  });
});

describe('a token that expires mid-stream (4401)', () => {
  const expire = () => {
    const ws = FakeWebSocket.last;
    ws.receive({ type: 'error', code: 'unauthenticated', message: 'token expired: sign in again' });
    ws.serverClose(4401, 'token expired: sign in again');
  };

  it('with a token: takes a new one from tokenSource and resumes from the last seq in the hello', async () => {
    const tokenSource = vi.fn(async () => 'T2');
    const { client, seen } = make({ token: 'T1', tokenSource });
    client.connect();
    FakeWebSocket.last.greet('alice', 0);
    FakeWebSocket.last.receive(note(1), note(2));
    expire();
    expect(client.state).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(0);
    expect(tokenSource).toHaveBeenCalledTimes(1);
    expect(FakeWebSocket.instances).toHaveLength(2);
    FakeWebSocket.last.open();
    expect(FakeWebSocket.last.lastSent('hello')).toEqual({ type: 'hello', token: 'T2', since: 2 });
    FakeWebSocket.last.receive({ type: 'welcome', user_id: 'alice', epoch: 'e1', seq: 3, unread: 0, protocol: 1 }, note(3), { type: 'synced', seq: 3 });
    expect(client.state).toBe('connected');
    expect(seen.map((n) => n.seq)).toEqual([1, 2, 3]);
    expect(client.restOptions.token).toBe('T2');
  });

  it('with the cookie: posts the new token to /api/session, then reconnects with ?since=', async () => {
    const http = fakeFetch({ 'POST /api/session': () => ({ status: 204 }) });
    const { client } = make({ fetchImpl: http.impl, tokenSource: () => 'T2', user: 'alice' });
    client.connect();
    FakeWebSocket.last.greet('alice', 0);
    FakeWebSocket.last.receive(note(1));
    expire();
    await vi.advanceTimersByTimeAsync(0);
    expect(http.calls).toEqual([{ method: 'POST', url: 'http://grace.test/api/session', body: { token: 'T2' } }]);
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(FakeWebSocket.last.url).toBe('ws://grace.test/api/notifications/stream?since=1');
  });

  it('without a token source (or when it has none), stops and asks to sign in again', async () => {
    for (const tokenSource of [undefined, () => null]) {
      FakeWebSocket.reset();
      const { client } = make({ tokenSource });
      client.connect();
      FakeWebSocket.last.greet();
      expire();
      await vi.advanceTimersByTimeAsync(60_000);
      expect(client.state).toBe('offline');
      expect(client.error).toMatchObject({ code: 'unauthenticated', message: 'token expired: sign in again' });
      expect(FakeWebSocket.instances).toHaveLength(1);
    }
  });

  it('stops when the new session is refused, or expires again before a welcome', async () => {
    const http = fakeFetch({ 'POST /api/session': () => ({ status: 401, body: { code: 'unauthenticated', message: 'bad token' } }) });
    const refused = make({ fetchImpl: http.impl, tokenSource: () => 'bad' }).client;
    refused.connect();
    FakeWebSocket.last.greet();
    expire();
    await vi.advanceTimersByTimeAsync(0);
    expect(refused.state).toBe('offline');
    expect(FakeWebSocket.instances).toHaveLength(1);

    FakeWebSocket.reset();
    const tokenSource = vi.fn(() => 'T2');
    const again = make({ token: 'T1', tokenSource }).client;
    again.connect();
    FakeWebSocket.last.greet();
    expire();
    await vi.advanceTimersByTimeAsync(0);
    FakeWebSocket.last.open();
    expire(); // before any welcome
    await vi.advanceTimersByTimeAsync(60_000);
    expect(tokenSource).toHaveBeenCalledTimes(1);
    expect(again.state).toBe('offline');
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it('a 4401 that does not say the token expired stays final', async () => {
    const tokenSource = vi.fn(() => 'T2');
    const { client } = make({ token: 'T1', tokenSource });
    client.connect();
    FakeWebSocket.last.open();
    FakeWebSocket.last.serverClose(4401, 'invalid token');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(tokenSource).not.toHaveBeenCalled();
    expect(client.state).toBe('offline');
  });
});

describe('SSE + REST fallback', () => {
  it('uses SSE for notifications and REST for commands when WebSocket never opens', async () => {
    const sources: { url: string; es: { onmessage: ((e: MessageEvent) => void) | null } }[] = [];
    class FakeES {
      onmessage: ((e: MessageEvent) => void) | null = null;
      onerror: (() => void) | null = null;
      constructor(url: string) {
        sources.push({ url, es: this });
      }
      close() {}
    }
    const http = fakeFetch({
      'POST /api/tasks/t1/cancel': () => ({ status: 200, body: { task_id: 't1', task_type: 'x', state: 'cancelling', progress: null } }),
    });
    const storage = new MemoryStorage();
    storage.setItem('grace.user', 'alice');
    storage.setItem('grace.resume.v1:alice', JSON.stringify({ epoch: 'e1', seq: 4 }));
    const { client, seen } = make({
      storage,
      EventSourceImpl: FakeES as unknown as typeof EventSource,
      fetchImpl: http.impl,
      fallbackAfterFailures: 2,
      backoffInitialMs: 10,
    });
    client.connect();
    FakeWebSocket.last.serverClose(1006);
    await vi.advanceTimersByTimeAsync(20);
    FakeWebSocket.last.serverClose(1006);
    await vi.advanceTimersByTimeAsync(40);
    expect(client.transport).toBe('sse');
    expect(sources[0].url).toBe('http://grace.test/api/notifications/sse?since=4');
    const push = (f: object) => sources[0].es.onmessage?.({ data: JSON.stringify(f) } as MessageEvent);
    push({ type: 'welcome', user_id: 'alice', epoch: 'e1', seq: 5, unread: 1, protocol: 1 });
    push(note(5));
    push({ type: 'synced', seq: 5 });
    expect(client.state).toBe('connected');
    expect(seen.map((n) => n.seq)).toEqual([5]);
    await expect(client.cancelTask('t1')).resolves.toMatchObject({ type: 'task', task: { state: 'cancelling' } });
    expect(http.calls.at(-1)).toMatchObject({ method: 'POST', url: 'http://grace.test/api/tasks/t1/cancel' });
  });
});
