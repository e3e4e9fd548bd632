import { describe, expect, it } from 'vitest';
import { note } from '../../packages/client/src/test/fakes';
import { cardTitle, typeTitle } from './titles';

describe('card titles', () => {
  it('come from the type and the source', () => {
    expect(cardTitle(note(1, { type: 'task_failed', data: { task_id: 't', task_type: 'deployment' } }))).toBe(
      'Task failed · deployment',
    );
    expect(cardTitle(note(2, { type: 'approval_needed', data: { approval_id: 'a', source: 'action_gateway' } }))).toBe(
      'Approval needed',
    );
    expect(cardTitle(note(3, { type: 'error_detected', data: { source: 'guardian' } }))).toBe('Guardian alert');
    expect(cardTitle(note(4, { type: 'error_detected', data: { source: 'guardian', check: 'disk_usage' } }))).toBe(
      'Guardian alert · disk usage',
    );
    expect(cardTitle(note(5, { type: 'error_detected', data: { source: 'payments_api' } }))).toBe(
      'Problem detected · payments api',
    );
    expect(cardTitle(note(6, { type: 'healing_triggered', data: { playbook: 'rollback_deployment' } }))).toBe(
      'Self-healing started · rollback deployment',
    );
    expect(cardTitle(note(7, { type: 'action_rejected', data: { action_type: 'modify_file' } }))).toBe(
      'Action rejected · modify file',
    );
    expect(cardTitle(note(8, { type: 'mission_completed', data: { mission_id: 'release' } }))).toBe(
      'Mission completed · release',
    );
  });

  it('keep a title the publisher chose, and read an unknown type as words', () => {
    expect(cardTitle(note(1, { title: 'Weekly report', type: 'report_ready' }))).toBe('Weekly report');
    expect(cardTitle(note(2, { type: 'report_ready', data: { source: 'api' } }))).toBe('Report ready');
    expect(typeTitle('nightly.backup-done')).toBe('Nightly backup done');
  });
});
