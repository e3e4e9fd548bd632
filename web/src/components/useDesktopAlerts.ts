import { useCallback, useState } from 'react';
import type { NotificationFrame } from '../frames';

type Permission = NotificationPermission | 'unsupported';

/**
 * Desktop alerts for live notifications while the tab is hidden, once the person allowed them
 * (asking takes a click). Every live notification is also announced through `announce`.
 */
export function useDesktopAlerts(announce: (text: string) => void) {
  const [permission, setPermission] = useState<Permission>(() =>
    typeof Notification === 'undefined' ? 'unsupported' : Notification.permission,
  );
  const onNotification = useCallback(
    (n: NotificationFrame) => {
      announce(`${n.title || 'Grace Notification'}: ${n.message}`);
      if (
        typeof document !== 'undefined' &&
        document.hidden &&
        typeof Notification !== 'undefined' &&
        Notification.permission === 'granted'
      ) {
        try {
          new Notification(`${n.badge} ${n.title || 'Grace Notification'}`, { body: n.message, tag: n.id });
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
