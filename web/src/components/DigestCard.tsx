import { useId, useState, type ReactNode } from 'react';
import type { AwaySummary, NotificationFrame, SummaryApproval, SummaryTask } from 'grace-chat-client';
import type { ApprovalOutcome } from 'grace-chat-client';
import { ApprovalActions, OUTCOME_TEXT, type Decide } from './ApprovalActions';
import { localTime } from './format';
import { typeTitle } from './titles';
import type { SeenRef } from './useMarkOnSeen';

const SEVERITY_WORDS: [keyof AwaySummary['by_severity'], string, string][] = [
  ['error', 'error', 'errors'],
  ['warning', 'warning', 'warnings'],
  ['success', 'successful', 'successful'],
  ['info', 'update', 'updates'],
];

const TASK_ICON: Record<SummaryTask['state'], string> = {
  failed: '❌',
  interrupted: '⚠️',
  cancelled: '🚫',
  succeeded: '✅',
};

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** An approval the summary lists: Approve / Reject while it waits, else how it ended. */
function DigestApproval({ a, outcome, g }: { a: SummaryApproval; outcome: ApprovalOutcome | null; g: Decide }) {
  const state = outcome?.state ?? a.state;
  return (
    <li className={`digest-approval ${state}`} data-testid="digest-approval" data-approval-id={a.approval_id} data-state={state}>
      <span className="digest-line">{a.message}</span>
      {state === 'pending' ? (
        <>
          {a.expires_at && <span className="digest-note"> · expires at {localTime(a.expires_at)}</span>}
          <ApprovalActions approvalId={a.approval_id} outcome={outcome} g={g} label={a.message} />
        </>
      ) : (
        <p className={`outcome ${state}`}>
          {a.state === 'expired' ? '⌛ Expired while you were away' : OUTCOME_TEXT[state]}
          {state !== 'expired' && outcome?.decided_by ? ` by ${outcome.decided_by}` : ''}
        </p>
      )}
    </li>
  );
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  const id = useId();
  return (
    <section className="digest-section" aria-labelledby={id}>
      <h3 id={id}>{title}</h3>
      {children}
    </section>
  );
}

/**
 * "While you were away": one card for a long absence: how many notifications, by severity and
 * type, the approvals still waiting (with Approve / Reject) or expired meanwhile, the tasks that
 * ended; the cards it covers folded under it, shown on request.
 */
export function DigestCard({
  summary,
  covered,
  approvals,
  g,
  renderCard,
  onDismiss,
  seenRef,
}: {
  summary: AwaySummary;
  covered: NotificationFrame[];
  approvals: Record<string, ApprovalOutcome>;
  g: Decide;
  renderCard: (n: NotificationFrame) => ReactNode;
  onDismiss: () => void;
  seenRef?: SeenRef;
}) {
  const [open, setOpen] = useState(false);
  const titleId = useId();
  const listId = useId();
  const severities = SEVERITY_WORDS.filter(([k]) => summary.by_severity[k] > 0);
  const types = Object.entries(summary.by_type);
  const waiting = summary.approvals.filter((a) => (approvals[a.approval_id]?.state ?? a.state) === 'pending');
  return (
    <article ref={seenRef} className="card digest" aria-labelledby={titleId} data-testid="digest">
      <h2 id={titleId} className="card-title">
        <span className="badge" aria-hidden="true">
          🕒
        </span>{' '}
        While you were away
      </h2>
      <p className="message" data-testid="digest-text">
        {summary.text}
      </p>
      {severities.length > 0 && (
        <ul className="chips" aria-label="By severity">
          {severities.map(([k, one, many]) => (
            <li key={k} className={`chip sev-${k}`}>
              {plural(summary.by_severity[k], one, many)}
            </li>
          ))}
        </ul>
      )}
      {types.length > 0 && (
        <ul className="chips" aria-label="By type">
          {types.slice(0, 6).map(([type, count]) => (
            <li key={type} className="chip">
              {typeTitle(type)} × {count}
            </li>
          ))}
          {types.length > 6 && <li className="chip">{plural(types.length - 6, 'other type', 'other types')}</li>}
        </ul>
      )}
      {summary.approvals.length > 0 && (
        <Section title={waiting.length ? `${plural(waiting.length, 'approval waits', 'approvals wait')} for you` : 'Approvals'}>
          <ul className="digest-list">
            {summary.approvals.map((a) => (
              <DigestApproval key={a.approval_id} a={a} outcome={approvals[a.approval_id] ?? null} g={g} />
            ))}
          </ul>
        </Section>
      )}
      {summary.tasks.length > 0 && (
        <Section title="Tasks that ended">
          <ul className="digest-list">
            {summary.tasks.map((t) => (
              <li key={t.task_id} className={`digest-task ${t.state}`} data-testid="digest-task" data-state={t.state}>
                <span aria-hidden="true">{TASK_ICON[t.state]}</span> {t.message}
              </li>
            ))}
          </ul>
        </Section>
      )}
      <div className="actions">
        <button type="button" aria-expanded={open} aria-controls={listId} onClick={() => setOpen(!open)}>
          {open ? 'Hide' : 'Show'} {plural(covered.length, 'notification', 'notifications')}
        </button>
        <button type="button" className="link" onClick={onDismiss}>
          Dismiss summary
        </button>
      </div>
      <ol id={listId} className="digest-items" hidden={!open} aria-label="Notifications while you were away">
        {open && covered.map((n) => <li key={`n${n.seq}`}>{renderCard(n)}</li>)}
      </ol>
      {summary.first_at && summary.last_at && (
        <p className="time">
          <time dateTime={summary.first_at}>{localTime(summary.first_at)}</time> –{' '}
          <time dateTime={summary.last_at}>{localTime(summary.last_at)}</time>
        </p>
      )}
    </article>
  );
}
