import { useEffect, useId, useState } from 'react';
import { isActive } from 'grace-chat-client';
import type { UseNotifications } from 'grace-chat-client/react';
import { TaskRow, type TaskControls } from './TaskRow';

export type TaskCardState = Pick<UseNotifications, 'tasks' | 'tasksError' | 'listTasks'> & TaskControls;

/** The current time, every second while `active`. */
function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [active]);
  return now;
}

/** "Background Tasks (N active)": the live task list, with a refresh. */
export function TaskListCard({ g }: { g: TaskCardState }) {
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
