// Runs `tally ARGS` as users do (./bin/tally), for the client commands' end-to-end tests.
import { spawn } from 'node:child_process';
import { TALLY } from '../tally-process.js';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runTally(args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
  return runCommand(process.execPath, [TALLY, ...args], opts);
}

export function runCommand(cmd: string, args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}
