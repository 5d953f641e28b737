// Where pricing files live and how a new one is installed. The bundled file ships with the
// package; `tally pricing update` installs a replacement in the user's data folder; an
// override file in the user's configuration folder replaces the prices of the keys it names.
//
// An update is installed so that a reader sees either the old file or the whole new one:
// the new text is validated first, written to a temporary file beside the target, flushed
// to disk, then renamed over the target (rename is atomic within one file system), and the
// folder is flushed so the rename itself survives a crash. Killed before the rename, the old
// file is in force and at most a temporary file is left, which the next update removes.
import { open, readFile, readdir, rename, rm, mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { retry } from '@tally/retry';
import { PriceBook, PricingError, parsePricing, type PriceSource, type PricingFile } from './pricing.js';

/** The pricing file shipped with @tally/rating. */
export const BUNDLED_PRICING_PATH = fileURLToPath(new URL('../../pricing/pricing.json', import.meta.url));

type Env = Record<string, string | undefined>;

/** `$XDG_DATA_HOME/tally/pricing.json`, or `~/.local/share/tally/pricing.json`. */
export function installedPricingPath(env: Env = process.env): string {
  return join(env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share'), 'tally', 'pricing.json');
}

/** `$XDG_CONFIG_HOME/tally/pricing.json`, or `~/.config/tally/pricing.json`. */
export function overridePricingPath(env: Env = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'tally', 'pricing.json');
}

async function readIfPresent(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function loadFile(path: string): Promise<PricingFile | null> {
  const text = await readIfPresent(path);
  if (text === null) return null;
  try {
    return parsePricing(text);
  } catch (err) {
    if (err instanceof PricingError) throw new PricingError(`${path}: ${err.message}`, err.problems);
    throw err;
  }
}

export interface PricingPaths {
  bundled?: string;
  installed?: string;
  override?: string;
}

/** The prices in force: the installed update (else the bundled file), then the override's keys. */
export async function loadPriceBook(paths: PricingPaths = {}): Promise<{ book: PriceBook; files: { source: PriceSource; path: string }[] }> {
  const layers: { source: PriceSource; file: PricingFile }[] = [];
  const files: { source: PriceSource; path: string }[] = [];
  const installedPath = paths.installed ?? installedPricingPath();
  const installed = await loadFile(installedPath);
  if (installed) {
    layers.push({ source: 'installed', file: installed });
    files.push({ source: 'installed', path: installedPath });
  } else {
    const bundledPath = paths.bundled ?? BUNDLED_PRICING_PATH;
    const bundled = await loadFile(bundledPath);
    if (!bundled) throw new PricingError(`the bundled pricing file ${bundledPath} is missing`);
    layers.push({ source: 'bundled', file: bundled });
    files.push({ source: 'bundled', path: bundledPath });
  }
  const overridePath = paths.override ?? overridePricingPath();
  const override = await loadFile(overridePath);
  if (override) {
    layers.push({ source: 'override', file: override });
    files.push({ source: 'override', path: overridePath });
  }
  return { book: new PriceBook(layers), files };
}

/** A step of an install, in order; `onStep` hears each before it runs (tests stop there). */
export type InstallStep = 'validate' | 'write' | 'fsync' | 'rename' | 'fsync-dir';

export interface InstallReport {
  target: string;
  entries: number;
  /** Steps completed, in order. */
  done: InstallStep[];
  /** Temporary files of earlier interrupted installs that were removed. */
  removedLeftovers: string[];
}

const TMP_PREFIX = (target: string): string => `.${basename(target)}.`;
const TMP_SUFFIX = '.tmp';

/**
 * Validates `text` and installs it at `target` atomically. On any failure the file in force
 * is untouched and the PricingInstallError says which steps were done.
 */
export async function installPricing(text: string, target: string, opts: { onStep?: (s: InstallStep) => void | Promise<void> } = {}): Promise<InstallReport> {
  const done: InstallStep[] = [];
  const step = async (s: InstallStep): Promise<void> => { await opts.onStep?.(s); };
  const dir = dirname(target);
  let tmp: string | null = null;
  try {
    await step('validate');
    const file = parsePricing(text);
    done.push('validate');
    await mkdir(dir, { recursive: true });
    const removedLeftovers = await removeLeftovers(target);
    tmp = join(dir, `${TMP_PREFIX(target)}${process.pid}.${randomBytes(4).toString('hex')}${TMP_SUFFIX}`);
    await step('write');
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(text, 'utf8');
      done.push('write');
      await step('fsync');
      await fh.sync();
      done.push('fsync');
    } finally {
      await fh.close();
    }
    await step('rename');
    await rename(tmp, target);
    tmp = null;
    done.push('rename');
    await step('fsync-dir');
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
    done.push('fsync-dir');
    return { target, entries: file.entries.length, done, removedLeftovers };
  } catch (err) {
    if (tmp) await rm(tmp, { force: true }).catch(() => undefined);
    throw new PricingInstallError(target, done, err);
  }
}

/** An install that did not complete: what was done, and that the previous file stays in force (unless renamed). */
export class PricingInstallError extends Error {
  constructor(readonly target: string, readonly done: readonly InstallStep[], override readonly cause: unknown) {
    const installed = done.includes('rename');
    super(`${installed ? 'installed' : 'not installed'} ${target} (done: ${done.join(', ') || 'nothing'}): ${(cause as Error)?.message ?? String(cause)}` +
      (installed ? '' : '; the previous pricing file stays in force'));
    this.name = 'PricingInstallError';
  }
}

async function removeLeftovers(target: string): Promise<string[]> {
  const dir = dirname(target);
  const prefix = TMP_PREFIX(target);
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    if (name.startsWith(prefix) && name.endsWith(TMP_SUFFIX)) {
      await rm(join(dir, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}

export interface DownloadOptions {
  /** Largest body taken (bytes); a larger one is refused before it is all read. */
  maxBytes?: number;
  attempts?: number;
  timeoutMs?: number;
  baseMs?: number;
  fetchImpl?: typeof fetch;
}

export const DEFAULT_MAX_PRICING_BYTES = 16 << 20;

class PermanentDownloadError extends PricingError {}

/**
 * Downloads a pricing file's text, retrying network errors, 5xx and 429 with backoff; a 4xx
 * or a body beyond `maxBytes` fails at once. A body cut short fails (fetch rejects when the
 * connection closes before Content-Length bytes arrived) and is retried.
 */
export async function downloadPricing(url: string, opts: DownloadOptions = {}): Promise<string> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_PRICING_BYTES;
  const doFetch = opts.fetchImpl ?? fetch;
  return retry(async () => {
    const res = await doFetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000) });
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      const msg = `GET ${url}: HTTP ${res.status}`;
      if (res.status >= 500 || res.status === 429) throw new PricingError(msg);
      throw new PermanentDownloadError(msg);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > maxBytes) {
      await res.body?.cancel().catch(() => undefined);
      throw new PermanentDownloadError(`GET ${url}: ${declared} bytes, more than the ${maxBytes} allowed`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (res.body) {
      for await (const chunk of res.body) {
        size += chunk.byteLength;
        if (size > maxBytes) throw new PermanentDownloadError(`GET ${url}: more than the ${maxBytes} bytes allowed`);
        chunks.push(chunk);
      }
    }
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  }, { attempts: opts.attempts ?? 4, baseMs: opts.baseMs ?? 200, maxMs: 5_000, retryable: (err) => !(err instanceof PermanentDownloadError) });
}
