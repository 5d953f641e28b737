// Classifying driver errors without depending on either driver's error classes.
//
// better-sqlite3 throws SqliteError with an extended result code in `code`;
// node-postgres throws DatabaseError with the SQLSTATE in `code`.

export type DbErrorKind = 'unique' | 'foreign_key' | 'busy' | null;

function codeOf(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null || !('code' in e)) return undefined;
  const code = (e as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

export function classifyDbError(e: unknown): DbErrorKind {
  const code = codeOf(e);
  switch (code) {
    case 'SQLITE_CONSTRAINT_UNIQUE':
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
    case '23505': // unique_violation
      return 'unique';
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
    case '23503': // foreign_key_violation
      return 'foreign_key';
    // Worth retrying the whole transaction: the other process held the lock past the
    // busy timeout, our WAL snapshot went stale, or PostgreSQL picked us as a victim.
    case 'SQLITE_BUSY':
    case 'SQLITE_BUSY_SNAPSHOT':
    case 'SQLITE_LOCKED':
    case '40001': // serialization_failure
    case '40P01': // deadlock_detected
      return 'busy';
    default:
      return null;
  }
}
