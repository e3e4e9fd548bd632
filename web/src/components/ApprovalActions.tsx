import { useState } from 'react';
import { describeError } from 'grace-chat-client';
import type { ApprovalOutcome } from 'grace-chat-client';
import type { NotificationCommands } from 'grace-chat-client/react';
import { Details } from './Details';
import { localTime } from './format';

export type Decide = Pick<NotificationCommands, 'approve' | 'reject'>;

export const OUTCOME_TEXT: Record<ApprovalOutcome['state'], string> = {
  approved: '✅ Approved',
  rejected: '🚫 Rejected',
  expired: '⌛ Expired',
  pending: 'Pending',
};

/**
 * Approve and Reject for an approval (on its card, or in the away summary); once decided (here or
 * elsewhere), the outcome. `data` (the request's details) folds under View Details.
 */
export function ApprovalActions({
  approvalId,
  data,
  outcome,
  g,
  label,
}: {
  approvalId: string;
  data?: Record<string, unknown>;
  outcome: ApprovalOutcome | null;
  g: Decide;
  /** Names the approval on its buttons when several are side by side. */
  label?: string;
}) {
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
      {data && <Details data={data} />}
      {decided ? (
        <p className={`outcome ${outcome.state}`} data-testid="approval-outcome" role="status">
          {OUTCOME_TEXT[outcome.state]}
          {outcome.decided_by ? ` by ${outcome.decided_by}` : ''}
          {outcome.decided_at ? ` at ${localTime(outcome.decided_at)}` : ''}
          {outcome.reason ? `: ${outcome.reason}` : ''}
        </p>
      ) : (
        <div className="actions">
          <button
            type="button"
            className="approve"
            disabled={busy !== null}
            aria-label={label ? `Approve: ${label}` : undefined}
            onClick={() => void decide('approve')}
          >
            {busy === 'approve' ? 'Approving…' : 'Approve'}
          </button>
          <button
            type="button"
            className="reject"
            disabled={busy !== null}
            aria-label={label ? `Reject: ${label}` : undefined}
            onClick={() => void decide('reject')}
          >
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
