/**
 * One shared connection per server (and token) with the state every component reads: the
 * notification thread, unread count, connection state, approval outcomes, tasks and the chat
 * messages. Components `retain` it; the last `release` closes the connection.
 */
import { fetchApproval, fetchChatHistory, fetchHistory, GraceError, normalizeTasks, sendChat } from './api';
import { GraceClient, LAST_USER_KEY, type ClientOptions, type ConnectionState, type Transport } from './client';
import type { ApprovalInfo, ApprovalState, ControlFrame, NotificationFrame, TaskInfo } from './frames';

export interface ChatMessage {
  kind: 'user' | 'grace' | 'tasks';
  id: string;
  text: string;
  at: number;
  error?: boolean;
  data?: Record<string, unknown>;
}

export interface ApprovalOutcome {
  state: ApprovalState;
  decided_by?: string | null;
  decided_at?: string | null;
  reason?: string | null;
}

export interface Snapshot {
  notifications: NotificationFrame[];
  state: ConnectionState;
  transport: Transport;
  error: GraceError | null;
  unread: number;
  userId: string | null;
  approvals: Record<string, ApprovalOutcome>;
  tasks: TaskInfo[] | null;
  tasksError: string | null;
  messages: ChatMessage[];
  historyError: string | null;
  hasMore: boolean;
}

const DECISIONS: Record<string, ApprovalState> = {
  action_approved: 'approved',
  action_rejected: 'rejected',
  approval_expired: 'expired',
};
const ACTIVE = new Set(['queued', 'running', 'paused', 'cancelling']);
const CHAT_PREFIX = 'grace.chat.v1:';
const MAX_MESSAGES = 200;
const MAX_NOTIFICATIONS = 1000;

export type LiveListener = (frame: NotificationFrame) => void;

export class GraceSession {
  readonly client: GraceClient;
  private snap: Snapshot;
  private listeners = new Set<() => void>();
  private live = new Set<LiveListener>();
  private refs = 0;
  private stopTimer: ReturnType<typeof setTimeout> | null = null;
  private running = false;
  private storage: Storage | null;
  private messageCounter = 0;

  constructor(options: ClientOptions = {}) {
    this.client = new GraceClient(options);
    this.storage = options.storage === undefined ? safeStorage() : (options.storage as Storage | null);
    const user = this.client.userId;
    this.snap = {
      notifications: [],
      state: 'idle',
      transport: this.client.transport,
      error: null,
      unread: 0,
      userId: user,
      approvals: {},
      tasks: null,
      tasksError: null,
      messages: this.loadMessages(user),
      historyError: null,
      hasMore: false,
    };
    this.client.on('state', (state, error) =>
      this.update({ state, error, transport: this.client.transport }),
    );
    this.client.on('welcome', (w) => {
      const userChanged = this.snap.userId !== null && w.user_id !== this.snap.userId;
      this.update({
        unread: w.unread,
        userId: w.user_id,
        ...(this.snap.userId === null ? { messages: this.loadMessages(w.user_id) } : {}),
        ...(userChanged ? { messages: this.loadMessages(w.user_id), notifications: [], approvals: {} } : {}),
      });
      if (userChanged) void this.loadHistory();
    });
    this.client.on('reset', () => void this.loadHistory());
    this.client.on('notification', (frame, meta) => {
      this.addNotifications([frame]);
      // welcome's unread already counts what is replayed after it
      if (!frame.read && !meta.replayed) this.update({ unread: this.snap.unread + 1 });
      if (!meta.replayed) for (const fn of this.live) fn(frame);
    });
    this.client.on('frame', (frame) => this.onControl(frame));
  }

  // -- sharing -----------------------------------------------------------------------------------

  retain(): void {
    this.refs += 1;
    if (this.stopTimer) {
      clearTimeout(this.stopTimer);
      this.stopTimer = null;
    }
    if (!this.running) {
      this.running = true;
      void this.loadHistory();
      this.client.connect();
    }
  }

  /** The last release closes the connection (deferred a tick, so a remount keeps it). */
  release(onClosed?: () => void): void {
    this.refs -= 1;
    if (this.refs > 0) return;
    this.stopTimer = setTimeout(() => {
      this.stopTimer = null;
      if (this.refs > 0) return;
      this.running = false;
      this.client.close();
      onClosed?.();
    }, 0);
  }

  get retained(): number {
    return this.refs;
  }

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  getSnapshot = (): Snapshot => this.snap;

  /** Called for each notification pushed live (not replayed, not from history). */
  onLive(fn: LiveListener): () => void {
    this.live.add(fn);
    return () => this.live.delete(fn);
  }

  private update(patch: Partial<Snapshot>): void {
    this.snap = { ...this.snap, ...patch };
    for (const fn of this.listeners) fn();
  }

  // -- state -------------------------------------------------------------------------------------

  private addNotifications(frames: NotificationFrame[]): void {
    const bySeq = new Map(this.snap.notifications.map((n) => [n.seq, n]));
    for (const f of frames) bySeq.set(f.seq, f);
    const notifications = [...bySeq.values()].sort((a, b) => a.seq - b.seq).slice(-MAX_NOTIFICATIONS);
    const approvals = { ...this.snap.approvals };
    let tasks = this.snap.tasks;
    for (const f of frames) {
      const id = typeof f.data.approval_id === 'string' ? f.data.approval_id : null;
      const decided = DECISIONS[f.type];
      if (id && decided) {
        const state = (typeof f.data.state === 'string' ? f.data.state : decided) as ApprovalState;
        approvals[id] = {
          state,
          decided_by: str(f.data.decided_by),
          decided_at: str(f.data.decided_at) ?? f.timestamp,
          reason: str(f.data.reason),
        };
      }
      if (f.type.startsWith('task_') && typeof f.data.task_id === 'string') {
        tasks = applyTaskNotification(tasks, f);
      }
    }
    this.update({ notifications, approvals, tasks });
  }

  private onControl(frame: ControlFrame): void {
    switch (frame.type) {
      case 'read': {
        const ids = new Set(frame.ids ?? []);
        const upTo = frame.up_to_seq ?? -1;
        const notifications = this.snap.notifications.map((n) =>
          !n.read && (frame.all || ids.has(n.id) || n.seq <= upTo) ? { ...n, read: true } : n,
        );
        this.update({ notifications, unread: frame.unread });
        break;
      }
      case 'task_list':
        this.update({ tasks: frame.tasks, tasksError: null });
        break;
      case 'task':
        this.update({ tasks: upsertTask(this.snap.tasks, frame.task) });
        break;
      case 'approval':
        this.setApproval(frame.approval);
        break;
      default:
        break;
    }
  }

  private setApproval(a: ApprovalInfo): void {
    this.update({
      approvals: {
        ...this.snap.approvals,
        [a.approval_id]: { state: a.state, decided_by: a.decided_by, decided_at: a.decided_at, reason: a.reason },
      },
    });
  }

  /** Load the latest notifications by REST (page load, new epoch, history gap). */
  async loadHistory(): Promise<void> {
    try {
      const page = await fetchHistory(this.client.restOptions, { limit: 100 });
      this.addNotifications(page.items);
      const known = new Set(page.items.map((n) => n.seq));
      // after a reset, drop what the server no longer has
      const notifications = this.snap.notifications.filter(
        (n) => known.has(n.seq) || n.seq > page.seq || n.seq < (page.items[0]?.seq ?? 0),
      );
      this.update({ notifications, unread: page.unread, historyError: null, hasMore: page.has_more });
      void this.refreshApprovals(page.items);
      void this.loadChatHistory();
    } catch (err) {
      const e = err as GraceError;
      if (e.code === 'unauthenticated') return; // the connection reports it
      this.update({ historyError: `History could not be loaded: ${e.message}` });
    }
  }

  /**
   * The conversation as the server keeps it, when it keeps one (the unified chat); otherwise the
   * messages stay those kept in this browser.
   */
  private async loadChatHistory(): Promise<void> {
    let items;
    try {
      items = await fetchChatHistory(this.client.restOptions);
    } catch {
      return;
    }
    const fromServer: ChatMessage[] = items.map((item, i) => ({
      kind: item.role === 'user' ? 'user' : 'grace',
      id: `s${item.timestamp}-${i}`,
      text: item.text ?? '',
      at: Date.parse(item.timestamp),
      data: item.data,
    }));
    // the server's conversation wins; keep what only this page has (task cards, failed sends)
    const local = this.snap.messages.filter((m) => m.kind === 'tasks' || m.error || !fromServer.length);
    const messages = [...fromServer, ...local].sort((a, b) => a.at - b.at).slice(-MAX_MESSAGES);
    this.update({ messages });
  }

  /** Ask the server for the current state of approval cards still pending in the thread. */
  private async refreshApprovals(items: NotificationFrame[]): Promise<void> {
    const pending = items
      .filter((n) => n.type === 'approval_needed' && typeof n.data.approval_id === 'string')
      .map((n) => n.data.approval_id as string)
      .filter((id) => !this.snap.approvals[id])
      .slice(-20);
    await Promise.all(
      pending.map(async (id) => {
        try {
          const a = await fetchApproval(this.client.restOptions, id);
          if (a && typeof a.state === 'string' && a.state !== 'pending') this.setApproval({ ...a, approval_id: id });
        } catch {
          /* not available (yet): the card stays as the notifications say */
        }
      }),
    );
  }

  // -- commands ----------------------------------------------------------------------------------

  async listTasks(): Promise<TaskInfo[]> {
    try {
      const reply = await this.client.listTasks();
      return reply.tasks;
    } catch (err) {
      this.update({ tasksError: describe(err) });
      throw err;
    }
  }

  async approve(approvalId: string, reason?: string): Promise<ApprovalInfo> {
    const reply = await this.client.approve(approvalId, reason);
    return reply.approval;
  }

  async reject(approvalId: string, reason?: string): Promise<ApprovalInfo> {
    const reply = await this.client.reject(approvalId, reason);
    return reply.approval;
  }

  async markRead(which: { ids?: string[]; up_to_seq?: number; all?: boolean } = { all: true }) {
    return this.client.markRead(which);
  }

  /** Send a sentence to the unified chat; the person's message and the reply join the thread. */
  async chat(text: string): Promise<void> {
    const trimmed = text.trim();
    if (!trimmed) return;
    this.addMessage({ kind: 'user', text: trimmed });
    try {
      const answer = await sendChat(this.client.restOptions, trimmed);
      this.addMessage({ kind: 'grace', text: answer.text, data: answer.data });
      const tasks = answer.data && (answer.data as { tasks?: unknown }).tasks;
      if (Array.isArray(tasks)) this.update({ tasks: normalizeTasks(tasks).tasks });
    } catch (err) {
      const e = err as GraceError;
      const text =
        e.code === 'unavailable'
          ? 'The chat is not available on this server yet. Use the buttons on the cards meanwhile.'
          : `Grace could not answer: ${e.message}`;
      this.addMessage({ kind: 'grace', text, error: true });
    }
  }

  /** Show the live task list card in the thread and refresh it. */
  async showTasks(): Promise<void> {
    this.addMessage({ kind: 'tasks', text: 'Background tasks' });
    try {
      await this.listTasks();
    } catch {
      /* tasksError is shown on the card */
    }
  }

  addMessage(m: Omit<ChatMessage, 'id' | 'at'>): void {
    const message: ChatMessage = { ...m, id: `m${Date.now()}-${++this.messageCounter}`, at: Date.now() };
    const messages = [...this.snap.messages, message].slice(-MAX_MESSAGES);
    this.update({ messages });
    const user = this.snap.userId;
    if (user) {
      try {
        this.storage?.setItem(CHAT_PREFIX + user, JSON.stringify(messages));
      } catch {
        /* storage full: the thread still shows them */
      }
    }
  }

  private loadMessages(user: string | null): ChatMessage[] {
    if (!user) return [];
    try {
      const raw = this.storage?.getItem(CHAT_PREFIX + user);
      const value: unknown = raw ? JSON.parse(raw) : [];
      return Array.isArray(value) ? (value as ChatMessage[]) : [];
    } catch {
      return [];
    }
  }
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

export function describe(err: unknown): string {
  if (err instanceof GraceError) {
    switch (err.code) {
      case 'unavailable':
        return err.message || 'Not available on this server yet.';
      case 'timeout':
        return 'Grace did not answer in time. Try again.';
      case 'disconnected':
      case 'closed':
        return 'The connection dropped. Try again once it is back.';
      default:
        return err.message;
    }
  }
  return String(err);
}

export function isActive(task: TaskInfo): boolean {
  return ACTIVE.has(task.state);
}

function upsertTask(tasks: TaskInfo[] | null, task: TaskInfo): TaskInfo[] {
  const list = tasks ? [...tasks] : [];
  const i = list.findIndex((t) => t.task_id === task.task_id);
  if (i >= 0) list[i] = { ...list[i], ...task };
  else list.unshift(task);
  return list;
}

function applyTaskNotification(tasks: TaskInfo[] | null, f: NotificationFrame): TaskInfo[] | null {
  const id = f.data.task_id as string;
  const existing = tasks?.find((t) => t.task_id === id);
  const patch: Partial<TaskInfo> & { task_id: string } = { task_id: id };
  if (typeof f.data.state === 'string') patch.state = f.data.state as TaskInfo['state'];
  if (typeof f.data.progress === 'number') patch.progress = f.data.progress;
  if (typeof f.data.note === 'string') patch.note = f.data.note;
  if (!existing) {
    if (!tasks) return tasks; // the list has not been loaded: nothing to patch
    return upsertTask(tasks, {
      task_type: typeof f.data.task_type === 'string' ? f.data.task_type : '',
      title: '',
      state: patch.state ?? 'running',
      progress: null,
      note: null,
      params: {},
      created_at: f.timestamp,
      started_at: f.timestamp,
      finished_at: null,
      duration_seconds: null,
      running_for: null,
      pause_requested: false,
      result: null,
      error: null,
      ...patch,
    });
  }
  return upsertTask(tasks, { ...existing, ...patch });
}

function safeStorage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

// -- the registry of shared sessions ---------------------------------------------------------------

const sessions = new Map<string, GraceSession>();

export function sessionKey(options: ClientOptions): string {
  return `${options.baseUrl ?? ''}|${options.token ?? 'cookie'}`;
}

/** The shared session for these options (created on first use). */
export function getSession(options: ClientOptions = {}): GraceSession {
  const key = sessionKey(options);
  let session = sessions.get(key);
  if (!session) {
    session = new GraceSession(options);
    sessions.set(key, session);
  }
  return session;
}

export function releaseSession(options: ClientOptions, session: GraceSession): void {
  const key = sessionKey(options);
  session.release(() => {
    if (sessions.get(key) === session && session.retained <= 0) sessions.delete(key);
  });
}

export { LAST_USER_KEY };
