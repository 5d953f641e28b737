// A pollster plugin for `tally agent`, written against the agent's public interface only:
// the size of folders (bytes and files, the whole tree), one `folder` resource per folder.
// A configuration names it by package name:
//
//   - name: spool
//     interval: 60
//     pollster: "@tally/agent-pollster-example"
//     meters: ["folder.*"]
//     options: { paths: [/var/spool/mail] }
import { createHash } from 'node:crypto';
import { lstat, readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { PollsterConfigError, type Discovery, type PollContext, type Pollster, type PollsterFactory, type Sample } from '@tally/agent';

interface FolderSize {
  bytes: number;
  files: number;
}

/** Walks a tree without following symbolic links; stops at the signal. */
async function measure(dir: string, signal: AbortSignal): Promise<FolderSize> {
  const total: FolderSize = { bytes: 0, files: 0 };
  const stack = [dir];
  while (stack.length > 0) {
    signal.throwIfAborted();
    const d = stack.pop() as string;
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) {
        total.files++;
        total.bytes += (await lstat(p)).size;
      }
    }
  }
  return total;
}

/** A stable resource id per host and folder (Gnocchi takes any string; a UUID form keeps it short). */
function folderId(host: string, path: string): string {
  const h = createHash('sha256').update(`${host}\0${path}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

class FolderPollster implements Pollster<string> {
  readonly name = 'folder';
  readonly meters = [
    { name: 'folder.size', unit: 'B', type: 'gauge', resourceType: 'folder', description: 'bytes of the regular files under the folder' },
    { name: 'folder.files', unit: 'file', type: 'gauge', resourceType: 'folder', description: 'regular files under the folder' },
  ] as const;
  readonly resourceTypes = [{
    name: 'folder',
    attributes: {
      path: { type: 'string', required: true, maxLength: 255 },
      host_name: { type: 'string', required: true, maxLength: 255 },
    },
  }] as const;
  readonly #paths: string[];
  readonly #host = hostname();

  constructor(paths: string[]) {
    this.#paths = paths;
  }

  async discover(): Promise<Discovery<string>> {
    return { targets: this.#paths };
  }

  async poll(ctx: PollContext, discovery: Discovery<string>): Promise<Sample[]> {
    const out: Sample[] = [];
    for (const path of discovery.targets) {
      let size: FolderSize;
      try {
        size = await measure(path, ctx.signal);
      } catch (e) {
        if (ctx.signal.aborted) throw e;
        ctx.log('warn', 'folder not readable', { path, error: (e as Error).message });
        continue;
      }
      const timestamp = BigInt(Date.now()) * 1_000_000n;
      const resource = { id: folderId(this.#host, path), type: 'folder', attributes: { path, host_name: this.#host } };
      if (ctx.wants('folder.size')) out.push({ meter: 'folder.size', unit: 'B', type: 'gauge', volume: size.bytes, timestamp, resource });
      if (ctx.wants('folder.files')) out.push({ meter: 'folder.files', unit: 'file', type: 'gauge', volume: size.files, timestamp, resource });
    }
    return out;
  }

  async close(): Promise<void> {}
}

export const pollster: PollsterFactory = {
  name: 'folder',
  create(options) {
    const paths = options.paths;
    if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p): p is string => typeof p === 'string' && p !== '')) {
      throw new PollsterConfigError('paths must be a non-empty list of folders');
    }
    return new FolderPollster(paths.map((p) => resolve(p)));
  },
};

export default pollster;
