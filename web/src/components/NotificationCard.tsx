import { useId } from 'react';
import type { NotificationFrame } from '../frames';
import type { ApprovalOutcome } from '../threadState';
import { ApprovalActions, type Decide } from './ApprovalActions';
import { Details } from './Details';
import { localTime } from './format';
import { ProgressBar } from './ProgressBar';

/** A notification as the seed draws it: badge, title, message, local time, severity colour. */
export function NotificationCard({ n, outcome, g }: { n: NotificationFrame; outcome: ApprovalOutcome | null; g: Decide }) {
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
