import { useId, useState } from 'react';
import { describeError } from 'grace-chat-client';
import type { NotificationFrame } from 'grace-chat-client';
import type { ApprovalOutcome } from 'grace-chat-client';
import { ApprovalActions, type Decide } from './ApprovalActions';
import { Details } from './Details';
import { localTime } from './format';
import { ProgressBar } from './ProgressBar';
import { cardTitle } from './titles';
import type { SeenRef } from './useMarkOnSeen';

/** What a card can do besides deciding: archive itself (or come back from the archive). */
export interface CardActions extends Decide {
  archive: (ids: string[], archived?: boolean) => Promise<void>;
}

/**
 * A notification as the seed draws it: badge, title (from its type and source), message, local
 * time, severity colour; approval cards decide in place; every card can be archived.
 */
export function NotificationCard({
  n,
  outcome,
  g,
  archived = false,
  seenRef,
}: {
  n: NotificationFrame;
  outcome: ApprovalOutcome | null;
  g: CardActions;
  archived?: boolean;
  seenRef?: SeenRef;
}) {
  const titleId = useId();
  const [error, setError] = useState<string | null>(null);
  const isApproval = n.type === 'approval_needed' && typeof n.data.approval_id === 'string';
  const title = cardTitle(n);
  const toggleArchive = async () => {
    setError(null);
    try {
      await g.archive([n.id], !archived);
    } catch (err) {
      setError(`Could not ${archived ? 'unarchive' : 'archive'}: ${describeError(err)}`);
    }
  };
  return (
    <article
      ref={seenRef}
      className={`card notification sev-${n.severity}${n.read ? '' : ' unread'}${archived ? ' archived' : ''}`}
      aria-labelledby={titleId}
      data-testid="notification"
      data-seq={n.seq}
      data-type={n.type}
      data-read={n.read}
    >
      <div className="card-head">
        <h2 id={titleId} className="card-title">
          <span className="badge" aria-hidden="true">
            {n.badge}
          </span>{' '}
          {title}
          {!n.read && <span className="sr-only"> (unread)</span>}
        </h2>
        <button
          type="button"
          className="link archive"
          aria-label={`${archived ? 'Unarchive' : 'Archive'}: ${title}, ${localTime(n.timestamp)}`}
          onClick={() => void toggleArchive()}
        >
          {archived ? 'Unarchive' : 'Archive'}
        </button>
      </div>
      <p className="message">{n.message}</p>
      {typeof n.data.progress === 'number' && <ProgressBar value={n.data.progress} label={n.message} />}
      {isApproval ? (
        <ApprovalActions approvalId={n.data.approval_id as string} data={n.data} outcome={outcome} g={g} />
      ) : (
        n.actions.some((a) => a.id === 'view_details') && <Details data={n.data} />
      )}
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
      <time className="time" dateTime={n.timestamp}>
        {localTime(n.timestamp)}
      </time>
    </article>
  );
}
