// Small helpers shared by the metric and resource code.

/** Gnocchi splits creator "user:project" at the first colon; no colon means no project (""). */
export function splitCreator(creator: string | null): { userId: string | null; projectId: string | null } {
  if (creator === null) return { userId: null, projectId: null };
  const i = creator.indexOf(':');
  return i < 0
    ? { userId: creator, projectId: '' }
    : { userId: creator.slice(0, i), projectId: creator.slice(i + 1) };
}

export function chunks<T>(values: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size));
  return out;
}

/** Keep IN lists well under SQLite's and PostgreSQL's bound-parameter limits. */
export const IN_CHUNK = 500;
