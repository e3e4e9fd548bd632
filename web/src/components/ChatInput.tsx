import { useId, useState, type FormEvent } from 'react';

/** The message box: one sentence at a time, cleared when sent. */
export function ChatInput({ onSend }: { onSend: (text: string) => Promise<void> }) {
  const [text, setText] = useState('');
  const [sending, setSending] = useState(false);
  const inputId = useId();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const value = text.trim();
    if (!value || sending) return;
    setSending(true);
    setText('');
    try {
      await onSend(value);
    } finally {
      setSending(false);
    }
  };
  return (
    <form className="chat-input" onSubmit={(e) => void submit(e)}>
      <label htmlFor={inputId} className="sr-only">
        Message Grace
      </label>
      <input
        id={inputId}
        value={text}
        maxLength={4000}
        placeholder="Ask Grace, e.g. “show background tasks”"
        onChange={(e) => setText(e.target.value)}
        autoComplete="off"
      />
      <button type="submit" disabled={sending || !text.trim()}>
        {sending ? 'Sending…' : 'Send'}
      </button>
    </form>
  );
}
