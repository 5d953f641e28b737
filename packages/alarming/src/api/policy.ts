// Who may do what: Aodh's default policy (with its deprecated rules still honoured, as
// Debian ships it), or the open policy of Aodh's functional tests where every rule is
// granted. Identities come from @tally/rest's auth modes.

import { AodhError } from './errors.js';

/** The caller as Aodh sees it: the identity headers' values (null when absent). */
export interface Caller {
  userId: string | null;
  projectId: string | null;
  roles: string[];
}

/**
 * `default`: Aodh's default rules. `open`: every rule granted and no request scoped to a
 * project (Aodh's functional-test profile): for test harnesses only.
 */
export type AlarmPolicy = 'default' | 'open';
export const ALARM_POLICIES: readonly AlarmPolicy[] = ['default', 'open'];

export type Rule =
  | 'create_alarm' | 'get_alarm' | 'get_alarms' | 'get_alarms:all_projects' | 'query_alarm' | 'change_alarm'
  | 'delete_alarm' | 'get_alarm_state' | 'change_alarm_state' | 'alarm_history' | 'query_alarm_history'
  | 'update_quotas' | 'delete_quotas';

/** Rules that need the administrator; the others need the administrator or the owning project. */
const ADMIN_ONLY = new Set<Rule>(['get_alarms:all_projects', 'update_quotas', 'delete_quotas']);

export const isAdmin = (c: Caller): boolean => c.roles.includes('admin');

export class Policy {
  constructor(readonly mode: AlarmPolicy) {}

  /**
   * The user and project a request is confined to (Aodh's segregation rule): the caller's
   * own unless it is an administrator; nulls when it is not confined.
   */
  limitedTo(c: Caller): { user: string | null; project: string | null } {
    if (this.mode === 'open' || isAdmin(c)) return { user: null, project: null };
    return { user: c.userId, project: c.projectId };
  }

  limitedProject(c: Caller): string | null {
    return this.limitedTo(c).project;
  }

  allowed(rule: Rule, c: Caller, target: { project_id?: string | null } = {}): boolean {
    if (this.mode === 'open' || isAdmin(c)) return true;
    if (rule === 'create_alarm') return true;
    if (ADMIN_ONLY.has(rule)) return false;
    return c.projectId !== null && target.project_id !== undefined && target.project_id === c.projectId;
  }

  enforce(rule: Rule, c: Caller, target: { project_id?: string | null } = {}): void {
    if (!this.allowed(rule, c, target)) throw new AodhError(403, 'RBAC Authorization Failed');
  }
}
