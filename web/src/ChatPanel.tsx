/** The conversation: the person's messages, Grace's replies and notification cards, in time order. */
import { useCallback, useEffect, useId, useMemo, useRef, useState, type FormEvent } from 'react';
import type { ChatMessage } from './chatMessages';
import { describeError } from './errors';
import type { NotificationFrame, TaskInfo } from './frames';
import { isActive, type ApprovalOutcome } from './threadState';
import { useNotifications, type UseNotifications, type UseNotificationsOptions } from './useNotifications';

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });

export function localTime(iso: string | number): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : timeFormat.format(d);
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${r}s`;
  return `${r}s`;
}

type Entry =
  | { kind: 'notification'; at: number; order: number; n: NotificationFrame }
  | { kind: 'message'; at: number; order: number; m: ChatMessage };

export interface ChatPanelProps extends UseNotificationsOptions {
  /** Shown when the page could not sign in (e.g. an expired link). */
  loginError?: string | null;
}

export function ChatPanel({ loginError = null, ...options }: ChatPanelProps) {
  const [announcement, setAnnouncement] = useState('');
  const [permission, setPermission] = useState<NotificationPermission | 'unsupported'>(() =>
    typeof Notification === 'undefined' ? 'unsupported' : Notification.permission,
  );
  const onNotification = useCallback((n: NotificationFrame) => {
    setAnnouncement(`${n.title || 'Grace Notification'}: ${n.message}`);
    if (
      typeof document !== 'undefined' &&
      document.hidden &&
      typeof Notification !== 'undefined' &&
      Notification.permission === 'granted'
    ) {
      try {
        new Notification(`${n.badge} ${n.title || 'Grace Notification'}`, { body: n.message, tag: n.id });
      } catch {
        /* some browsers only allow notifications from a service worker */
      }
    }
  }, []);
  const g = useNotifications({ ...options, onNotification });

  const entries = useMemo<Entry[]>(() => {
    const list: Entry[] = [
      ...collapseProgress(g.notifications).map((n, i) => ({
        kind: 'notification' as const,
        at: Date.parse(n.timestamp),
        order: i,
        n,
      })),
      ...g.messages.map((m, i) => ({ kind: 'message' as const, at: m.at, order: i, m })),
    ];
    return list.sort((a, b) => a.at - b.at || (a.kind === b.kind ? a.order - b.order : a.kind === 'notification' ? -1 : 1));
  }, [g.notifications, g.messages]);

  const firstCard = useRef(false);
  useEffect(() => {
    if (!firstCard.current && g.notifications.length > 0) {
      firstCard.current = true;
      performance.mark?.('grace:first-notification');
    }
  }, [g.notifications.length]);

  const threadEnd = useRef<HTMLLIElement>(null);
  useEffect(() => {
    threadEnd.current?.scrollIntoView?.({ block: 'end' });
  }, [entries.length]);

  const lastMessage = g.messages[g.messages.length - 1];
  useEffect(() => {
    if (lastMessage?.kind === 'grace') setAnnouncement(`Grace: ${lastMessage.text}`);
  }, [lastMessage]);

  const askPermission = async () => {
    if (typeof Notification === 'undefined') return;
    setPermission(await Notification.requestPermission());
  };

  const error = loginError ?? (g.error ? connectionError(g.error.code, g.error.message) : null);

  return (
    <main className="chat" aria-label="Grace chat">
      <header className="chat-header">
        <h1>Grace</h1>
        <ConnectionIndicator state={g.state} transport={g.transport} />
        <div className="header-actions">
          <button
            type="button"
            className="unread"
            onClick={() => void g.markRead({ all: true }).catch(() => undefined)}
            disabled={g.unread === 0}
            aria-label={`${g.unread} unread. Mark all read`}
            title="Mark all read"
          >
            <span data-testid="unread-count">{g.unread}</span> unread
          </button>
          <button type="button" onClick={() => void g.showTasks()}>
            Tasks
          </button>
          {permission === 'default' && (
            <button type="button" onClick={() => void askPermission()}>
              Enable desktop alerts
            </button>
          )}
        </div>
      </header>
      {error && (
        <p className="banner error" role="alert">
          {error}
        </p>
      )}
      {g.historyError && (
        <p className="banner warning" role="alert">
          {g.historyError}
        </p>
      )}
      <ol className="thread" aria-label="Conversation" data-testid="thread">
        {entries.length === 0 && <li className="empty">No messages yet. Grace will post here as work happens.</li>}
        {entries.map((e) =>
          e.kind === 'notification' ? (
            <li key={`n${e.n.seq}`}>
              <NotificationCard n={e.n} outcome={approvalOutcome(e.n, g.approvals)} g={g} />
            </li>
          ) : (
            <li key={e.m.id}>
              <MessageView m={e.m} g={g} />
            </li>
          ),
        )}
        <li ref={threadEnd} aria-hidden="true" className="thread-end" />
      </ol>
      <div className="sr-only" aria-live="polite" aria-atomic="true" data-testid="live-region">
        {announcement}
      </div>
      <ChatInput onSend={g.chat} />
    </main>
  );
}

const TASK_END = new Set(['task_completed', 'task_failed', 'task_cancelled', 'task_interrupted']);

/**
 * A running task reports progress about once a second: the thread keeps only its latest progress
 * card, and none once the task has ended.
 */
export function collapseProgress(notifications: NotificationFrame[]): NotificationFrame[] {
  const latest = new Map<string, number>();
  const ended = new Set<string>();
  for (const n of notifications) {
    const task = typeof n.data.task_id === 'string' ? n.data.task_id : null;
    if (!task) continue;
    if (n.type === 'task_progress') latest.set(task, n.seq);
    if (TASK_END.has(n.type)) ended.add(task);
  }
  return notifications.filter((n) => {
    if (n.type !== 'task_progress') return true;
    const task = typeof n.data.task_id === 'string' ? n.data.task_id : null;
    return task === null || (latest.get(task) === n.seq && !ended.has(task));
  });
}

function connectionError(code: string, message: string): string {
  if (code === 'unauthenticated') {
    return `Not signed in (${message}). Open the link that \`grace serve\` printed, or ask for a new token with \`grace token\`.`;
  }
  if (code === 'forbidden') return `Grace refused this page: ${message}.`;
  return message;
}

function approvalOutcome(n: NotificationFrame, approvals: Record<string, ApprovalOutcome>): ApprovalOutcome | null {
  const id = n.data.approval_id;
  return typeof id === 'string' ? (approvals[id] ?? null) : null;
}

const STATE_LABEL = { connected: 'Connected', connecting: 'Connecting…', reconnecting: 'Reconnecting…', offline: 'Offline', idle: 'Offline' };

function ConnectionIndicator({ state, transport }: { state: keyof typeof STATE_LABEL; transport: string }) {
  return (
    <p className={`connection ${state}`} role="status" data-testid="connection" data-state={state}>
      <span className="dot" aria-hidden="true" />
      {STATE_LABEL[state]}
      {state === 'connected' && transport === 'sse' ? ' (SSE)' : ''}
    </p>
  );
}

type G = UseNotifications;

function NotificationCard({ n, outcome, g }: { n: NotificationFrame; outcome: ApprovalOutcome | null; g: G }) {
  const titleId = useId();
  const isApproval = n.type === 'approval_needed' && typeof n.data.approval_id === 'string';
  return (
    <article
      className={`card notification sev-${n.severity}${n.read ? '' : ' unread'}`}
      aria-labelledby={titleId}
      data-testid="notification"
      data-seq={n.seq}
      data-type={n.type}
    >
      <h2 id={titleId} className="card-title">
        <span className="badge" aria-hidden="true">
          {n.badge}
        </span>{' '}
        {n.title || 'Grace Notification'}
      </h2>
      <p className="message">{n.message}</p>
      {typeof n.data.progress === 'number' && <ProgressBar value={n.data.progress} label={n.message} />}
      {isApproval ? (
        <ApprovalActions n={n} outcome={outcome} g={g} />
      ) : (
        n.actions.some((a) => a.id === 'view_details') && <Details data={n.data} />
      )}
      <time className="time" dateTime={n.timestamp}>
        {localTime(n.timestamp)}
      </time>
    </article>
  );
}

function Details({ data }: { data: Record<string, unknown> }) {
  return (
    <details className="details">
      <summary>View Details</summary>
      <dl>
        {Object.entries(data).map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{typeof v === 'string' ? v : JSON.stringify(v)}</dd>
          </div>
        ))}
      </dl>
    </details>
  );
}

const OUTCOME_TEXT = { approved: '✅ Approved', rejected: '🚫 Rejected', expired: '⌛ Expired', pending: 'Pending' };

function ApprovalActions({ n, outcome, g }: { n: NotificationFrame; outcome: ApprovalOutcome | null; g: G }) {
  const approvalId = n.data.approval_id as string;
  const [busy, setBusy] = useState<'approve' | 'reject' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const decide = async (which: 'approve' | 'reject') => {
    setBusy(which);
    setError(null);
    try {
      const reply = await (which === 'approve' ? g.approve(approvalId) : g.reject(approvalId));
      if (reply.approval.state === 'pending') setError('The approval is still pending.');
    } catch (err) {
      setError(`Could not ${which}: ${describeError(err)}`);
    } finally {
      setBusy(null);
    }
  };
  const decided = outcome && outcome.state !== 'pending';
  return (
    <div className="approval">
      <Details data={n.data} />
      {decided ? (
        <p className={`outcome ${outcome.state}`} data-testid="approval-outcome" role="status">
          {OUTCOME_TEXT[outcome.state]}
          {outcome.decided_by ? ` by ${outcome.decided_by}` : ''}
          {outcome.decided_at ? ` at ${localTime(outcome.decided_at)}` : ''}
          {outcome.reason ? `: ${outcome.reason}` : ''}
        </p>
      ) : (
        <div className="actions">
          <button type="button" className="approve" disabled={busy !== null} onClick={() => void decide('approve')}>
            {busy === 'approve' ? 'Approving…' : 'Approve'}
          </button>
          <button type="button" className="reject" disabled={busy !== null} onClick={() => void decide('reject')}>
            {busy === 'reject' ? 'Rejecting…' : 'Reject'}
          </button>
        </div>
      )}
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

function MessageView({ m, g }: { m: ChatMessage; g: G }) {
  if (m.kind === 'tasks') return <TaskListCard g={g} />;
  const tasks = m.data && Array.isArray((m.data as { tasks?: unknown }).tasks);
  return (
    <div className={`bubble ${m.kind}${m.error ? ' error' : ''}`} data-testid={`message-${m.kind}`}>
      <span className="who">{m.kind === 'user' ? 'You' : 'Grace'}</span>
      {/* a task list reply is shown as the live task card rather than as its text */}
      {tasks ? <TaskListCard g={g} /> : <p className="text">{m.text}</p>}
      <time className="time" dateTime={new Date(m.at).toISOString()}>
        {localTime(m.at)}
      </time>
    </div>
  );
}

const TASK_ICON: Record<TaskInfo['state'], string> = {
  queued: '🕒',
  running: '🔄',
  paused: '⏸️',
  cancelling: '⏳',
  succeeded: '✅',
  failed: '❌',
  cancelled: '🚫',
  interrupted: '⚠️',
};

function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [active]);
  return now;
}

function runningTime(t: TaskInfo, now: number): string | null {
  if (t.duration_seconds != null && !isActive(t)) return formatDuration(t.duration_seconds);
  if (t.state === 'running' && t.started_at) return formatDuration((now - Date.parse(t.started_at)) / 1000);
  return t.running_for ?? null;
}

function TaskListCard({ g }: { g: G }) {
  const tasks = g.tasks;
  const active = tasks?.filter(isActive).length ?? 0;
  const now = useNow(active > 0);
  const headingId = useId();
  return (
    <section className="card tasks" aria-labelledby={headingId} data-testid="task-list">
      <h2 id={headingId} className="card-title">
        Background Tasks{tasks ? ` (${active} active)` : ''}
      </h2>
      {g.tasksError && (
        <p className="inline-error" role="alert">
          {g.tasksError}
        </p>
      )}
      {!tasks && !g.tasksError && <p>Loading…</p>}
      {tasks && tasks.length === 0 && <p>No background tasks.</p>}
      {tasks && tasks.length > 0 && (
        <ul className="task-list">
          {tasks.map((t) => (
            <TaskRow key={t.task_id} t={t} g={g} now={now} />
          ))}
        </ul>
      )}
      <button type="button" className="link" onClick={() => void g.listTasks().catch(() => undefined)}>
        Refresh
      </button>
    </section>
  );
}

function TaskRow({ t, g, now }: { t: TaskInfo; g: G; now: number }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (what: string, fn: (id: string) => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn(t.task_id);
    } catch (err) {
      setError(`Could not ${what}: ${describeError(err)}`);
    } finally {
      setBusy(false);
    }
  };
  const time = runningTime(t, now);
  const label = t.state.charAt(0).toUpperCase() + t.state.slice(1);
  return (
    <li className={`task ${t.state}`} data-testid="task" data-task-id={t.task_id} data-state={t.state}>
      <div className="task-head">
        <span aria-hidden="true">{TASK_ICON[t.state] ?? '•'}</span> <strong>{t.task_id}</strong> — {t.task_type}
      </div>
      <div className="task-status">
        Status: {label}
        {time ? ` (${time})` : ''}
        {t.note ? ` · ${t.note}` : ''}
      </div>
      {t.progress != null && <ProgressBar value={t.progress} label={`${t.task_id} progress`} />}
      {t.error && <p className="inline-error">{t.error}</p>}
      <div className="actions">
        {t.state === 'running' && (
          <button
            type="button"
            disabled={busy}
            aria-label={`Pause ${t.task_id}`}
            onClick={() => void run('pause', g.pauseTask)}
          >
            Pause
          </button>
        )}
        {t.state === 'paused' && (
          <button
            type="button"
            disabled={busy}
            aria-label={`Resume ${t.task_id}`}
            onClick={() => void run('resume', g.resumeTask)}
          >
            Resume
          </button>
        )}
        {['queued', 'running', 'paused'].includes(t.state) && (
          <button
            type="button" className="reject"
            disabled={busy}
            aria-label={`Cancel ${t.task_id}`}
            onClick={() => void run('cancel', g.cancelTask)}
          >
            Cancel
          </button>
        )}
      </div>
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}

function ProgressBar({ value, label }: { value: number; label: string }) {
  const pct = Math.round(Math.min(1, Math.max(0, value)) * 100);
  return (
    <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-label={label}>
      <div className="progress-fill" style={{ width: `${pct}%` }} />
      <span className="progress-text">{pct}%</span>
    </div>
  );
}

function ChatInput({ onSend }: { onSend: (text: string) => Promise<void> }) {
  const [text, setText] = useState('');
  const [sending, setSending] = useState(false);
  const inputId = useId();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const value = text.trim();
    if (!value || sending) return;
    setSending(true);
    setText('');
    try {
      await onSend(value);
    } finally {
      setSending(false);
    }
  };
  return (
    <form className="chat-input" onSubmit={(e) => void submit(e)}>
      <label htmlFor={inputId} className="sr-only">
        Message Grace
      </label>
      <input
        id={inputId}
        value={text}
        maxLength={4000}
        placeholder="Ask Grace, e.g. “show background tasks”"
        onChange={(e) => setText(e.target.value)}
        autoComplete="off"
      />
      <button type="submit" disabled={sending || !text.trim()}>
        {sending ? 'Sending…' : 'Send'}
      </button>
    </form>
  );
}
