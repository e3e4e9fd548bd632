import { useRef, useState } from 'react';
import { describeError } from 'grace-chat-client';
import type { TaskInfo } from 'grace-chat-client';
import { isActive } from 'grace-chat-client';
import type { NotificationCommands } from 'grace-chat-client/react';
import { formatDuration } from './format';
import { ProgressBar } from './ProgressBar';

export type TaskControls = Pick<NotificationCommands, 'pauseTask' | 'resumeTask' | 'cancelTask'>;

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

/** How long the task ran (ended), has been running (counting), or what the server last said. */
function runningTime(t: TaskInfo, now: number): string | null {
  if (t.duration_seconds != null && !isActive(t)) return formatDuration(t.duration_seconds);
  if (t.state === 'running' && t.started_at) return formatDuration((now - Date.parse(t.started_at)) / 1000);
  return t.running_for ?? null;
}

/** One task: state, running time, progress, and the controls its state allows. */
export function TaskRow({ t, g, now }: { t: TaskInfo; g: TaskControls; now: number }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const statusRef = useRef<HTMLDivElement>(null);
  const run = async (what: string, fn: (id: string) => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn(t.task_id);
      // the button pressed may be gone with the new state: keep keyboard focus on this task
      setTimeout(() => {
        const active = document.activeElement;
        if (!active || active === document.body) statusRef.current?.focus();
      }, 0);
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
      <div className="task-status" tabIndex={-1} ref={statusRef}>
        Status: {label}
        {time ? ` (${time})` : ''}
        {t.note ? ` · ${t.note}` : ''}
      </div>
      {t.progress != null && <ProgressBar value={t.progress} label={`${t.task_id} progress`} />}
      {t.error && <p className="inline-error">{t.error}</p>}
      <div className="actions">
        {t.state === 'running' && (
          <button type="button" disabled={busy} aria-label={`Pause ${t.task_id}`} onClick={() => void run('pause', g.pauseTask)}>
            Pause
          </button>
        )}
        {t.state === 'paused' && (
          <button type="button" disabled={busy} aria-label={`Resume ${t.task_id}`} onClick={() => void run('resume', g.resumeTask)}>
            Resume
          </button>
        )}
        {['queued', 'running', 'paused'].includes(t.state) && (
          <button
            type="button"
            className="reject"
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
