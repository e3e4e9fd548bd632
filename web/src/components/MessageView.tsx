import type { ChatMessage } from '../chatMessages';
import { isTaskListReply } from '../session';
import { localTime } from './format';
import { TaskListCard, type TaskCardState } from './TaskListCard';

/**
 * A message bubble (the person's or Grace's). A reply is drawn from its intent and data, so it
 * looks the same live and after a reload: a task list reply shows the live task card.
 */
export function MessageView({ m, g }: { m: ChatMessage; g: TaskCardState }) {
  if (m.kind === 'tasks') return <TaskListCard g={g} />;
  const tasks = isTaskListReply(m);
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
