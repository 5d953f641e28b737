import { mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lockFileName } from './local.js';

export interface FileMembershipOptions {
  /** Shared folder; groups live in `<dir>/groups/`. */
  dir: string;
  /** A member whose heartbeat is older than this is considered gone (default 30 s). */
  memberTimeoutMs?: number;
  /** Heartbeat automatically every this many ms while joined (default timeout / 3; 0 = never). */
  heartbeatMs?: number;
}

export interface Member {
  id: string;
  capabilities: string | null;
}

/**
 * Group membership with one heartbeat file per member: a file's mtime is its last heartbeat.
 * Crashed members simply stop refreshing and age out after `memberTimeoutMs`; metricd uses
 * the live member list to share sacks.
 */
export class FileMembership {
  readonly #root: string;
  readonly #timeoutMs: number;
  readonly #joined = new Map<string, string>(); // file path -> group
  #timer: NodeJS.Timeout | null = null;

  constructor(options: FileMembershipOptions) {
    this.#root = join(options.dir, 'groups');
    this.#timeoutMs = options.memberTimeoutMs ?? 30_000;
    const every = options.heartbeatMs ?? Math.floor(this.#timeoutMs / 3);
    if (every > 0) {
      this.#timer = setInterval(() => void this.heartbeat().catch(() => undefined), every);
      this.#timer.unref(); // membership alone must not keep a process alive
    }
  }

  async join(group: string, member: string, capabilities: string | null = null): Promise<void> {
    const dir = this.#groupDir(group);
    await mkdir(dir, { recursive: true });
    const path = join(dir, memberFile(member));
    // Temp then rename, so members() never reads a half-written file.
    const temp = `${path}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify({ id: member, capabilities }));
    await rename(temp, path);
    this.#joined.set(path, group);
  }

  async leave(group: string, member: string): Promise<void> {
    const path = join(this.#groupDir(group), memberFile(member));
    this.#joined.delete(path);
    await unlink(path).catch(ignoreMissing);
  }

  /** Refreshes every membership held by this process. */
  async heartbeat(): Promise<void> {
    const now = new Date();
    await Promise.all([...this.#joined.keys()].map((p) => utimes(p, now, now).catch(ignoreMissing)));
  }

  /** Live members, sorted by id; expired heartbeat files are removed on the way. */
  async members(group: string): Promise<Member[]> {
    const dir = this.#groupDir(group);
    const names = (await readdir(dir).catch((e: unknown) => (ignoreMissing(e), [] as string[])))
      .filter((n) => n.endsWith('.member'));
    const found = await Promise.all(names.map((n) => this.#readLive(join(dir, n))));
    return found.filter((m): m is Member => m !== null).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    const joined = [...this.#joined.keys()];
    this.#joined.clear();
    await Promise.all(joined.map((p) => unlink(p).catch(ignoreMissing)));
  }

  async #readLive(path: string): Promise<Member | null> {
    try {
      const age = Date.now() - (await stat(path)).mtimeMs;
      if (age > this.#timeoutMs) {
        await unlink(path).catch(ignoreMissing);
        return null;
      }
      const parsed = JSON.parse(await readFile(path, 'utf8')) as Member;
      return { id: parsed.id, capabilities: parsed.capabilities ?? null };
    } catch (err) {
      ignoreMissing(err); // left meanwhile
      return null;
    }
  }

  #groupDir(group: string): string {
    return join(this.#root, lockFileName(group).replace(/\.lock$/, ''));
  }
}

function memberFile(member: string): string {
  return lockFileName(member).replace(/\.lock$/, '.member');
}

function ignoreMissing(err: unknown): void {
  if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
}
