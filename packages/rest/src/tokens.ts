// API tokens: `tally_<id>_<secret>`. The id (public, 16 hex digits) finds the stored
// record, so checking a token costs one scrypt; the store keeps only
// scrypt(secret, per-token salt). A verified token is remembered (by its SHA-256) for a
// short time so that a client's requests do not each pay for a hash.
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { HttpError } from './errors.js';
import type { Identity, TokenVerifier } from './auth.js';
import { NoSuchUser, type TokenInfo, type User, type UserStore } from './users.js';

const TOKEN = /^tally_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface ParsedToken { id: string; secret: string }

export function parseToken(token: string): ParsedToken | null {
  const m = TOKEN.exec(token);
  return m ? { id: m[1], secret: m[2] } : null;
}

function scrypt(secret: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(secret, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

/** scrypt cost: 2^14 x 8 x 1 (16 MiB, tens of ms). Stored with each hash so it can change. */
export const SCRYPT_PARAMS = { N: 16384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

/** `scrypt$N$r$p$salt$hash` (base64url). */
export async function hashSecret(secret: string, params: { N: number; r: number; p: number } = SCRYPT_PARAMS): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(secret, salt, KEY_LENGTH, { ...params, maxmem: 256 * params.N * params.r });
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Constant-time check of `secret` against a stored hash; false for any malformed hash. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0) || N > 1 << 20 || r > 32 || p > 16) return false;
  const salt = Buffer.from(parts[4], 'base64url');
  const expected = Buffer.from(parts[5], 'base64url');
  if (expected.length < 16) return false;
  const actual = await scrypt(secret, salt, expected.length, { N, r, p, maxmem: 256 * N * r });
  return timingSafeEqual(actual, expected);
}

/** Makes a token for user `name`, stores its hash, and returns it: the only time it is seen. */
export async function issueToken(store: UserStore, name: string): Promise<{ token: string; info: TokenInfo; user: User }> {
  const user = await store.getUser(name);
  if (!user) throw new NoSuchUser(name);
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const info = await store.addToken({ id, userId: user.id, hash: await hashSecret(secret) });
  return { token: `tally_${id}_${secret}`, info, user };
}

/** The identity a token proves: creator "user:project" as in Gnocchi's keystone/noauth modes. */
export function identityOf(user: User): Identity {
  return { userId: user.id, projectId: user.projectId, roles: [user.role], creator: `${user.id}:${user.projectId}` };
}

export interface TokenVerifierOptions {
  /** How long a verified token is trusted without asking the store again (revocation delay). */
  cacheTtlMs?: number;
  maxCacheEntries?: number;
  /** Hashes computed at once (each holds a libuv thread, which file I/O shares). */
  maxConcurrentHashes?: number;
  /** Requests allowed to wait for a hash; past that, 503. */
  maxWaiting?: number;
  now?: () => number;
}

interface CacheEntry { identity: Identity; expires: number }

/** Checks tokens against a UserStore, with a short-lived cache of verified tokens. */
export class StoreTokenVerifier implements TokenVerifier {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<Identity | null>>();
  private readonly waiting: (() => void)[] = [];
  private running = 0;
  private readonly ttl: number;
  private readonly maxEntries: number;
  private readonly maxConcurrent: number;
  private readonly maxWaiting: number;
  private readonly now: () => number;
  /** Hashes computed so far (for tests and metrics). */
  hashes = 0;

  constructor(private readonly store: UserStore, opts: TokenVerifierOptions = {}) {
    this.ttl = opts.cacheTtlMs ?? 30_000;
    this.maxEntries = opts.maxCacheEntries ?? 10_000;
    this.maxConcurrent = opts.maxConcurrentHashes ?? 2;
    this.maxWaiting = opts.maxWaiting ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  async verify(token: string): Promise<Identity | null> {
    const parsed = parseToken(token);
    if (!parsed) return null;
    // The cache is keyed by a digest, so it holds no usable secret.
    const key = createHash('sha256').update(token).digest('base64url');
    const hit = this.cache.get(key);
    if (hit) {
      if (hit.expires > this.now()) return hit.identity;
      this.cache.delete(key);
    }
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.check(parsed).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    const identity = await pending;
    if (identity && this.ttl > 0) this.remember(key, identity);
    return identity;
  }

  /** Forgets every cached token (e.g. after revoking in this process). */
  forget(): void {
    this.cache.clear();
  }

  private remember(key: string, identity: Identity): void {
    this.cache.delete(key);
    while (this.cache.size >= this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    this.cache.set(key, { identity, expires: this.now() + this.ttl });
  }

  private async check(t: ParsedToken): Promise<Identity | null> {
    const found = await this.store.findToken(t.id);
    if (!found) return null; // unknown id: no hash computed
    await this.acquire();
    try {
      this.hashes++;
      return (await verifySecret(t.secret, found.hash)) ? identityOf(found.user) : null;
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.running < this.maxConcurrent) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxWaiting) {
      return Promise.reject(new HttpError(503, 'Too many credentials to check right now; retry later.', { 'retry-after': '1' }));
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next(); // the slot passes to the next waiter
    else this.running--;
  }
}
