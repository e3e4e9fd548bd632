/**
 * One shared connection per server (and token) with the state every component reads: the
 * notification thread, unread count, connection state, approval outcomes, tasks, the chat
 * messages, the person's notification preferences and the away summary. Components `retain` it;
 * the last `release` closes the connection (see `sessionRegistry.ts` for how components find the
 * shared one).
 */
import {
  endSession,
  fetchApproval,
  fetchChatHistory,
  fetchHistory,
  fetchPreferences,
  postArchive,
  putMode,
  type Preferences,
  type TypeInfo,
} from './api.js';
import { mergeServerHistory, MessageStore, MAX_MESSAGES, type ChatMessage } from './chatMessages.js';
import { ClarifyStore, clarifyKey, clarifySuggestions, describeReply, type ClarifyAnswer } from './clarify.js';
import { GraceClient, type ClientOptions, type ConnectionState, type Transport } from './client.js';
import { DigestStore } from './digest.js';
import { describeError, GraceError } from './errors.js';
import type {
  ApprovalFrame,
  ApprovalInfo,
  AwaySummary,
  ControlFrame,
  NotificationFrame,
  NotificationMode,
  PreferencesFrame,
  ReadFrame,
  TaskInfo,
  TaskListFrame,
} from './frames.js';
import { LAST_USER_KEY } from './resume.js';
import type { CommandMap } from './protocol.js';
import { commandOverRest } from './restRoutes.js';
import { safeLocalStorage, type KeyValueStorage } from './storage.js';
import {
  applyRead,
  applyTaskNotification,
  decisionOf,
  mergeNotifications,
  outcomeOf,
  upsertTask,
  type ApprovalOutcome,
} from './threadState.js';

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
  /** Older notifications than those loaded are on the server (`loadOlder`). */
  hasMore: boolean;
  loadingOlder: boolean;
  /** The mode the person chose per type; a type not listed is `defaultMode`. */
  modes: Record<string, NotificationMode>;
  defaultMode: NotificationMode;
  /** Ids of the cards the person archived. */
  archived: ReadonlySet<string>;
  /** The notification types the server knows (for the settings). */
  types: TypeInfo[];
  /** "While you were away": the last long absence's summary, until dismissed. */
  digest: AwaySummary | null;
  /** While a (re)connection replays: notifications above this seq wait for its end (and its
   * summary) before they are shown, so a long absence never shows as a flood first. */
  holdAbove: number | null;
  signedOut: boolean;
  /** The suggestions of clarify replies the person used, and what came of them. */
  clarified: ClarifyAnswer[];
}

/** Called for each notification pushed live, with the mode the person chose for its type. */
export type LiveListener = (frame: NotificationFrame, mode: NotificationMode) => void;
type MarkRead = Pick<CommandMap['mark_read'], 'ids' | 'up_to_seq' | 'all'>;

export class GraceSession {
  readonly client: GraceClient;
  private snap: Snapshot;
  private listeners = new Set<() => void>();
  private live = new Set<LiveListener>();
  private refs = 0;
  private stopTimer: ReturnType<typeof setTimeout> | null = null;
  private running = false;
  private readonly storage: KeyValueStorage | null;
  private readonly messages: MessageStore;
  private readonly digests: DigestStore;
  private readonly clarifyStore: ClarifyStore;
  private epoch: string | null = null;
  /** The replay under way began with a reset (new epoch, other user): its summary is stale. */
  private summaryStale = false;
  /** Ids a `mark_read` was sent for and not answered yet. */
  private reading = new Set<string>();

  constructor(options: ClientOptions = {}) {
    this.client = new GraceClient(options);
    this.storage = options.storage === undefined ? safeLocalStorage() : options.storage;
    this.messages = new MessageStore(this.storage);
    this.digests = new DigestStore(this.storage);
    this.clarifyStore = new ClarifyStore(this.storage);
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
      loadingOlder: false,
      modes: {},
      defaultMode: 'alert',
      archived: new Set(),
      types: [],
      digest: null,
      holdAbove: null,
      signedOut: false,
      clarified: this.clarifyStore.load(user),
    };
    this.client.on('state', (state, error) => {
      this.update({ state, error, transport: this.client.transport, holdAbove: this.holdFor(state) });
    });
    this.client.on('welcome', (w) => {
      const userChanged = this.snap.userId !== null && w.user_id !== this.snap.userId;
      const epochChanged = this.epoch !== null && this.epoch !== w.epoch;
      this.epoch = w.epoch;
      this.update({
        unread: w.unread,
        userId: w.user_id,
        ...(this.snap.userId === null ? { messages: this.messages.load(w.user_id), clarified: this.clarifyStore.load(w.user_id) } : {}),
        ...(userChanged
          ? { messages: this.messages.load(w.user_id), clarified: this.clarifyStore.load(w.user_id), notifications: [], approvals: {} }
          : {}),
        digest: userChanged || epochChanged || !this.snap.digest ? this.digests.load(w.user_id, w.epoch) : this.snap.digest,
      });
      if (userChanged) void this.loadHistory();
      void this.loadPreferences(); // they may have changed while this chat was away
    });
    this.client.on('reset', () => {
      this.summaryStale = true;
      void this.loadHistory();
    });
    this.client.on('synced', (f) => {
      const summary = this.summaryStale ? null : (f.summary ?? null);
      this.summaryStale = false;
      if (summary && summary.count > 0 && this.snap.userId && this.epoch) {
        this.digests.save(this.snap.userId, this.epoch, summary);
        this.update({ digest: summary, holdAbove: null });
      } else {
        this.update({ holdAbove: null });
      }
    });
    this.client.on('notification', (frame, meta) => {
      this.addNotifications([frame]);
      // welcome's unread already counts what is replayed after it
      if (!frame.read && !meta.replayed) this.update({ unread: this.snap.unread + 1 });
      if (!meta.replayed) for (const fn of this.live) fn(frame, this.modeOf(frame.type));
    });
    this.client.on('frame', (frame) => this.onControl(frame));
  }

  /** What to hold back while the connection in `state` replays (see `Snapshot.holdAbove`). */
  private holdFor(state: ConnectionState): number | null {
    if (state === 'connecting' || state === 'reconnecting') return this.snap.holdAbove ?? this.client.seq;
    if (state === 'connected') return this.snap.holdAbove; // until synced
    return null; // offline: nothing is coming to release it
  }

  /** The mode the person chose for notifications of `type`. */
  modeOf(type: string): NotificationMode {
    return this.snap.modes[type] ?? this.snap.defaultMode;
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
      void this.loadPreferences();
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

  private addNotifications(frames: NotificationFrame[], keepOlder = false): void {
    const approvals = { ...this.snap.approvals };
    let tasks = this.snap.tasks;
    for (const f of frames) {
      const decision = decisionOf(f);
      if (decision) approvals[decision[0]] = decision[1];
      tasks = applyTaskNotification(tasks, f);
    }
    const notifications = mergeNotifications(this.snap.notifications, frames, keepOlder);
    this.update({ notifications, approvals, tasks });
    this.readMuted();
  }

  private onControl(frame: ControlFrame): void {
    switch (frame.type) {
      case 'read':
        for (const id of frame.ids) this.reading.delete(id);
        this.update({ notifications: applyRead(this.snap.notifications, frame), unread: frame.unread });
        break;
      case 'preferences':
        this.applyPreferences(frame);
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

  // -- preferences -------------------------------------------------------------------------------

  /** The person's modes and archived cards, as the server keeps them. */
  async loadPreferences(): Promise<void> {
    try {
      this.setPreferences(await fetchPreferences(this.client.restOptions));
    } catch {
      /* not on this server, or not signed in (the connection says so): every type alerts */
    }
  }

  private setPreferences(p: Preferences): void {
    this.update({ modes: p.modes, defaultMode: p.default, archived: new Set(p.archived), types: p.types });
    this.readMuted();
  }

  private applyPreferences(frame: PreferencesFrame): void {
    const archived = new Set(this.snap.archived);
    for (const id of frame.archived) archived.add(id);
    for (const id of frame.unarchived) archived.delete(id);
    this.update({ modes: frame.modes, defaultMode: frame.default, archived });
    this.readMuted();
  }

  /** Show notifications of `type` with a desktop alert, silently, or not at all (every chat of
   * the person follows, through the server's `preferences` frame). */
  async setMode(type: string, mode: NotificationMode): Promise<void> {
    this.setPreferences(await putMode(this.client.restOptions, type, mode));
  }

  /** Archive cards (or show them again): at once here, then kept by the server. */
  async archive(ids: string[], archived = true): Promise<void> {
    const before = this.snap.archived;
    const next = new Set(before);
    for (const id of ids) {
      if (archived) next.add(id);
      else next.delete(id);
    }
    this.update({ archived: next });
    try {
      await postArchive(this.client.restOptions, ids, archived);
    } catch (err) {
      this.update({ archived: before });
      throw err;
    }
  }

  /** A muted notification is never shown, so it is never seen: it counts as read. */
  private readMuted(): void {
    const { modes, defaultMode } = this.snap;
    if (defaultMode !== 'mute' && !Object.values(modes).includes('mute')) return;
    const ids = this.snap.notifications.filter((n) => !n.read && this.modeOf(n.type) === 'mute').map((n) => n.id);
    this.markSeen(ids);
  }

  /** The person has seen these cards: mark those still unread read (once). */
  markSeen(ids: string[]): void {
    const unread = new Set(this.snap.notifications.filter((n) => !n.read).map((n) => n.id));
    const fresh = [...new Set(ids)].filter((id) => unread.has(id) && !this.reading.has(id)).slice(0, 1000);
    if (!fresh.length) return;
    for (const id of fresh) this.reading.add(id);
    this.client.markRead({ ids: fresh }).then(
      (frame) => {
        // over WebSocket the reply went through onControl already; over REST it did not
        this.update({ notifications: applyRead(this.snap.notifications, frame), unread: frame.unread });
        for (const id of fresh) this.reading.delete(id);
      },
      () => {
        for (const id of fresh) this.reading.delete(id); // try again when next seen
      },
    );
  }

  // -- the away summary ----------------------------------------------------------------------------

  /** Put the summary away: its cards show one by one again. */
  dismissDigest(): void {
    this.digests.clear(this.snap.userId);
    this.update({ digest: null });
  }

  // -- signing out ---------------------------------------------------------------------------------

  /** End the session: the cookie goes, and so does what this browser kept for the person. */
  async signOut(): Promise<void> {
    await endSession(this.client.restOptions);
    const user = this.snap.userId;
    this.client.close();
    this.client.forget();
    this.digests.clear(user);
    this.messages.save(user, []);
    this.clarifyStore.save(user, []);
    try {
      if (this.storage?.getItem(LAST_USER_KEY) === user) this.storage?.removeItem(LAST_USER_KEY);
    } catch {
      /* nothing kept */
    }
    this.update({ signedOut: true, notifications: [], messages: [], digest: null, unread: 0, tasks: null, clarified: [] });
  }

  // -- history -------------------------------------------------------------------------------------

  /** The page of notifications before the oldest loaded. */
  async loadOlder(limit = 50): Promise<void> {
    const oldest = this.snap.notifications[0]?.seq;
    if (this.snap.loadingOlder || oldest === undefined) return;
    this.update({ loadingOlder: true });
    try {
      const page = await fetchHistory(this.client.restOptions, { limit, before: oldest });
      this.addNotifications(page.items, true);
      this.update({ hasMore: page.has_more, loadingOlder: false, historyError: null });
      void this.refreshApprovals(page.items);
    } catch (err) {
      this.update({ loadingOlder: false, historyError: `Older notifications could not be loaded: ${describeError(err)}` });
    }
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
      // the oldest page the thread reaches decides whether there is more
      const reachesOlder = notifications.length > 0 && notifications[0].seq < (page.items[0]?.seq ?? 0);
      const hasMore = reachesOlder ? this.snap.hasMore : page.has_more;
      this.update({ notifications, unread: page.unread, historyError: null, hasMore });
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
      this.seedTasks();
    } catch {
      /* no server conversation: the messages stay those kept in this browser */
    }
  }

  /**
   * A task list reply restored from the history draws the live task card as it did when it came:
   * from the tasks it carried, then from the server's current list.
   */
  private seedTasks(): void {
    if (this.snap.tasks !== null) return;
    const reply = [...this.snap.messages].reverse().find((m) => isTaskListReply(m));
    if (!reply) return;
    const tasks = (reply.data as { tasks?: unknown } | undefined)?.tasks;
    if (Array.isArray(tasks)) this.update({ tasks: tasks as TaskInfo[] });
    this.listTasks().catch(() => undefined);
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
      this.addMessage({ kind: 'grace', text: answer.text, intent: answer.intent, data: answer.data });
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

  /**
   * Use suggestion `index` of the clarify reply `m`: its command goes through the client as is (a
   * `chat` one as a sentence, which joins the thread with its answer), and the outcome is kept
   * with the reply. Rejects with the command's `GraceError` (nothing is kept then).
   */
  async runSuggestion(m: ChatMessage, index: number): Promise<ClarifyAnswer> {
    const suggestion = clarifySuggestions(m)?.[index];
    if (!suggestion) throw new GraceError('bad_request', 'no such suggestion');
    const { id: _ignored, ...command } = suggestion.command as typeof suggestion.command & { id?: unknown };
    let result: string;
    if (command.type === 'chat') {
      result = `You asked: “${command.text}”`;
      this.remember(m, index, suggestion.label, result);
      await this.chat(command.text);
      return this.snap.clarified[this.snap.clarified.length - 1];
    }
    const reply = await this.client.send(command);
    // over WebSocket the reply went through onControl already; over REST it did not
    if (reply.type === 'task') this.update({ tasks: upsertTask(this.snap.tasks, reply.task) });
    if (reply.type === 'approval') this.setApproval(reply.approval);
    result = describeReply(reply);
    return this.remember(m, index, suggestion.label, result);
  }

  private remember(m: ChatMessage, index: number, label: string, result: string): ClarifyAnswer {
    const answer: ClarifyAnswer = { key: clarifyKey(m), index, label, result, at: Math.max(Date.now(), m.at) };
    const clarified = this.clarifyStore.save(this.snap.userId, [...this.snap.clarified, answer]);
    this.update({ clarified });
    return answer;
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

/**
 * A reply drawn as the live task card: a task list (intent `list_tasks`) that carries its tasks;
 * one that failed, or was kept before replies kept their data, stays text.
 */
export function isTaskListReply(m: Pick<ChatMessage, 'kind' | 'intent' | 'data'>): boolean {
  if (m.kind !== 'grace') return false;
  const hasTasks = Array.isArray((m.data as { tasks?: unknown } | undefined)?.tasks);
  return hasTasks && (m.intent === undefined || m.intent === 'list_tasks');
}
