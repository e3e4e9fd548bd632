/**
 * A framework-free Grace client.
 *
 * Guarantees:
 * - Resume: the last seq seen (with the server's epoch) is kept per user in `storage`; every
 *   (re)connect asks for what came after it, so nothing is missed. Notifications at or below the
 *   last seq are dropped, so nothing is shown twice. When the server's epoch or the user differs
 *   from what the stored seq belongs to, the replay is discarded and `reset` is emitted.
 * - Reconnect with exponential backoff and jitter; a dead connection is detected by a ping that
 *   gets no pong in time. 4401/4403 closes are final (`offline` with an error).
 * - Every command is a promise resolved by the reply whose `ref` is the command's `id`, rejected
 *   with the server's error code, or with `timeout` / `disconnected` / `closed`.
 * - Several frames packed in one message (newline-separated) are split.
 * - Without WebSocket (or when it never opens), notifications come over SSE and commands over REST.
 */
import { GraceError, normalizeTasks, rest, type RestOptions } from './api';
import type { ApprovalInfo, ControlFrame, NotificationFrame, ReplyMap, ServerFrame, SyncedFrame, WelcomeFrame } from './frames';
import { isNotificationFrame, parseFrames } from './parse';
import { CLOSE_CODES, type Command, type SendableCommandType } from './protocol';

export { GraceError };

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'offline';
export type Transport = 'websocket' | 'sse';

type KeyValueStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

export interface ClientOptions {
  /** The server's http(s) origin; defaults to the page's. */
  baseUrl?: string;
  /** Authenticate with a hello frame (and Bearer for REST); without it the session cookie is used. */
  token?: string | null;
  /** Whose resume position to use before the server says who we are (the cookie's user). */
  user?: string | null;
  storage?: KeyValueStorage | null;
  WebSocketImpl?: typeof WebSocket | null;
  EventSourceImpl?: typeof EventSource | null;
  fetchImpl?: typeof fetch;
  commandTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** WebSocket attempts that never open before switching to SSE + REST. */
  fallbackAfterFailures?: number;
  random?: () => number;
}

export interface NotificationMeta {
  /** True when the frame was replayed on (re)connect rather than pushed live. */
  replayed: boolean;
}

export interface ClientEvents {
  notification: (frame: NotificationFrame, meta: NotificationMeta) => void;
  state: (state: ConnectionState, error: GraceError | null) => void;
  welcome: (frame: WelcomeFrame) => void;
  synced: (frame: SyncedFrame) => void;
  /** Every control frame (replies included), e.g. `read` pushed from the user's other tabs. */
  frame: (frame: ControlFrame) => void;
  /** What this client knew no longer matches the server (new epoch, other user, history gap). */
  reset: (reason: 'epoch' | 'user' | 'gap') => void;
}

interface Pending {
  resolve: (frame: ControlFrame) => void;
  reject: (err: GraceError) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface Resume {
  epoch: string;
  seq: number;
}

const RESUME_PREFIX = 'grace.resume.v1:';
export const LAST_USER_KEY = 'grace.user';

type Listeners = { [K in keyof ClientEvents]: Set<ClientEvents[K]> };

export class GraceClient {
  readonly baseUrl: string;
  private readonly opts: Required<
    Omit<ClientOptions, 'baseUrl' | 'token' | 'user' | 'storage' | 'WebSocketImpl' | 'EventSourceImpl' | 'fetchImpl'>
  >;
  private readonly token: string | null;
  private readonly storage: KeyValueStorage | null;
  private readonly WS: typeof WebSocket | null;
  private readonly ES: typeof EventSource | null;
  private readonly fetchImpl: typeof fetch | undefined;
  private listeners: Listeners = {
    notification: new Set(),
    state: new Set(),
    welcome: new Set(),
    synced: new Set(),
    frame: new Set(),
    reset: new Set(),
  };

  private ws: WebSocket | null = null;
  private es: EventSource | null = null;
  private _state: ConnectionState = 'idle';
  private _transport: Transport;
  private _error: GraceError | null = null;
  private stopped = true;
  private attempt = 0;
  private failuresBeforeOpen = 0;
  private everWelcomed = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeatTimer: ReturnType<typeof setTimeout> | null = null;
  private pending = new Map<string, Pending>();
  private waiters = new Set<{ resolve: () => void; reject: (e: GraceError) => void }>();
  private counter = 0;

  private user: string | null;
  private epoch: string | null = null;
  private lastSeq: number | null = null;
  /** The resume position this connection asked with, to check against `welcome`. */
  private askedWith: { user: string | null; resume: Resume | null } | null = null;
  private discardReplay = false;
  private synced = false;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? globalThis.location?.origin ?? '').replace(/\/$/, '');
    this.token = options.token ?? null;
    this.storage = options.storage === undefined ? safeLocalStorage() : options.storage;
    this.WS = options.WebSocketImpl === undefined ? (globalThis.WebSocket ?? null) : options.WebSocketImpl;
    this.ES =
      options.EventSourceImpl === undefined ? (globalThis.EventSource ?? null) : options.EventSourceImpl;
    this.fetchImpl = options.fetchImpl;
    this.opts = {
      commandTimeoutMs: options.commandTimeoutMs ?? 10_000,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 20_000,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 8_000,
      backoffInitialMs: options.backoffInitialMs ?? 500,
      backoffMaxMs: options.backoffMaxMs ?? 15_000,
      fallbackAfterFailures: options.fallbackAfterFailures ?? 3,
      random: options.random ?? Math.random,
    };
    this.user = options.user ?? this.storage?.getItem(LAST_USER_KEY) ?? null;
    this._transport = this.WS ? 'websocket' : 'sse';
    const resume = this.readResume(this.user);
    if (resume) {
      this.epoch = resume.epoch;
      this.lastSeq = resume.seq;
    }
  }

  get state(): ConnectionState {
    return this._state;
  }
  get transport(): Transport {
    return this._transport;
  }
  get error(): GraceError | null {
    return this._error;
  }
  get userId(): string | null {
    return this.user;
  }
  get seq(): number | null {
    return this.lastSeq;
  }
  get restOptions(): RestOptions {
    return { baseUrl: this.baseUrl, token: this.token, fetchImpl: this.fetchImpl };
  }

  on<K extends keyof ClientEvents>(event: K, fn: ClientEvents[K]): () => void {
    (this.listeners[event] as Set<ClientEvents[K]>).add(fn);
    return () => {
      (this.listeners[event] as Set<ClientEvents[K]>).delete(fn);
    };
  }

  private emit<K extends keyof ClientEvents>(event: K, ...args: Parameters<ClientEvents[K]>): void {
    for (const fn of this.listeners[event] as Set<(...a: Parameters<ClientEvents[K]>) => void>) {
      try {
        fn(...args);
      } catch (err) {
        console.error('grace: a listener failed', err);
      }
    }
  }

  connect(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this._error = null;
    this.open();
  }

  /** Close for good (until `connect` again): pending commands reject with `closed`. */
  close(): void {
    this.stopped = true;
    this.clearTimers();
    this.teardown();
    this.failAll(new GraceError('closed', 'the connection was closed'));
    this.setState('idle');
  }

  /** Forget the stored resume position (e.g. after logging out). */
  forget(): void {
    if (this.user) this.storage?.removeItem(RESUME_PREFIX + this.user);
    this.lastSeq = null;
    this.epoch = null;
  }

  // -- connecting --------------------------------------------------------------------------------

  private open(): void {
    this.setState(this.everWelcomed || this.attempt > 0 ? 'reconnecting' : 'connecting');
    this.synced = false;
    this.discardReplay = false;
    this.askedWith = {
      user: this.user,
      resume: this.lastSeq !== null && this.epoch !== null ? { epoch: this.epoch, seq: this.lastSeq } : null,
    };
    if (this._transport === 'sse') this.openSse();
    else this.openWs();
  }

  private openWs(): void {
    const WS = this.WS;
    if (!WS) return;
    const since = this.askedWith?.resume?.seq ?? null;
    let url = this.baseUrl.replace(/^http/, 'ws') + '/api/notifications/stream';
    if (!this.token && since !== null) url += `?since=${since}`;
    let opened = false;
    let ws: WebSocket;
    try {
      ws = new WS(url);
    } catch {
      this.afterClose(1006, false);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      opened = true;
      if (this.token) ws.send(JSON.stringify({ type: 'hello', token: this.token, since }));
    };
    ws.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== 'string') return;
      let frames: ServerFrame[];
      try {
        frames = parseFrames(event.data);
      } catch {
        console.error('grace: the server sent a frame that is not JSON');
        return;
      }
      for (const frame of frames) this.handleFrame(frame);
    };
    ws.onclose = (event: CloseEvent) => {
      if (this.ws !== ws) return;
      this.afterClose(event.code, opened, event.reason);
    };
  }

  private openSse(): void {
    const ES = this.ES;
    if (!ES) {
      this.setState('offline', new GraceError('unavailable', 'this browser supports neither WebSocket nor SSE'));
      return;
    }
    const since = this.askedWith?.resume?.seq ?? null;
    const url = this.baseUrl + '/api/notifications/sse' + (since !== null ? `?since=${since}` : '');
    const es = new ES(url, { withCredentials: true });
    this.es = es;
    es.onmessage = (event: MessageEvent) => {
      try {
        for (const frame of parseFrames(String(event.data))) this.handleFrame(frame);
      } catch {
        console.error('grace: the server sent an event that is not JSON');
      }
    };
    es.onerror = () => {
      if (this.es !== es) return;
      // The browser retries by itself (with Last-Event-ID); we restart with our own position,
      // which also covers a 401 that EventSource does not report.
      es.close();
      this.es = null;
      this.afterClose(1006, this.everWelcomed);
    };
  }

  private afterClose(code: number, opened: boolean, reason = ''): void {
    this.ws = null;
    this.stopHeartbeat();
    this.failAll(new GraceError('disconnected', 'the connection dropped before the answer came'));
    if (this.stopped) return;
    if (code === CLOSE_CODES.unauthenticated) {
      this.stopped = true;
      this.setState(
        'offline',
        new GraceError('unauthenticated', reason || 'not signed in: open the link that `grace serve` printed'),
      );
      return;
    }
    if (code === CLOSE_CODES.forbidden) {
      this.stopped = true;
      this.setState('offline', new GraceError('forbidden', reason || 'this page’s origin is not allowed'));
      return;
    }
    if (!opened && this._transport === 'websocket') {
      this.failuresBeforeOpen += 1;
      if (!this.everWelcomed && this.ES && this.failuresBeforeOpen >= this.opts.fallbackAfterFailures) {
        this._transport = 'sse';
      }
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const base = Math.min(this.opts.backoffMaxMs, this.opts.backoffInitialMs * 2 ** this.attempt);
    const delay = base / 2 + (this.opts.random() * base) / 2; // "equal jitter"
    this.attempt += 1;
    this.setState('reconnecting', this._error);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopped) this.open();
    }, delay);
  }

  /** The delay range of the next reconnect, for tests and the UI. */
  nextBackoffRange(): [number, number] {
    const base = Math.min(this.opts.backoffMaxMs, this.opts.backoffInitialMs * 2 ** this.attempt);
    return [base / 2, base];
  }

  private teardown(): void {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(1000, 'bye');
      } catch {
        /* already closed */
      }
    }
    if (this.es) {
      this.es.close();
      this.es = null;
    }
  }

  /** Drop a connection that looks dead and reconnect now, without waiting for the TCP timeout. */
  private drop(): void {
    this.teardown();
    this.afterClose(1006, true);
  }

  // -- frames ------------------------------------------------------------------------------------

  private handleFrame(frame: ServerFrame): void {
    if (isNotificationFrame(frame)) {
      this.handleNotification(frame);
      return;
    }
    const control = frame as ControlFrame;
    switch (control.type) {
      case 'welcome':
        this.handleWelcome(control);
        break;
      case 'synced':
        this.synced = true;
        this.discardReplay = false;
        this.saveSeq(control.seq); // the server's cursor: everything up to it has been delivered
        this.emit('synced', control);
        if (control.gap) this.emit('reset', 'gap');
        break;
      case 'error':
        if (control.ref === undefined && !this.everWelcomedThisConnection()) {
          this._error = new GraceError(control.code, control.message);
        }
        break;
      default:
        break;
    }
    const ref = 'ref' in control ? control.ref : undefined;
    if (ref !== undefined && ref !== null) {
      const pending = this.pending.get(String(ref));
      if (pending) {
        this.pending.delete(String(ref));
        clearTimeout(pending.timer);
        if (control.type === 'error') pending.reject(new GraceError(control.code, control.message));
        else pending.resolve(control);
      }
    }
    this.emit('frame', control);
  }

  private everWelcomedThisConnection(): boolean {
    return this._state === 'connected';
  }

  private handleWelcome(frame: WelcomeFrame): void {
    const asked = this.askedWith;
    if (asked?.resume) {
      if (asked.user !== null && asked.user !== frame.user_id) {
        this.discardReplay = true;
        this.emit('reset', 'user');
      } else if (asked.resume.epoch !== frame.epoch) {
        this.discardReplay = true;
        this.emit('reset', 'epoch');
      }
    }
    if (this.user !== frame.user_id) this.storage?.setItem(LAST_USER_KEY, frame.user_id);
    this.user = frame.user_id;
    this.epoch = frame.epoch;
    if (!asked?.resume || this.discardReplay) this.saveSeq(frame.seq);
    this.everWelcomed = true;
    this.attempt = 0;
    this.failuresBeforeOpen = 0;
    this._error = null;
    this.setState('connected');
    this.startHeartbeat();
    for (const waiter of this.waiters) waiter.resolve();
    this.waiters.clear();
    this.emit('welcome', frame);
  }

  private handleNotification(frame: NotificationFrame): void {
    if (this.discardReplay && !this.synced) return;
    if (this.lastSeq !== null && frame.seq <= this.lastSeq) return; // seen already
    this.saveSeq(frame.seq);
    this.emit('notification', frame, { replayed: !this.synced });
  }

  private saveSeq(seq: number): void {
    this.lastSeq = seq;
    if (this.user && this.epoch) {
      const value: Resume = { epoch: this.epoch, seq };
      this.storage?.setItem(RESUME_PREFIX + this.user, JSON.stringify(value));
    }
  }

  private readResume(user: string | null): Resume | null {
    if (!user) return null;
    const raw = this.storage?.getItem(RESUME_PREFIX + user);
    if (!raw) return null;
    try {
      const value = JSON.parse(raw) as Partial<Resume>;
      if (typeof value.epoch === 'string' && typeof value.seq === 'number') {
        return { epoch: value.epoch, seq: value.seq };
      }
    } catch {
      /* ignore a corrupt entry */
    }
    return null;
  }

  private setState(state: ConnectionState, error: GraceError | null = null): void {
    const changed = state !== this._state || error !== this._error;
    this._state = state;
    this._error = error;
    if (changed) this.emit('state', state, error);
  }

  // -- heartbeat -----------------------------------------------------------------------------------

  private startHeartbeat(): void {
    this.stopHeartbeat();
    if (this._transport !== 'websocket') return;
    this.heartbeatTimer = setTimeout(() => {
      this.heartbeatTimer = null;
      const ws = this.ws;
      this.request({ type: 'ping' }, this.opts.heartbeatTimeoutMs).then(
        () => {
          if (this.ws === ws && this._state === 'connected') this.startHeartbeat();
        },
        (err: GraceError) => {
          if (err.code === 'timeout' && this.ws === ws && !this.stopped) this.drop();
        },
      );
    }, this.opts.heartbeatIntervalMs);
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private clearTimers(): void {
    this.stopHeartbeat();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  private failAll(err: GraceError): void {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    if (err.code === 'closed') {
      for (const waiter of this.waiters) waiter.reject(err);
      this.waiters.clear();
    }
  }

  // -- commands ----------------------------------------------------------------------------------

  /** Send a command and wait for its reply (matched by `ref`). */
  async send<K extends SendableCommandType>(
    command: Extract<Command, { type: K }>,
    timeoutMs = this.opts.commandTimeoutMs,
  ): Promise<ReplyMap[K]> {
    if (this._transport === 'sse') return (await this.viaRest(command)) as ReplyMap[K];
    return (await this.request(command, timeoutMs)) as ReplyMap[K];
  }

  private async request(command: Command, timeoutMs: number): Promise<ControlFrame> {
    const deadline = Date.now() + timeoutMs;
    if (this._state !== 'connected') await this.whenConnected(timeoutMs, command.type);
    const ws = this.ws;
    if (!ws) throw new GraceError('disconnected', 'not connected to Grace');
    const id = `c${++this.counter}`;
    return new Promise<ControlFrame>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.pending.delete(id);
          reject(new GraceError('timeout', `no answer to '${command.type}' in ${Math.round(timeoutMs / 1000)}s`));
        },
        Math.max(0, deadline - Date.now()),
      );
      this.pending.set(id, { resolve, reject, timer });
      try {
        ws.send(JSON.stringify({ ...command, id }));
      } catch {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new GraceError('disconnected', 'the connection dropped before the command was sent'));
      }
    });
  }

  private whenConnected(timeoutMs: number, what: string): Promise<void> {
    if (this.stopped && this._state !== 'connected') {
      return Promise.reject(
        this._error ?? new GraceError('closed', 'not connected to Grace'),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: GraceError) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new GraceError('timeout', `not connected to Grace: '${what}' was not sent`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Commands over REST, for the SSE transport. */
  private async viaRest(command: Command): Promise<ControlFrame> {
    const r = this.restOptions;
    const enc = encodeURIComponent;
    switch (command.type) {
      case 'ping':
        return { type: 'pong' };
      case 'mark_read': {
        const body = { ids: command.ids ?? null, up_to_seq: command.up_to_seq ?? null, all: command.all ?? false };
        const res = await rest<{ marked: number; unread: number }>(r, 'POST', '/api/notifications/read', body);
        return { type: 'read', ...body, ids: command.ids ?? [], ...res };
      }
      case 'list_tasks':
        return { type: 'task_list', ...normalizeTasks(await rest<unknown>(r, 'GET', '/api/tasks')) };
      case 'cancel_task':
      case 'pause_task':
      case 'resume_task': {
        const verb = command.type.replace('_task', '');
        const res = await rest<unknown>(r, 'POST', `/api/tasks/${enc(command.task_id)}/${verb}`);
        return { type: 'task', task: unwrap(res, 'task') };
      }
      case 'start_task': {
        const res = await rest<unknown>(r, 'POST', '/api/tasks', {
          task_type: command.task_type,
          params: command.params ?? {},
        });
        return { type: 'task', task: unwrap(res, 'task') };
      }
      case 'approve':
      case 'reject': {
        const res = await rest<{ approval: ApprovalInfo; decided: boolean }>(
          r,
          'POST',
          `/api/approvals/${enc(command.approval_id)}/${command.type}`,
          command.reason ? { reason: command.reason } : {},
        );
        return { type: 'approval', ...res };
      }
      case 'chat': {
        const res = await rest<{ text: string; intent: string | null; data: Record<string, unknown> }>(
          r,
          'POST',
          '/api/unified/chat',
          { text: command.text },
        );
        return { type: 'chat_reply', ...res };
      }
      default:
        throw new GraceError('unavailable', `'${command.type}' needs the WebSocket connection`);
    }
  }

  // -- the protocol's commands ---------------------------------------------------------------------

  ping() {
    return this.send({ type: 'ping' });
  }
  ack(seq: number) {
    return this.send({ type: 'ack', seq });
  }
  markRead(which: { ids?: string[]; up_to_seq?: number; all?: boolean }) {
    return this.send({ type: 'mark_read', ...which });
  }
  listTasks(includeFinished = true) {
    return this.send({ type: 'list_tasks', include_finished: includeFinished });
  }
  cancelTask(taskId: string) {
    return this.send({ type: 'cancel_task', task_id: taskId });
  }
  pauseTask(taskId: string) {
    return this.send({ type: 'pause_task', task_id: taskId });
  }
  resumeTask(taskId: string) {
    return this.send({ type: 'resume_task', task_id: taskId });
  }
  taskLogs(taskId: string, limit?: number) {
    return this.send({ type: 'task_logs', task_id: taskId, ...(limit ? { limit } : {}) });
  }
  startTask(taskType: string, params: Record<string, unknown> = {}) {
    return this.send({ type: 'start_task', task_type: taskType, params });
  }
  pauseLearning() {
    return this.send({ type: 'pause_learning' });
  }
  resumeLearning() {
    return this.send({ type: 'resume_learning' });
  }
  approve(approvalId: string, reason?: string) {
    return this.send({ type: 'approve', approval_id: approvalId, ...(reason ? { reason } : {}) });
  }
  reject(approvalId: string, reason?: string) {
    return this.send({ type: 'reject', approval_id: approvalId, ...(reason ? { reason } : {}) });
  }
  status() {
    return this.send({ type: 'status' });
  }
  chat(text: string) {
    return this.send({ type: 'chat', text });
  }
}

function unwrap<T>(body: unknown, key: string): T {
  if (body && typeof body === 'object' && key in body) return (body as Record<string, T>)[key] as T;
  return body as T;
}

function safeLocalStorage(): KeyValueStorage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}
