// The progress journal of `tally migrate`: one JSON line per item copied, appended and
// fsynced before the item counts as done, so that a rerun after SIGINT, SIGKILL or a
// power cut skips exactly what was committed. Appending a line is O(1) however many items
// were copied before (rewriting a JSON document would be O(n) per item); a line cut short
// by a crash is the last one, and is ignored: its item is redone, which every write of the
// migration tolerates (it finds the item present, or replaces aggregates by the same ones).
import { closeSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';

/** What the journal records, by kind: the item's key and, for some kinds, a count. */
export type JournalKind = 'policy' | 'rule' | 'resource_type' | 'resource' | 'metric' | 'measures';

interface Entry {
  k: JournalKind;
  id: string;
  /** Revisions of a resource, points of a metric's aggregates. */
  n?: number;
  /** The item is to be done again (see forget). */
  undo?: true;
}

interface Header {
  source: string;
}

/** A journal that belongs to another source: resuming from it would skip the wrong items. */
export class JournalSourceMismatch extends Error {
  constructor(readonly path: string, readonly journalSource: string, readonly source: string) {
    super(`${path} records a migration from ${journalSource}, not from ${source}: give another --state file`);
    this.name = 'JournalSourceMismatch';
  }
}

export class MigrationJournal {
  private readonly done = new Map<JournalKind, Map<string, number>>();
  private fd: number;

  /** Opens (or creates) the journal at `path` for a migration from `source`. */
  constructor(readonly path: string, source: string) {
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    // Whatever follows the last newline was being written when the process died: it is
    // cut off, so that the next line appended starts on a line of its own.
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) truncateSync(path, Buffer.byteLength(text.slice(0, end)));
    const complete = text.slice(0, end).split('\n');
    let header: Header | null = null;
    for (const line of complete) {
      if (line === '') continue;
      const v = JSON.parse(line) as Entry | Header;
      if ('source' in v) {
        header ??= v;
        continue;
      }
      if (v.undo === true) this.kind(v.k).delete(v.id);
      else this.kind(v.k).set(v.id, v.n ?? 0);
    }
    if (header !== null && header.source !== source) throw new JournalSourceMismatch(path, header.source, source);
    this.fd = openSync(path, 'a');
    if (header === null) this.append({ source });
  }

  private kind(k: JournalKind): Map<string, number> {
    let m = this.done.get(k);
    if (m === undefined) this.done.set(k, (m = new Map()));
    return m;
  }

  has(k: JournalKind, id: string): boolean {
    return this.done.get(k)?.has(id) ?? false;
  }

  /** The count recorded with an item (0 when none was, or the item is not done). */
  count(k: JournalKind, id: string): number {
    return this.done.get(k)?.get(id) ?? 0;
  }

  /** Records an item as done; durable when it returns. */
  record(k: JournalKind, id: string, n?: number): void {
    this.append(n === undefined ? { k, id } : { k, id, n });
    this.kind(k).set(id, n ?? 0);
  }

  /** Marks a done item as to be done again by the next run; durable when it returns. */
  forget(k: JournalKind, id: string): void {
    this.append({ k, id, undo: true });
    this.done.get(k)?.delete(id);
  }

  private append(v: Entry | Header): void {
    writeSync(this.fd, `${JSON.stringify(v)}\n`);
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}
