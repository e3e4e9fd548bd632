import { describe, expect, it } from 'vitest';
import type { AwaySummary } from 'grace-chat-client';
import { note } from '../../packages/client/src/test/fakes';
import { entryKey, threadEntries, type ThreadView } from './thread';

const view = (over: Partial<ThreadView> = {}): ThreadView => ({
  modes: {},
  defaultMode: 'alert',
  archived: new Set(),
  showArchived: false,
  digest: null,
  holdAbove: null,
  ...over,
});

function summary(first: number, last: number): AwaySummary {
  return {
    count: last - first + 1,
    since: first - 1,
    first_seq: first,
    last_seq: last,
    first_at: note(first).timestamp,
    last_at: note(last).timestamp,
    by_type: { task_completed: last - first + 1 },
    by_severity: { info: 0, success: last - first + 1, warning: 0, error: 0 },
    waiting: 0,
    approvals: [],
    tasks: [],
    text: 'while you were away',
  };
}

const notes = [1, 2, 3, 4, 5].map((seq) => note(seq, seq === 2 ? { type: 'test' } : {}));

describe('the thread', () => {
  it('leaves out muted types and archived cards (unless asked), and holds a replay back', () => {
    const keys = (v: ThreadView) => threadEntries(notes, [], v).map(entryKey);
    expect(keys(view())).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    expect(keys(view({ modes: { test: 'mute' } }))).toEqual(['n1', 'n3', 'n4', 'n5']);
    expect(keys(view({ modes: { test: 'silent' } }))).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    expect(keys(view({ defaultMode: 'mute', modes: { test: 'alert' } }))).toEqual(['n2']);
    expect(keys(view({ archived: new Set(['n3']) }))).toEqual(['n1', 'n2', 'n4', 'n5']);
    expect(keys(view({ archived: new Set(['n3']), showArchived: true }))).toHaveLength(5);
    expect(keys(view({ holdAbove: 2 }))).toEqual(['n1', 'n2']);
  });

  it('folds the cards an away summary covers under it, in its place', () => {
    const entries = threadEntries(notes, [], view({ digest: summary(2, 4) }));
    expect(entries.map(entryKey)).toEqual(['n1', 'd2-4', 'n5']);
    const digest = entries[1];
    expect(digest.kind === 'digest' && digest.covered.map((n) => n.seq)).toEqual([2, 3, 4]);
    // a muted card is not under it either
    const muted = threadEntries(notes, [], view({ digest: summary(2, 4), modes: { test: 'mute' } }))[1];
    expect(muted.kind === 'digest' && muted.covered.map((n) => n.seq)).toEqual([3, 4]);
  });
});
