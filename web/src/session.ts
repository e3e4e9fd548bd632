/**
 * One shared connection per server (and token) with the state every component reads: the
 * notification thread, unread count, connection state, approval outcomes, tasks and the chat
 * messages. Components `retain` it; the last `release` closes the connection (see
 * `sessionRegistry.ts` for how components find the shared one).
 */
import { fetchApproval, fetchChatHistory, fetchHistory } from './api';
import { mergeServerHistory, MessageStore, MAX_MESSAGES, type ChatMessage } from './chatMessages';
import { GraceClient, type ClientOptions, type ConnectionState, type Transport } from './client';
import { describeError, GraceError } from './errors';
import type {
  ApprovalFrame,
  ApprovalInfo,
  ControlFrame,
  NotificationFrame,
  ReadFrame,
  TaskInfo,
  TaskListFrame,
} from './frames';
import type { CommandMap } from './protocol';
import { commandOverRest } from './restRoutes';
import { safeLocalStorage } from './storage';
import {
  applyRead,
  applyTaskNotification,
  decisionOf,
  mergeNotifications,
  outcomeOf,
  upsertTask,
  type ApprovalOutcome,
} from './threadState';

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

export type LiveListener = (frame: NotificationFrame) => void;
type MarkRead = Pick<CommandMap['mark_read'], 'ids' | 'up_to_seq' | 'all'>;

export class GraceSession {
  readonly client: GraceClient;
  private snap: Snapshot;
  private listeners = new Set<() => void>();
  private live = new Set<LiveListener>();
  private refs = 0;
  private stopTimer: ReturnType<typeof setTimeout> | null = null;
  private running = false;
  private readonly messages: MessageStore;

  constructor(options: ClientOptions = {}) {
    this.client = new GraceClient(options);
    this.messages = new MessageStore(options.storage === undefined ? safeLocalStorage() : options.storage);
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
      messages: this.messages.load(user),
      historyError: null,
      hasMore: false,
    };
    this.client.on('state', (state, error) => this.update({ state, error, transport: this.client.transport }));
    this.client.on('welcome', (w) => {
      const userChanged = this.snap.userId !== null && w.user_id !== this.snap.userId;
      this.update({
        unread: w.unread,
        userId: w.user_id,
        ...(this.snap.userId === null ? { messages: this.messages.load(w.user_id) } : {}),
        ...(userChanged ? { messages: this.messages.load(w.user_id), notifications: [], approvals: {} } : {}),
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
    const approvals = { ...this.snap.approvals };
    let tasks = this.snap.tasks;
    for (const f of frames) {
      const decision = decisionOf(f);
      if (decision) approvals[decision[0]] = decision[1];
      tasks = applyTaskNotification(tasks, f);
    }
    this.update({ notifications: mergeNotifications(this.snap.notifications, frames), approvals, tasks });
  }

  private onControl(frame: ControlFrame): void {
    switch (frame.type) {
      case 'read':
        this.update({ notifications: applyRead(this.snap.notifications, frame), unread: frame.unread });
        break;
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
    this.update({ approvals: { ...this.snap.approvals, [a.approval_id]: outcomeOf(a) } });
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

  /** The conversation as the server keeps it, when it keeps one (the unified chat). */
  private async loadChatHistory(): Promise<void> {
    try {
      const items = await fetchChatHistory(this.client.restOptions);
      this.update({ messages: mergeServerHistory(this.snap.messages, items) });
    } catch {
      /* no server conversation: the messages stay those kept in this browser */
    }
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

  /** The task list (which also refreshes the task card); a failure is shown on the card too. */
  async listTasks(): Promise<TaskListFrame> {
    try {
      return await this.client.listTasks();
    } catch (err) {
      this.update({ tasksError: describeError(err) });
      throw err;
    }
  }

  approve(approvalId: string, reason?: string): Promise<ApprovalFrame> {
    return this.client.approve(approvalId, reason);
  }

  reject(approvalId: string, reason?: string): Promise<ApprovalFrame> {
    return this.client.reject(approvalId, reason);
  }

  markRead(which: MarkRead = { all: true }): Promise<ReadFrame> {
    return this.client.markRead(which);
  }

  /** Send a sentence to the unified chat; the person's message and the reply join the thread. */
  async chat(text: string): Promise<void> {
    const trimmed = text.trim();
    if (!trimmed) return;
    this.addMessage({ kind: 'user', text: trimmed });
    try {
      const answer = await commandOverRest<'chat'>(this.client.restOptions, { type: 'chat', text: trimmed });
      this.addMessage({ kind: 'grace', text: answer.text, data: answer.data });
      const tasks = (answer.data as { tasks?: unknown }).tasks;
      if (Array.isArray(tasks)) this.update({ tasks: tasks as TaskInfo[] });
    } catch (err) {
      const text =
        err instanceof GraceError && err.code === 'unavailable'
          ? 'The chat is not available on this server yet. Use the buttons on the cards meanwhile.'
          : `Grace could not answer: ${err instanceof Error ? err.message : String(err)}`;
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
    const messages = [...this.snap.messages, this.messages.create(m)].slice(-MAX_MESSAGES);
    this.update({ messages });
    this.messages.save(this.snap.userId, messages);
  }
}
