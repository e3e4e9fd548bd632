import { useEffect, useId, useRef, useState } from 'react';
import type { ChatMessage } from 'grace-chat-client';
import { clarifyQuestion, type ClarifyAnswer, type Suggestion } from 'grace-chat-client';
import { describeError } from 'grace-chat-client';
import type { NotificationCommands } from 'grace-chat-client/react';

export type ClarifyControls = Pick<NotificationCommands, 'runSuggestion'>;

/**
 * "Did you mean …?": Grace was not sure what a sentence meant and offers what she could do, one
 * button each. A button sends its suggestion's command as is; once one was used the buttons are
 * disabled and the card says what came of it (also after a reload: `answer`).
 */
export function ClarifyCard({
  m,
  suggestions,
  answer,
  g,
}: {
  m: ChatMessage;
  suggestions: Suggestion[];
  answer: ClarifyAnswer | undefined;
  g: ClarifyControls;
}) {
  const [busy, setBusy] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const headingId = useId();
  const resultRef = useRef<HTMLParagraphElement>(null);
  // the button used is disabled now: keep keyboard focus on the card, at what came of it
  const [moveFocus, setMoveFocus] = useState(false);
  useEffect(() => {
    if (moveFocus && answer) {
      resultRef.current?.focus();
      setMoveFocus(false);
    }
  }, [moveFocus, answer]);
  const question = clarifyQuestion(m.text);
  const run = async (index: number) => {
    setBusy(index);
    setError(null);
    try {
      await g.runSuggestion(m, index);
      setMoveFocus(true);
    } catch (err) {
      setError(`Could not ${suggestions[index].label.toLowerCase()}: ${describeError(err)}`);
    } finally {
      setBusy(null);
    }
  };
  const used = answer !== undefined;
  return (
    <section className="card clarify" aria-labelledby={headingId} data-testid="clarify" data-used={used}>
      <h2 id={headingId} className="card-title">
        Did you mean …?
      </h2>
      {question && <p className="clarify-question">{question}</p>}
      <ul className="suggestions" aria-label="Suggestions">
        {suggestions.map((s, i) => (
          <li key={i}>
            <button
              type="button"
              className={answer?.index === i ? 'chosen' : undefined}
              disabled={used || busy !== null}
              aria-pressed={used ? answer.index === i : undefined}
              onClick={() => void run(i)}
            >
              {busy === i ? `${s.label}…` : s.label}
            </button>
          </li>
        ))}
      </ul>
      {answer && (
        <p className="clarify-result" data-testid="clarify-result" role="status" tabIndex={-1} ref={resultRef}>
          <span aria-hidden="true">✓ </span>
          {answer.label}: {answer.result}
        </p>
      )}
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
