/**
 * Split payloads by where they are stored, least recently used first out, bounded in bytes.
 * Packs and split files are immutable and never reuse a name, so an entry can never go
 * stale: a later commit writes elsewhere, and a freed file's entries just age out. Reads of
 * the same series (a dashboard refreshing) then cost no file operation.
 */
export class RecordCache {
  readonly #entries = new Map<string, Uint8Array>();
  #bytes = 0;

  constructor(readonly maxBytes: number) {}

  get(key: string): Uint8Array | undefined {
    const v = this.#entries.get(key);
    if (v !== undefined) {
      // Re-insert: Map order doubles as LRU order.
      this.#entries.delete(key);
      this.#entries.set(key, v);
    }
    return v;
  }

  set(key: string, value: Uint8Array): void {
    if (value.byteLength > this.maxBytes / 8) return; // one huge split must not flush the rest
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#entries.delete(key);
      this.#bytes -= old.byteLength;
    }
    this.#entries.set(key, value);
    this.#bytes += value.byteLength;
    while (this.#bytes > this.maxBytes) {
      const [k, v] = this.#entries.entries().next().value as [string, Uint8Array];
      this.#entries.delete(k);
      this.#bytes -= v.byteLength;
    }
  }

  get bytes(): number {
    return this.#bytes;
  }
}
