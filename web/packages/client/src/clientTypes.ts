/** What a `GraceClient` is configured with, and the events it emits. */
import type { GraceError } from './errors.js';
import type { ControlFrame, NotificationFrame, SyncedFrame, WelcomeFrame } from './frames.js';
import type { ResetReason } from './resume.js';
import type { KeyValueStorage } from './storage.js';

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'offline';

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
  /** Refusals for too many connections (close 4429) in a row before giving up. */
  tooManyConnectionsTries?: number;
  /**
   * A fresh token when the one in use expired (close 4401 "token expired"): with `token` it is
   * sent in the next hello, without it is posted to `/api/session` for a new cookie. Without a
   * source, or when it has none (null), the person is asked to sign in again.
   */
  tokenSource?: (() => Promise<string | null> | string | null) | null;
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
  reset: (reason: ResetReason) => void;
}
