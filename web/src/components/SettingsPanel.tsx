import { useId, useState } from 'react';
import type { TypeInfo } from 'grace-chat-client';
import { describeError } from 'grace-chat-client';
import type { NotificationMode } from 'grace-chat-client';
import { typeTitle } from './titles';

const MODE_LABEL: Record<NotificationMode, string> = {
  alert: 'Show with desktop alert',
  silent: 'Show silently',
  mute: 'Mute',
};

/**
 * Per notification type: show it with a desktop alert, silently, or not at all. The choice is
 * kept on the server, so every chat of the person follows it.
 */
export function SettingsPanel({
  types,
  modes,
  defaultMode,
  setMode,
  onClose,
}: {
  types: TypeInfo[];
  modes: Record<string, NotificationMode>;
  defaultMode: NotificationMode;
  setMode: (type: string, mode: NotificationMode) => Promise<void>;
  onClose: () => void;
}) {
  const headingId = useId();
  const [error, setError] = useState<string | null>(null);
  const change = async (type: string, mode: NotificationMode) => {
    setError(null);
    try {
      await setMode(type, mode);
    } catch (err) {
      setError(`Could not change ${typeTitle(type)}: ${describeError(err)}`);
    }
  };
  return (
    <section className="settings" aria-labelledby={headingId} data-testid="settings">
      <div className="settings-head">
        <h2 id={headingId}>Notification settings</h2>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      <p className="hint">How each kind of notification reaches you, in every open chat.</p>
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
      <ul className="settings-list">
        {types.map((t) => {
          const id = `${headingId}-${t.name}`;
          return (
            <li key={t.name} data-type={t.name}>
              <label htmlFor={id}>
                <span aria-hidden="true">{t.badge}</span> {typeTitle(t.name)}
              </label>
              <select id={id} value={modes[t.name] ?? defaultMode} onChange={(e) => void change(t.name, e.target.value as NotificationMode)}>
                {(Object.keys(MODE_LABEL) as NotificationMode[]).map((m) => (
                  <option key={m} value={m}>
                    {MODE_LABEL[m]}
                  </option>
                ))}
              </select>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
