// Silences: for a period, notifications of the alarms a silence matches are held (kept in
// the outbox with status 'held', never sent); when the silence ends, each action that had
// notifications held receives one summary of what changed meanwhile (see outbox.ts).
//
// Scoping, as data: a silence belongs to a project (`owner_project_id`) or, when an
// administrator made it, to nobody (null). A project's silence matches only that project's
// alarms, whatever else it names; an administrator's may match any alarm. Callers pass the
// scope they act in; whether the caller may act as an administrator is the API's decision.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { compileGlob, validateGlob, InvalidPatternError } from '@tally/timeseries';
import { SEVERITIES, type Severity } from '../model.js';
import { InvalidSilenceError, SilenceNotFoundError, SilenceScopeError } from './errors.js';
import { notifierDb, num, type SilenceTable } from './schema.js';

/** Who acts: an administrator, or a member of one project. */
export type SilenceScope = { admin: true } | { admin: false; projectId: string };

/** What a silence matches: every field given must match (at least one is required). */
export interface SilenceMatch {
  alarm_id?: string | null;
  project_id?: string | null;
  /** A shell pattern (fnmatch: *, ?, [...]) over the alarm's name. */
  name_pattern?: string | null;
  severity?: Severity | null;
}

export interface SilenceInput extends SilenceMatch {
  /** Milliseconds since the epoch; now when absent. */
  starts_at?: number;
  ends_at: number;
  comment?: string;
  created_by?: string | null;
}

export interface Silence extends Pick<SilenceTable, 'id' | 'owner_project_id' | 'created_by' | 'comment' | 'alarm_id' | 'project_id' | 'name_pattern'> {
  severity: Severity | null;
  /** Milliseconds since the epoch. */
  starts_at: number;
  ends_at: number;
  created_at: number;
  /** True once the summaries of what it held were queued. */
  summarized: boolean;
}

/** The fields of an alarm a silence matches on. */
export interface SilenceTarget {
  alarm_id: string | null;
  project_id: string | null;
  alarm_name: string;
  severity: string;
}

const MAX_FIELD = 255;

function rowToSilence(r: SilenceTable): Silence {
  return {
    id: r.id,
    owner_project_id: r.owner_project_id,
    created_by: r.created_by,
    comment: r.comment,
    alarm_id: r.alarm_id,
    project_id: r.project_id,
    name_pattern: r.name_pattern,
    severity: r.severity as Severity | null,
    starts_at: num(r.starts_at),
    ends_at: num(r.ends_at),
    created_at: num(r.created_at),
    summarized: num(r.summarized) !== 0,
  };
}

function checkText(field: string, v: string | null | undefined): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v === '' || v.length > MAX_FIELD) {
    throw new InvalidSilenceError(field, `${field} must be a non-empty string of at most ${MAX_FIELD} characters`);
  }
  return v;
}

/** Stores a silence after checking it; a project's silence is bound to that project. */
export async function createSilence<DB>(db: Kysely<DB>, scope: SilenceScope, input: SilenceInput, now = Date.now()): Promise<Silence> {
  const alarmId = checkText('alarm_id', input.alarm_id);
  let projectId = checkText('project_id', input.project_id);
  const namePattern = checkText('name_pattern', input.name_pattern);
  if (namePattern !== null) {
    try {
      validateGlob(namePattern);
    } catch (e) {
      if (e instanceof InvalidPatternError) throw new InvalidSilenceError('name_pattern', e.message);
      throw e;
    }
  }
  const severity = input.severity ?? null;
  if (severity !== null && !SEVERITIES.includes(severity)) {
    throw new InvalidSilenceError('severity', `severity must be one of ${SEVERITIES.join(', ')}`);
  }
  if (!scope.admin) {
    if (projectId !== null && projectId !== scope.projectId) throw new SilenceScopeError(scope.projectId, projectId);
    projectId = scope.projectId;
  }
  if (alarmId === null && projectId === null && namePattern === null && severity === null) {
    throw new InvalidSilenceError('match', 'a silence must match on alarm_id, project_id, name_pattern or severity');
  }
  const startsAt = input.starts_at ?? now;
  const endsAt = input.ends_at;
  if (!Number.isSafeInteger(startsAt) || !Number.isSafeInteger(endsAt)) {
    throw new InvalidSilenceError('ends_at', 'starts_at and ends_at must be times in whole milliseconds');
  }
  if (endsAt <= startsAt) throw new InvalidSilenceError('ends_at', 'ends_at must be after starts_at');
  if (endsAt <= now) throw new InvalidSilenceError('ends_at', 'ends_at must be in the future');
  const comment = input.comment ?? '';
  if (typeof comment !== 'string' || comment.length > 4096) throw new InvalidSilenceError('comment', 'comment must be a string of at most 4096 characters');

  const row: SilenceTable = {
    id: randomUUID(),
    owner_project_id: scope.admin ? null : scope.projectId,
    created_by: input.created_by ?? null,
    comment,
    alarm_id: alarmId,
    project_id: projectId,
    name_pattern: namePattern,
    severity,
    starts_at: startsAt,
    ends_at: endsAt,
    created_at: now,
    summarized: 0,
  };
  await notifierDb(db).insertInto('notifier_silence').values(row).execute();
  return rowToSilence(row);
}

/** Silences visible in `scope` (an administrator's: all), ending last first. */
export async function listSilences<DB>(
  db: Kysely<DB>,
  scope: SilenceScope,
  opts: { activeAt?: number } = {},
): Promise<Silence[]> {
  let q = notifierDb(db).selectFrom('notifier_silence').selectAll();
  if (!scope.admin) q = q.where('owner_project_id', '=', scope.projectId);
  if (opts.activeAt !== undefined) q = q.where('starts_at', '<=', opts.activeAt).where('ends_at', '>', opts.activeAt);
  const rows = await q.orderBy('ends_at', 'desc').orderBy('id').execute();
  return rows.map(rowToSilence);
}

export async function getSilence<DB>(db: Kysely<DB>, scope: SilenceScope, id: string): Promise<Silence> {
  let q = notifierDb(db).selectFrom('notifier_silence').selectAll().where('id', '=', id);
  if (!scope.admin) q = q.where('owner_project_id', '=', scope.projectId);
  const row = await q.executeTakeFirst();
  if (row === undefined) throw new SilenceNotFoundError(id);
  return rowToSilence(row);
}

/**
 * Removes a silence that has not begun. One that has begun ends now instead and is kept:
 * what it held is summarised to the receivers as when a silence runs out.
 */
export async function deleteSilence<DB>(db: Kysely<DB>, scope: SilenceScope, id: string, now = Date.now()): Promise<'removed' | 'ended'> {
  const silence = await getSilence(db, scope, id);
  const ndb = notifierDb(db);
  if (silence.starts_at > now) {
    await ndb.deleteFrom('notifier_silence').where('id', '=', id).execute();
    return 'removed';
  }
  if (silence.ends_at > now) {
    await ndb.updateTable('notifier_silence').set({ ends_at: Math.max(now, silence.starts_at + 1) })
      .where('id', '=', id).where('ends_at', '>', now).execute();
  }
  return 'ended';
}

/** A silence compiled for matching many notifications. */
export interface SilenceMatcher {
  silence: Silence;
  matches(target: SilenceTarget): boolean;
}

export function silenceMatcher(silence: Silence): SilenceMatcher {
  const glob = silence.name_pattern === null ? null : compileGlob(silence.name_pattern);
  return {
    silence,
    matches: (t) =>
      (silence.alarm_id === null || silence.alarm_id === t.alarm_id)
      && (silence.project_id === null || silence.project_id === t.project_id)
      && (silence.owner_project_id === null || silence.owner_project_id === t.project_id)
      && (glob === null || glob.test(t.alarm_name))
      && (silence.severity === null || silence.severity === t.severity),
  };
}

/** Silences in force at `now`, compiled. */
export async function activeSilences<DB>(db: Kysely<DB>, now: number): Promise<SilenceMatcher[]> {
  return (await listSilences(db, { admin: true }, { activeAt: now })).map(silenceMatcher);
}
