import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from 'grace-chat-client';
import { answersByMessage, clarifyKey, clarifyQuestion, clarifySuggestions, type ClarifyAnswer } from 'grace-chat-client';
import type { ClientOptions } from 'grace-chat-client';
import { FakeWebSocket, MemoryStorage, emptyHistory, fakeFetch, taskInfo } from '../../packages/client/src/test/fakes';
import { ChatPanel } from './ChatPanel';

const CLARIFY = {
  text: "I'm not sure. Did you mean one of these?\n• Cancel task task_backup_789 (Backup)\n• Status of task_backup_789",
  intent: 'clarify',
  data: {
    suggestions: [
      { label: 'Cancel task task_backup_789 (Backup)', command: { type: 'cancel_task', task_id: 'task_backup_789' } },
      { label: 'Status of task_backup_789', command: { type: 'chat', text: 'is task_backup_789 done?' } },
    ],
    pending: 'cancel_task',
  },
};

let http: ReturnType<typeof fakeFetch>;
let storage: MemoryStorage;
let n = 0;
const chatHistory: object[] = [];

function options(): ClientOptions {
  return {
    baseUrl: `http://clarify${++n}.test`,
    WebSocketImpl: FakeWebSocket as unknown as typeof WebSocket,
    EventSourceImpl: null,
    fetchImpl: (...args) => http.impl(...args),
    storage,
  };
}

beforeEach(() => {
  FakeWebSocket.reset();
  storage = new MemoryStorage();
  chatHistory.length = 0;
  http = fakeFetch({
    'GET /api/notifications': emptyHistory,
    'GET /api/unified/chat/history': () => ({ status: 200, body: { items: chatHistory } }),
    'POST /api/unified/chat': (init) => {
      const { text } = JSON.parse(String(init?.body)) as { text: string };
      if (text.startsWith('cancle')) return { status: 200, body: CLARIFY };
      return { status: 200, body: { text: 'task_backup_789 is running (40%).', intent: 'task_status', data: {} } };
    },
  });
});
afterEach(() => cleanup());

async function ask(sentence: string) {
  const input = screen.getByLabelText('Message Grace');
  fireEvent.change(input, { target: { value: sentence } });
  fireEvent.submit(input.closest('form')!);
  return screen.findByTestId('clarify');
}

describe('the clarify card', () => {
  it('offers one button per suggestion and sends its command as is over the socket', async () => {
    render(<ChatPanel {...options()} />);
    act(() => FakeWebSocket.last.greet('alice'));
    const card = await ask('cancle task_backup_789');
    expect(within(card).getByRole('heading').textContent).toBe('Did you mean …?');
    const buttons = within(card).getAllByRole('button');
    expect(buttons.map((b) => b.textContent)).toEqual(['Cancel task task_backup_789 (Backup)', 'Status of task_backup_789']);
    expect(card.closest('[data-testid="message-grace"]')?.querySelector('.text')).toBeNull();

    fireEvent.click(buttons[0]);
    await waitFor(() => expect(FakeWebSocket.last.lastSent('cancel_task')).toBeDefined());
    const sent = FakeWebSocket.last.lastSent('cancel_task');
    expect(sent).toEqual({ type: 'cancel_task', task_id: 'task_backup_789', id: sent.id });
    // pending: no second command meanwhile
    expect(within(card).getAllByRole('button').every((b) => (b as HTMLButtonElement).disabled)).toBe(true);
    const task = taskInfo('task_backup_789', { task_type: 'backup', title: 'Backup', state: 'cancelled' });
    act(() => FakeWebSocket.last.receive({ type: 'task', task, ref: sent.id }));

    const result = await within(card).findByTestId('clarify-result');
    expect(result.textContent).toContain('Cancel task task_backup_789 (Backup): Task task_backup_789 (Backup) is cancelled.');
    const after = within(card).getAllByRole('button') as HTMLButtonElement[];
    expect(after.every((b) => b.disabled)).toBe(true);
    expect(after[0].getAttribute('aria-pressed')).toBe('true');
    expect(after[1].getAttribute('aria-pressed')).toBe('false');
    expect(card.getAttribute('data-used')).toBe('true');
    // the button used is disabled: focus moves to what came of it
    await waitFor(() => expect(document.activeElement).toBe(result));
  });

  it('looks the same after a reload, from the reply the server kept', async () => {
    const first = render(<ChatPanel {...options()} />);
    act(() => FakeWebSocket.last.greet('alice'));
    const card = await ask('cancle task_backup_789');
    fireEvent.click(within(card).getAllByRole('button')[0]);
    await waitFor(() => expect(FakeWebSocket.last.lastSent('cancel_task')).toBeDefined());
    const ref = FakeWebSocket.last.lastSent('cancel_task').id;
    act(() => FakeWebSocket.last.receive({ type: 'task', task: taskInfo('task_backup_789', { title: 'Backup', state: 'cancelling' }), ref }));
    await within(card).findByTestId('clarify-result');
    first.unmount();

    // the reload: the server's conversation has the question (its own clock, a little earlier)
    const at = new Date(Date.now() - 2000).toISOString();
    chatHistory.push(
      { kind: 'message', role: 'user', text: 'cancle task_backup_789', intent: null, data: {}, timestamp: at },
      { kind: 'message', role: 'grace', ...CLARIFY, timestamp: at },
    );
    render(<ChatPanel {...options()} />);
    const restored = await screen.findByTestId('clarify');
    const result = await within(restored).findByTestId('clarify-result');
    expect(result.textContent).toContain('Task task_backup_789 (Backup) is cancelling.');
    expect((within(restored).getAllByRole('button') as HTMLButtonElement[]).every((b) => b.disabled)).toBe(true);
  });

  it('sends a chat suggestion as a sentence: it joins the conversation with its answer', async () => {
    render(<ChatPanel {...options()} />);
    act(() => FakeWebSocket.last.greet('alice'));
    const card = await ask('cancle task_backup_789');
    fireEvent.click(within(card).getByRole('button', { name: 'Status of task_backup_789' }));
    await waitFor(() => expect(screen.getAllByTestId('message-grace')).toHaveLength(2));
    expect(http.calls.filter((c) => c.url.endsWith('/api/unified/chat')).at(-1)?.body).toEqual({ text: 'is task_backup_789 done?' });
    expect(screen.getAllByTestId('message-user').at(-1)?.textContent).toContain('is task_backup_789 done?');
    expect(screen.getAllByTestId('message-grace').at(-1)?.textContent).toContain('task_backup_789 is running (40%).');
    expect((within(card).getAllByRole('button') as HTMLButtonElement[]).every((b) => b.disabled)).toBe(true);
  });

  it('says why a suggestion failed and lets the person try again', async () => {
    render(<ChatPanel {...options()} />);
    act(() => FakeWebSocket.last.greet('alice'));
    const card = await ask('cancle task_backup_789');
    fireEvent.click(within(card).getAllByRole('button')[0]);
    await waitFor(() => expect(FakeWebSocket.last.lastSent('cancel_task')).toBeDefined());
    const ref = FakeWebSocket.last.lastSent('cancel_task').id;
    act(() => FakeWebSocket.last.receive({ type: 'error', code: 'conflict', message: 'task_backup_789 already finished', ref }));
    expect((await within(card).findByRole('alert')).textContent).toContain('task_backup_789 already finished');
    expect((within(card).getAllByRole('button') as HTMLButtonElement[]).every((b) => !b.disabled)).toBe(true);
    expect(within(card).queryByTestId('clarify-result')).toBeNull();
  });
});

describe('clarify replies', () => {
  const reply = (id: string, at: number): ChatMessage => ({ kind: 'grace', id, at, ...CLARIFY });

  it('reads the suggestions, leaving out what the client cannot send', () => {
    const m = { kind: 'grace' as const, intent: 'clarify', data: { suggestions: [...CLARIFY.data.suggestions, { label: 'x', command: { type: 'hello' } }, { label: 'y' }] } };
    expect(clarifySuggestions(m)?.map((s) => s.command.type)).toEqual(['cancel_task', 'chat']);
    expect(clarifySuggestions({ ...m, intent: 'list_tasks' })).toBeNull();
    expect(clarifySuggestions({ ...m, kind: 'user' })).toBeNull();
  });

  it('keeps the question, not the list the buttons show', () => {
    expect(clarifyQuestion(CLARIFY.text)).toBe('');
    expect(clarifyQuestion('Which task should I cancel? Did you mean one of these?\n• a')).toBe('Which task should I cancel?');
  });

  it('gives each answer to the latest matching reply before it: the same question twice is answered once each', () => {
    const answer = (at: number): ClarifyAnswer => ({ key: clarifyKey(reply('x', 0)), index: 0, label: 'l', result: 'r', at });
    const messages = [reply('a', 1000), reply('b', 5000)];
    expect([...answersByMessage(messages, [answer(2000)]).keys()]).toEqual(['a']);
    expect([...answersByMessage(messages, [answer(6000)]).keys()]).toEqual(['b']);
    const both = answersByMessage(messages, [answer(2000), answer(6000)]);
    expect([...both.keys()].sort()).toEqual(['a', 'b']);
  });
});
