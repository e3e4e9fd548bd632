import type { ChatMessage } from 'grace-chat-client';
import { clarifySuggestions, type ClarifyAnswer } from 'grace-chat-client';
import { isTaskListReply } from 'grace-chat-client';
import { ClarifyCard, type ClarifyControls } from './ClarifyCard';
import { localTime } from './format';
import { TaskListCard, type TaskCardState } from './TaskListCard';

/**
 * A message bubble (the person's or Grace's). A reply is drawn from its intent and data, so it
 * looks the same live and after a reload: a task list reply shows the live task card, a clarify
 * reply the "Did you mean …?" card (with what came of the suggestion used, `answer`).
 */
export function MessageView({
  m,
  g,
  answer,
}: {
  m: ChatMessage;
  g: TaskCardState & ClarifyControls;
  answer?: ClarifyAnswer;
}) {
  if (m.kind === 'tasks') return <TaskListCard g={g} />;
  const tasks = isTaskListReply(m);
  const suggestions = clarifySuggestions(m);
  return (
    <div className={`bubble ${m.kind}${m.error ? ' error' : ''}`} data-testid={`message-${m.kind}`}>
      <span className="who">{m.kind === 'user' ? 'You' : 'Grace'}</span>
      {/* a task list reply is shown as the live task card rather than as its text */}
      {tasks ? (
        <TaskListCard g={g} />
      ) : suggestions ? (
        <ClarifyCard m={m} suggestions={suggestions} answer={answer} g={g} />
      ) : (
        <p className="text">{m.text}</p>
      )}
      <time className="time" dateTime={new Date(m.at).toISOString()}>
        {localTime(m.at)}
      </time>
    </div>
  );
}
