/**
 * A framework-free Grace client.
 *
 * Guarantees:
 * - Resume: nothing is missed and nothing is shown twice, across reconnects and pages (see
 *   `resume.ts`); a `reset` is emitted when the server's epoch or the user changed.
 * - Reconnect with exponential backoff and jitter (`backoff.ts`); a dead connection is detected by
 *   a ping that gets no pong in time (`heartbeat.ts`). 4403 is final (`offline` with an error);
 *   so is 4401, unless it says the token expired and `tokenSource` gives a new one (then the
 *   client signs in again and resumes). Too many connections (4429) waits the longest delay,
 *   a few times, then gives up.
 * - Every command is a promise of its typed reply, matched by `ref` (`replies.ts`), rejected with
 *   a `GraceError` carrying the server's error code, or `timeout` / `disconnected` / `closed`.
 * - Several frames packed in one message (newline-separated) are split (`parse.ts`).
 * - Without WebSocket (or when it never opens), notifications come over SSE and commands over REST
 *   (`connection.ts`, `restRoutes.ts`).
 */
import { startSession, type RestOptions } from './api.js';
import { apiBaseUrl } from './apiBase.js';
import { Backoff } from './backoff.js';
import type { ClientEvents, ClientOptions, ConnectionState, NotificationMeta } from './clientTypes.js';
import { StreamConnection, type StreamConfig, type Transport } from './connection.js';
import { GraceError } from './errors.js';
import type { ReplyMap, ServerFrame, WelcomeFrame } from './frames.js';
import { Heartbeat } from './heartbeat.js';
import { Listeners } from './listeners.js';
import { isNotificationFrame } from './parse.js';
import { CLOSE_CODES, type Command, type CommandMap, type SendableCommandType } from './protocol.js';
import { ConnectionWaiters, PendingReplies } from './replies.js';
import { commandOverRest } from './restRoutes.js';
import { ResumeState } from './resume.js';
import { safeLocalStorage } from './storage.js';

export type { ClientEvents, ClientOptions, ConnectionState, NotificationMeta, Transport };

type MarkRead = Pick<CommandMap['mark_read'], 'ids' | 'up_to_seq' | 'all'>;

/** A 4401 close (or the error before it) saying the token ran out, rather than that it is bad. */
const TOKEN_EXPIRED = /token expired/i;
export const TOO_MANY_TABS = 'Too many open tabs: Grace refused another connection for you. Retrying in a while.';
export const TOO_MANY_TABS_FINAL =
  'Too many open tabs: close some of the other Grace tabs or streams, then reload this page.';
export const SIGN_IN_AGAIN = 'token expired: sign in again';

export class GraceClient {
  readonly baseUrl: string;
  private token: string | null;
  private readonly tokenSource: ClientOptions['tokenSource'];
  private readonly streamConfig: StreamConfig;
  private readonly fetchImpl: typeof fetch | undefined;
  private readonly hasSse: boolean;
  private readonly commandTimeoutMs: number;
  private readonly fallbackAfterFailures: number;
  private readonly tooManyTries: number;
  private readonly listeners = new Listeners<ClientEvents>();
  private readonly stream: StreamConnection;
  private readonly resume: ResumeState;
  private readonly backoff: Backoff;
  private readonly heartbeat: Heartbeat;
  private readonly replies = new PendingReplies();
  private readonly waiters = new ConnectionWaiters();

  private _state: ConnectionState = 'idle';
  private _transport: Transport;
  private _error: GraceError | null = null;
  private stopped = true;
  private failuresBeforeOpen = 0;
  private everWelcomed = false;
  /** 4429 closes since the last welcome. */
  private tooManyRefusals = 0;
  /** Signed in again since the last welcome (a second expiry before a welcome is final). */
  private signedInAgain = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? apiBaseUrl()).replace(/\/$/, '');
    this.token = options.token ?? null;
    this.tokenSource = options.tokenSource ?? null;
    this.fetchImpl = options.fetchImpl;
    const WS = options.WebSocketImpl === undefined ? (globalThis.WebSocket ?? null) : options.WebSocketImpl;
    const ES = options.EventSourceImpl === undefined ? (globalThis.EventSource ?? null) : options.EventSourceImpl;
    this.hasSse = ES !== null;
    this._transport = WS ? 'websocket' : 'sse';
    this.commandTimeoutMs = options.commandTimeoutMs ?? 10_000;
    this.fallbackAfterFailures = options.fallbackAfterFailures ?? 3;
    this.tooManyTries = options.tooManyConnectionsTries ?? 3;
    const storage = options.storage === undefined ? safeLocalStorage() : options.storage;
    this.resume = new ResumeState(storage, options.user ?? null);
    this.backoff = new Backoff(options.backoffInitialMs ?? 500, options.backoffMaxMs ?? 15_000, options.random ?? Math.random);
    this.heartbeat = new Heartbeat(
      options.heartbeatIntervalMs ?? 20_000,
      options.heartbeatTimeoutMs ?? 8_000,
      (timeoutMs) => this.request({ type: 'ping' }, timeoutMs),
      () => this.drop(),
    );
    this.streamConfig = { baseUrl: this.baseUrl, token: this.token, WebSocketImpl: WS, EventSourceImpl: ES };
    this.stream = new StreamConnection(
      this.streamConfig,
      { frame: (frame) => this.handleFrame(frame), closed: (code, opened, reason) => this.afterClose(code, opened, reason) },
    );
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
    return this.resume.userId;
  }
  get seq(): number | null {
    return this.resume.seq;
  }
  get restOptions(): RestOptions {
    return { baseUrl: this.baseUrl, token: this.token, fetchImpl: this.fetchImpl };
  }

  on<K extends keyof ClientEvents>(event: K, fn: ClientEvents[K]): () => void {
    return this.listeners.on(event, fn);
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
    this.heartbeat.stop();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.stream.close();
    const closed = new GraceError('closed', 'the connection was closed');
    this.replies.failAll(closed);
    this.waiters.failAll(closed);
    this.setState('idle');
  }

  /** Forget the stored resume position (e.g. after logging out). */
  forget(): void {
    this.resume.forget();
  }

  /** The delay range of the next reconnect, for tests and the UI. */
  nextBackoffRange(): [number, number] {
    return this.backoff.range();
  }

  // -- the connection's life -------------------------------------------------------------------

  private open(): void {
    this.setState(this.everWelcomed || this.backoff.attempts > 0 ? 'reconnecting' : 'connecting');
    const since = this.resume.begin();
    if (!this.stream.open(this._transport, since)) {
      this.stopped = true;
      this.setState('offline', new GraceError('unavailable', 'this browser supports neither WebSocket nor SSE'));
    }
  }

  private afterClose(code: number, opened: boolean, reason: string): void {
    this.heartbeat.stop();
    this.replies.failAll(new GraceError('disconnected', 'the connection dropped before the answer came'));
    if (this.stopped) return;
    if (code === CLOSE_CODES.unauthenticated && TOKEN_EXPIRED.test(reason || this._error?.message || '')) {
      void this.signInAgain(reason || this._error?.message || SIGN_IN_AGAIN);
      return;
    }
    if (code === CLOSE_CODES.unauthenticated || code === CLOSE_CODES.forbidden) {
      this.stopped = true;
      const error =
        code === CLOSE_CODES.unauthenticated
          ? new GraceError('unauthenticated', reason || 'not signed in: open the link that `grace serve` printed')
          : new GraceError('forbidden', reason || 'this page’s origin is not allowed');
      this.setState('offline', error);
      return;
    }
    if (code === CLOSE_CODES.too_many_connections) {
      // the server is there and refuses this user one more stream: not a reason to fall back to
      // SSE (which counts the same), and no use coming back soon
      this.tooManyRefusals += 1;
      if (this.tooManyRefusals >= this.tooManyTries) {
        this.stopped = true;
        this.setState('offline', new GraceError('too_many_connections', TOO_MANY_TABS_FINAL));
        return;
      }
      this.retryAfter(this.backoff.longest(), new GraceError('too_many_connections', TOO_MANY_TABS));
      return;
    }
    if (!opened && this._transport === 'websocket') {
      this.failuresBeforeOpen += 1;
      if (!this.everWelcomed && this.hasSse && this.failuresBeforeOpen >= this.fallbackAfterFailures) {
        this._transport = 'sse';
      }
    }
    this.retryAfter(this.backoff.next(), this._error);
  }

  private retryAfter(delay: number, error: GraceError | null): void {
    this.setState('reconnecting', error);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopped) this.open();
    }, delay);
  }

  /**
   * The token expired while the stream was open: get a new one from `tokenSource` (in the next
   * hello, or posted to `/api/session` for a new cookie) and reconnect from the last seq; without
   * one, stop and ask the person to sign in again.
   */
  private async signInAgain(reason: string): Promise<void> {
    const expired = new GraceError('unauthenticated', reason);
    const giveUp = () => {
      this.stopped = true;
      this.setState('offline', expired);
    };
    if (!this.tokenSource || this.signedInAgain) return giveUp();
    this.signedInAgain = true;
    this.setState('reconnecting', expired);
    let token: string | null = null;
    try {
      token = (await this.tokenSource()) || null;
      if (token && this.token !== null) {
        this.token = token;
        this.streamConfig.token = token;
      } else if (token) {
        await startSession({ baseUrl: this.baseUrl, token: null, fetchImpl: this.fetchImpl }, token);
      }
    } catch {
      token = null;
    }
    if (this.stopped) return;
    if (!token) return giveUp();
    this.open();
  }

  /** Drop a connection that looks dead and reconnect now, without waiting for the TCP timeout. */
  private drop(): void {
    this.stream.close();
    this.afterClose(1006, true, '');
  }

  private setState(state: ConnectionState, error: GraceError | null = null): void {
    const changed = state !== this._state || error !== this._error;
    this._state = state;
    this._error = error;
    if (changed) this.listeners.emit('state', state, error);
  }

  // -- frames ----------------------------------------------------------------------------------

  private handleFrame(frame: ServerFrame): void {
    if (isNotificationFrame(frame)) {
      const meta = this.resume.accept(frame);
      if (meta) this.listeners.emit('notification', frame, meta);
      return;
    }
    switch (frame.type) {
      case 'welcome':
        this.welcome(frame);
        break;
      case 'synced': {
        const reset = this.resume.synced(frame);
        this.listeners.emit('synced', frame);
        if (reset) this.listeners.emit('reset', reset);
        break;
      }
      case 'error':
        // an error that answers no command, before the welcome: why the connection is refused
        if (frame.ref === undefined && this._state !== 'connected') {
          this._error = new GraceError(frame.code, frame.message);
        }
        break;
      default:
        break;
    }
    this.replies.settle(frame);
    this.listeners.emit('frame', frame);
  }

  private welcome(frame: WelcomeFrame): void {
    const reset = this.resume.welcome(frame);
    if (reset) this.listeners.emit('reset', reset);
    this.everWelcomed = true;
    this.backoff.reset();
    this.failuresBeforeOpen = 0;
    this.tooManyRefusals = 0;
    this.signedInAgain = false;
    this._error = null;
    this.setState('connected');
    if (this._transport === 'websocket') this.heartbeat.start();
    this.waiters.connected();
    this.listeners.emit('welcome', frame);
  }

  // -- commands --------------------------------------------------------------------------------

  /** Send a command and resolve with its reply (matched by `ref`; over REST without WebSocket). */
  async send<K extends SendableCommandType>(
    command: Extract<Command, { type: K }>,
    timeoutMs = this.commandTimeoutMs,
  ): Promise<ReplyMap[K]> {
    const c = command as CommandMap[K]; // the same type, which TypeScript cannot see for a generic K
    if (this._transport === 'sse') return commandOverRest<K>(this.restOptions, c);
    return this.request<K>(c, timeoutMs);
  }

  private async request<K extends SendableCommandType>(command: CommandMap[K], timeoutMs: number): Promise<ReplyMap[K]> {
    const deadline = Date.now() + timeoutMs;
    if (this._state !== 'connected') {
      if (this.stopped) throw this._error ?? new GraceError('closed', 'not connected to Grace');
      await this.waiters.wait(timeoutMs, command.type);
    }
    if (!this.stream.canSend) throw new GraceError('disconnected', 'not connected to Grace');
    const remaining = Math.max(0, deadline - Date.now());
    return this.replies.request<K>(command, (frame) => this.stream.send(frame), remaining, timeoutMs);
  }

  ping() {
    return this.send({ type: 'ping' });
  }
  ack(seq: number) {
    return this.send({ type: 'ack', seq });
  }
  markRead(which: MarkRead) {
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
