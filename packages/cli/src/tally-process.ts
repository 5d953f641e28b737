// A long-running `tally` command as users run it (./bin/tally), for the tests that need one.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export const TALLY = fileURLToPath(new URL('../../../bin/tally', import.meta.url));

export interface TallyProcess {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** Starts `tally ARGS` and waits until its output has `ready` (or it exits, or 30 s pass). */
export async function startTally(args: string[], env: Record<string, string> = {}, ready = 'Tally API listening'): Promise<TallyProcess> {
  const child = spawn(process.execPath, [TALLY, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no "${ready}" line within 30 s:\n${output}`));
    }, 30_000);
    const check = () => {
      if (output.includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tally exited with ${code} before "${ready}":\n${output}`));
    });
  });
  child.removeAllListeners('exit');
  return {
    child,
    output: () => output,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

/** A TCP port nobody listens on now (taken from the kernel, then released). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export type Until = <T>(what: string, fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs?: number) => Promise<T>;

/** Polls `fn` every 100 ms until it gives something, or fails after the timeout (`defaultMs` unless given). */
export function poller(defaultMs: number): Until {
  return async (what, fn, timeoutMs = defaultMs) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
}
