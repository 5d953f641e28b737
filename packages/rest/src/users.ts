// Users, projects and API tokens of the `token` auth mode. A user belongs to one project
// and has one role; what it may do is Gnocchi's policy applied to that identity. The store
// is an interface so that the embedded default (SQLite in the data folder, users-sqlite.ts)
// and a shared database can both back it.

export type Role = 'admin' | 'member';
export const ROLES: readonly Role[] = ['admin', 'member'];

export interface User {
  /** Generated at creation: a user re-created with the same name does not own the old one's data. */
  id: string;
  name: string;
  projectId: string;
  role: Role;
  /** ISO 8601, UTC. */
  createdAt: string;
}

/** A token as listed: never its secret, nor its hash. */
export interface TokenInfo {
  id: string;
  userId: string;
  userName: string;
  createdAt: string;
}

export interface UserStore {
  /** Throws UserExists when the name is taken. */
  createUser(u: { name: string; projectId: string; role: Role }): Promise<User>;
  getUser(name: string): Promise<User | null>;
  listUsers(): Promise<User[]>;
  /** Deletes the user and every token of it; false when there is no such user. */
  deleteUser(name: string): Promise<boolean>;
  /** Stores a token's hash (tokens.ts makes it); throws NoSuchUser. */
  addToken(t: { id: string; userId: string; hash: string }): Promise<TokenInfo>;
  /** Tokens of one user (by name), or of everyone. */
  listTokens(userName?: string): Promise<TokenInfo[]>;
  /** What checking a token needs: its hash and its user. */
  findToken(id: string): Promise<{ hash: string; user: User } | null>;
  /** False when there is no such token. */
  revokeToken(id: string): Promise<boolean>;
  close(): Promise<void>;
}

export class UserStoreError extends Error {
  override name = 'UserStoreError';
}

export class UserExists extends UserStoreError {
  constructor(readonly user: string) {
    super(`User ${user} already exists`);
  }
}

export class NoSuchUser extends UserStoreError {
  constructor(readonly user: string) {
    super(`User ${user} does not exist`);
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** User names: 1-64 of letters, digits, `.`, `_`, `@`, `-`, starting with a letter or digit. */
export function checkUserName(name: string): string {
  if (!NAME.test(name)) throw new UserStoreError(`invalid user name "${name}": use 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit`);
  return name;
}

/**
 * Project ids: what resources' `project_id` and `created_by_project_id` hold, so the same
 * characters as user names (no ":", which separates user and project in `creator`).
 */
export function checkProjectId(project: string): string {
  if (!NAME.test(project)) throw new UserStoreError(`invalid project "${project}": use 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit`);
  return project;
}

export function parseRole(role: string): Role {
  if (!(ROLES as readonly string[]).includes(role)) throw new UserStoreError(`role must be ${ROLES.join(' or ')}, got "${role}"`);
  return role as Role;
}
