import { useEffect, useId, useState, type FormEvent } from 'react';

const NARROW = '(max-width: 480px)';

/** Whether the screen is phone-narrow (follows rotation and resizing). */
function useNarrow(): boolean {
  const [query] = useState(() => (typeof window !== 'undefined' && window.matchMedia ? window.matchMedia(NARROW) : null));
  const [narrow, setNarrow] = useState(() => query?.matches ?? false);
  useEffect(() => {
    if (!query) return;
    const change = () => setNarrow(query.matches);
    query.addEventListener('change', change);
    return () => query.removeEventListener('change', change);
  }, [query]);
  return narrow;
}

/** The message box: one sentence at a time, cleared when sent. Its hint fits a phone's width. */
export function ChatInput({ onSend }: { onSend: (text: string) => Promise<void> }) {
  const [text, setText] = useState('');
  const narrow = useNarrow();
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
        placeholder={narrow ? 'e.g. “show background tasks”' : 'Ask Grace, e.g. “show background tasks”'}
        onChange={(e) => setText(e.target.value)}
        autoComplete="off"
      />
      <button type="submit" disabled={sending || !text.trim()}>
        {sending ? 'Sending…' : 'Send'}
      </button>
    </form>
  );
}
