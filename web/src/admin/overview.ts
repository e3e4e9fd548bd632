/**
 * The operator view's data: `GET /api/admin/overview` (`grace_chat.api.admin`), read with an
 * admin token (`grace token USER --admin`), and the token kept for this tab only.
 */
import { rest, type ApprovalInfo, type TaskInfo } from 'grace-chat-client';

export interface ConnectedUser {
  user_id: string;
  connections: number;
  /** Connections per transport (`websocket`, `sse`). */
  transports: Record<string, number>;
}

export interface AdminTask extends TaskInfo {
  user_id: string;
}

export interface Incident {
  check: string;
  severity: string;
  message: string;
  opened_at: string;
  value?: unknown;
}

export interface IncidentEvent {
  at: string;
  action: string;
  check: string;
  severity: string;
  message: string;
  value?: unknown;
}

export interface Overview {
  generated_at: string;
  connections: Record<string, number>;
  users: ConnectedUser[];
  tasks: AdminTask[];
  approvals: ApprovalInfo[];
  guardian: boolean;
  incidents: Incident[];
  history: IncidentEvent[];
}

export const OVERVIEW_PATH = '/api/admin/overview';
/** How often the page asks again. */
export const POLL_MS = 2_000;
const TOKEN_KEY = 'grace.admin.token';

export function fetchOverview(token: string, fetchImpl?: typeof fetch): Promise<Overview> {
  return rest<Overview>({ baseUrl: window.location.origin, token, fetchImpl }, 'GET', OVERVIEW_PATH);
}

/** The admin token of this tab (sessionStorage: gone when the tab closes). */
export const adminToken = {
  get(): string | null {
    try {
      return sessionStorage.getItem(TOKEN_KEY);
    } catch {
      return null;
    }
  },
  set(token: string | null): void {
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // storage refused (private mode): the token lives as long as the page
    }
  },
};

/** True on the operator view's address: `/admin` (under any prefix) or `#/admin`. */
export function isAdminLocation(location: Pick<Location, 'pathname' | 'hash'>): boolean {
  return /\/admin\/?$/.test(location.pathname) || location.hash === '#/admin';
}
