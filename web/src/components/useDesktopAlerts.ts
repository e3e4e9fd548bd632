import { useCallback, useState } from 'react';
import type { NotificationFrame, NotificationMode } from 'grace-chat-client';
import { cardTitle } from './titles';

type Permission = NotificationPermission | 'unsupported';

/**
 * Desktop alerts for live notifications while the tab is hidden, once the person allowed them
 * (asking takes a click). Every live notification of a type shown with alerts is also announced
 * through `announce`; a type the person made silent (or muted) is neither announced nor alerted.
 */
export function useDesktopAlerts(announce: (text: string) => void) {
  const [permission, setPermission] = useState<Permission>(() =>
    typeof Notification === 'undefined' ? 'unsupported' : Notification.permission,
  );
  const onNotification = useCallback(
    (n: NotificationFrame, mode: NotificationMode = 'alert') => {
      if (mode !== 'alert') return;
      const title = cardTitle(n);
      announce(`${title}: ${n.message}`);
      if (
        typeof document !== 'undefined' &&
        document.hidden &&
        typeof Notification !== 'undefined' &&
        Notification.permission === 'granted'
      ) {
        try {
          new Notification(`${n.badge} ${title}`, { body: n.message, tag: n.id });
        } catch {
          /* some browsers only allow notifications from a service worker */
        }
      }
    },
    [announce],
  );
  const askPermission = async () => {
    if (typeof Notification === 'undefined') return;
    setPermission(await Notification.requestPermission());
  };
  return { permission, askPermission, onNotification };
}
