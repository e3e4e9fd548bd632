/** A scriptable WebSocket and fetch for unit tests. */
import type { ApprovalInfo, NotificationFrame, TaskInfo } from '../frames.js';

export class FakeWebSocket {
  static instances: FakeWebSocket[] = [];
  static reset() {
    FakeWebSocket.instances = [];
  }
  static get last(): FakeWebSocket {
    return FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
  }
  readonly url: string;
  sent: Record<string, unknown>[] = [];
  closed: { code?: number; reason?: string } | null = null;
  onopen: ((e: Event) => void) | null = null;
  onmessage: ((e: MessageEvent) => void) | null = null;
  onclose: ((e: CloseEvent) => void) | null = null;
  onerror: ((e: Event) => void) | null = null;
  constructor(url: string) {
    this.url = url;
    FakeWebSocket.instances.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(code?: number, reason?: string) {
    this.closed = { code, reason };
  }
  // -- the server's side --
  open() {
    this.onopen?.(new Event('open'));
  }
  receive(...frames: object[]) {
    this.onmessage?.({ data: frames.map((f) => JSON.stringify(f)).join('\n') } as MessageEvent);
  }
  serverClose(code = 1006, reason = '') {
    this.onclose?.({ code, reason } as CloseEvent);
  }
  lastSent(type?: string): Record<string, unknown> {
    const list = type ? this.sent.filter((f) => f.type === type) : this.sent;
    return list[list.length - 1];
  }
  /** Open and greet like the server: welcome, replay, synced. */
  greet(user = 'alice', seq = 0, replay: NotificationFrame[] = [], epoch = 'e1', unread = 0) {
    this.open();
    this.receive({ type: 'welcome', user_id: user, epoch, seq, unread, protocol: 1 }, ...replay, {
      type: 'synced',
      seq,
    });
  }
}

export function note(seq: number, over: Partial<NotificationFrame> = {}): NotificationFrame {
  return {
    type: 'task_completed',
    id: `n${seq}`,
    seq,
    title: 'Grace Notification',
    message: `message ${seq}`,
    badge: '✅',
    severity: 'success',
    timestamp: new Date(Date.UTC(2026, 0, 15, 10, 35, seq)).toISOString(),
    data: {},
    actions: [],
    read: false,
    ...over,
  };
}

/** A task as `TaskRecord.info()` gives it. */
export function taskInfo(task_id: string, over: Partial<TaskInfo> = {}): TaskInfo {
  return {
    task_id,
    task_type: 'deployment',
    title: 'Deployment',
    state: 'running',
    progress: null,
    note: null,
    params: {},
    created_at: '2026-01-15T10:30:00.000Z',
    started_at: '2026-01-15T10:30:00.000Z',
    finished_at: null,
    duration_seconds: null,
    running_for: null,
    pause_requested: false,
    result: null,
    error: null,
    ...over,
  };
}

/** An approval as `Approval.info()` gives it. */
export function approvalInfo(approval_id: string, over: Partial<ApprovalInfo> = {}): ApprovalInfo {
  return {
    approval_id,
    user_id: 'alice',
    action_type: 'modify_file',
    agent: 'learning_supervisor',
    params: {},
    trace_id: null,
    message: 'Learning supervisor wants to modify config.yaml',
    state: 'pending',
    created_at: '2026-01-15T10:30:00.000Z',
    expires_at: null,
    decided_at: null,
    decided_by: null,
    reason: null,
    ...over,
  };
}

export class MemoryStorage {
  map = new Map<string, string>();
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.map.set(k, v);
  }
  removeItem(k: string) {
    this.map.delete(k);
  }
}

type Route = (init: RequestInit | undefined, url: string) => { status: number; body?: unknown };

/** fetch answering by "METHOD /path" (query ignored); unknown routes answer 404. */
export function fakeFetch(routes: Record<string, Route>) {
  const calls: { method: string; url: string; body: unknown }[] = [];
  const impl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    const method = init?.method ?? 'GET';
    const path = new URL(url, 'http://x').pathname;
    calls.push({ method, url, body: init?.body ? JSON.parse(String(init.body)) : undefined });
    const route = routes[`${method} ${path}`];
    const { status, body } = route ? route(init, url) : { status: 404, body: { detail: 'Not Found' } };
    return new Response(status === 204 ? null : JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json' },
    });
  };
  return { impl: impl as typeof fetch, calls };
}

export const emptyHistory = () => ({
  status: 200,
  body: { items: [], seq: 0, first_seq: 0, unread: 0, epoch: 'e1', has_more: false },
});
