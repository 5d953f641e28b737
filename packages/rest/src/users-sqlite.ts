// The embedded user store: one SQLite file in the data folder (DATA_DIR/users.sqlite),
// readable only by its owner. WAL and a busy timeout let `tally user ...` change it while
// the API reads it.
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, chmodSync } from 'node:fs';
import type BetterSqlite3 from 'better-sqlite3';
import { NoSuchUser, UserExists, checkProjectId, checkUserName, type Role, type TokenInfo, type User, type UserStore } from './users.js';

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  project_id TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  hash TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_by_user ON tokens(user_id);
`;

interface UserRow { id: string; name: string; project_id: string; role: Role; created_at: string }
interface TokenRow { id: string; user_id: string; user_name: string; created_at: string }

const toUser = (r: UserRow): User => ({ id: r.id, name: r.name, projectId: r.project_id, role: r.role, createdAt: r.created_at });
const toToken = (r: TokenRow): TokenInfo => ({ id: r.id, userId: r.user_id, userName: r.user_name, createdAt: r.created_at });

export class SqliteUserStore implements UserStore {
  private constructor(private readonly db: BetterSqlite3.Database) {}

  /** Opens (creating when missing, mode 0600) the store at `path`. */
  static async open(path: string): Promise<SqliteUserStore> {
    // Create the file ourselves so that it is never readable by others, not even briefly.
    closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600);
    const { default: Sqlite } = await import('better-sqlite3');
    const db = new Sqlite(path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
      const version = Number(db.pragma('user_version', { simple: true }));
      if (version > SCHEMA_VERSION) throw new Error(`${path}: user store schema ${version} is newer than this Tally (${SCHEMA_VERSION})`);
      if (version < SCHEMA_VERSION) {
        db.transaction(() => {
          db.exec(SCHEMA);
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
        }).immediate();
      }
    } catch (e) {
      db.close();
      throw e;
    }
    return new SqliteUserStore(db);
  }

  async createUser(u: { name: string; projectId: string; role: Role }): Promise<User> {
    const user: User = { id: randomUUID(), name: checkUserName(u.name), projectId: checkProjectId(u.projectId), role: u.role, createdAt: new Date().toISOString() };
    try {
      this.db.prepare('INSERT INTO users (id, name, project_id, role, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(user.id, user.name, user.projectId, user.role, user.createdAt);
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new UserExists(u.name);
      throw e;
    }
    return user;
  }

  async getUser(name: string): Promise<User | null> {
    const r = this.db.prepare('SELECT * FROM users WHERE name = ?').get(name) as UserRow | undefined;
    return r ? toUser(r) : null;
  }

  async listUsers(): Promise<User[]> {
    return (this.db.prepare('SELECT * FROM users ORDER BY name').all() as UserRow[]).map(toUser);
  }

  async deleteUser(name: string): Promise<boolean> {
    // Tokens go with the user (ON DELETE CASCADE), in the same statement's transaction.
    return this.db.prepare('DELETE FROM users WHERE name = ?').run(name).changes > 0;
  }

  async addToken(t: { id: string; userId: string; hash: string }): Promise<TokenInfo> {
    const user = this.db.prepare('SELECT * FROM users WHERE id = ?').get(t.userId) as UserRow | undefined;
    if (!user) throw new NoSuchUser(t.userId);
    const createdAt = new Date().toISOString();
    this.db.prepare('INSERT INTO tokens (id, user_id, hash, created_at) VALUES (?, ?, ?, ?)').run(t.id, t.userId, t.hash, createdAt);
    return { id: t.id, userId: t.userId, userName: user.name, createdAt };
  }

  async listTokens(userName?: string): Promise<TokenInfo[]> {
    const base = 'SELECT t.id, t.user_id, u.name AS user_name, t.created_at FROM tokens t JOIN users u ON u.id = t.user_id';
    const rows = userName === undefined
      ? this.db.prepare(`${base} ORDER BY u.name, t.created_at`).all()
      : this.db.prepare(`${base} WHERE u.name = ? ORDER BY t.created_at`).all(userName);
    return (rows as TokenRow[]).map(toToken);
  }

  async findToken(id: string): Promise<{ hash: string; user: User } | null> {
    const r = this.db.prepare(
      'SELECT t.hash, u.id, u.name, u.project_id, u.role, u.created_at FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?',
    ).get(id) as (UserRow & { hash: string }) | undefined;
    return r ? { hash: r.hash, user: toUser(r) } : null;
  }

  async revokeToken(id: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM tokens WHERE id = ?').run(id).changes > 0;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
