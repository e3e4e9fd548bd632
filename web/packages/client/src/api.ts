/**
 * REST calls to Grace: the request itself, history, session login and sign-out, approvals, the
 * chat's history, notification preferences.
 */
import { GraceError, isErrorCode } from './errors.js';
import type { ApprovalInfo, NotificationFrame, NotificationMode, Severity } from './frames.js';

export interface RestOptions {
  baseUrl: string;
  token?: string | null;
  fetchImpl?: typeof fetch;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** One JSON request; a refusal rejects with a `GraceError` carrying the server's code. */
export async function rest<T>(opts: RestOptions, method: HttpMethod, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  const doFetch = opts.fetchImpl ?? globalThis.fetch.bind(globalThis);
  let response: Response;
  try {
    response = await doFetch(opts.baseUrl + path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new GraceError('network', 'Grace cannot be reached; check that the server is running.');
  }
  if (response.status === 204) return undefined as T;
  let payload: unknown = undefined;
  try {
    payload = await response.json();
  } catch {
    payload = undefined;
  }
  if (!response.ok) {
    const err = (payload as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    if (err && typeof err.code === 'string') {
      const code = isErrorCode(err.code) ? err.code : 'internal';
      throw new GraceError(code, String(err.message ?? err.code), response.status);
    }
    if (response.status === 404) {
      throw new GraceError('unavailable', 'This feature is not available on this server yet.', 404);
    }
    throw new GraceError('internal', `The server answered HTTP ${response.status}.`, response.status);
  }
  return payload as T;
}

export interface HistoryPage {
  items: NotificationFrame[];
  seq: number;
  first_seq: number;
  unread: number;
  epoch: string;
  has_more: boolean;
}

/** The latest `limit` notifications (or those below `before`), oldest first. */
export async function fetchHistory(
  opts: RestOptions,
  { limit = 100, before }: { limit?: number; before?: number } = {},
): Promise<HistoryPage> {
  const q = new URLSearchParams({ limit: String(limit) });
  if (before !== undefined) q.set('before', String(before));
  const page = await rest<HistoryPage>(opts, 'GET', `/api/notifications?${q.toString()}`);
  return { ...page, items: [...page.items].sort((a, b) => a.seq - b.seq) };
}

/** Exchange a login token for the HttpOnly session cookie. */
export async function startSession(opts: RestOptions, token: string): Promise<void> {
  await rest<void>({ ...opts, token: null }, 'POST', '/api/session', { token });
}

/** Drop the session cookie. */
export async function endSession(opts: RestOptions): Promise<void> {
  await rest<void>(opts, 'DELETE', '/api/session');
}

export async function fetchApproval(opts: RestOptions, approvalId: string): Promise<ApprovalInfo> {
  return rest<ApprovalInfo>(opts, 'GET', `/api/approvals/${encodeURIComponent(approvalId)}`);
}

/** The subject of a JWT, read without verifying it: only to key this browser's local state. */
export function tokenSubject(token: string): string | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const claims = JSON.parse(json) as { sub?: unknown };
    return typeof claims.sub === 'string' ? claims.sub : null;
  } catch {
    return null;
  }
}

export interface ThreadItem {
  kind: 'message' | 'notification';
  role?: 'user' | 'grace';
  text?: string;
  /** What the reply answered (`list_tasks`, `status`, …) and the data it was drawn from. */
  intent?: string | null;
  data?: Record<string, unknown>;
  timestamp: string;
}

/** The person's messages and Grace's replies kept by the server (the unified chat's history). */
export async function fetchChatHistory(opts: RestOptions, limit = 100): Promise<ThreadItem[]> {
  const body = await rest<{ items: ThreadItem[] }>(opts, 'GET', `/api/unified/chat/history?limit=${limit}`);
  return body.items.filter((i) => i.kind === 'message');
}

export interface TypeInfo {
  name: string;
  badge: string;
  severity: Severity;
}

/** `GET /api/preferences`: the modes the person set, what the others are, archived cards. */
export interface Preferences {
  modes: Record<string, NotificationMode>;
  default: NotificationMode;
  /** Ids of archived notifications, newest first. */
  archived: string[];
  /** The notification types the server knows. */
  types: TypeInfo[];
}

export function fetchPreferences(opts: RestOptions): Promise<Preferences> {
  return rest<Preferences>(opts, 'GET', '/api/preferences');
}

export function putMode(opts: RestOptions, type: string, mode: NotificationMode): Promise<Preferences> {
  return rest<Preferences>(opts, 'PUT', `/api/preferences/types/${encodeURIComponent(type)}`, { mode });
}

/** Archive (or show again) the person's own notifications `ids`. */
export function postArchive(opts: RestOptions, ids: string[], archived: boolean): Promise<{ changed: string[] }> {
  return rest(opts, 'POST', `/api/preferences/${archived ? 'archive' : 'unarchive'}`, { ids });
}
