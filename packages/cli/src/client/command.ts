// What every client command shares: the connection and output options, the clients, and the
// one place where a failure becomes a message and an exit code.
//
// Exit codes (docs/CLI.md): 0 done; 1 the API refused the request (4xx: not found, invalid,
// forbidden...); 2 the command line is wrong (unknown option or column, unreadable file);
// 3 the server could not be reached, timed out or failed (5xx).
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { GnocchiApiError, GnocchiTransportError, type AodhClient, type GnocchiClient, type JsonValue } from '@tally/client';
import { FORMATS, UsageError, colorWanted, render, type Format, type Result } from './output.js';
import { Progress } from '../progress.js';
import { aodhClient, configPath, gnocchiClient, resolveClientSettings, type ClientSettings } from './settings.js';

export const EXIT = { ok: 0, api: 1, usage: 2, unreachable: 3 } as const;

/** What the user named does not exist or is ambiguous (an alarm by name): exit code 1, as a 404. */
export class LookupError extends Error {
  override readonly name = 'LookupError';
}

export const CLIENT_GROUP = 'Client commands (a Gnocchi or Tally metric API, an Aodh or Tally alarm API):';

export interface Ctx {
  settings: ClientSettings;
  gnocchi(): GnocchiClient;
  aodh(): AodhClient;
  progress(label: string, total: number | undefined, unit: string): Progress;
}

/** Appends repeated option values. */
export const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

export function int(name: string): (v: string) => number {
  return (v) => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be a whole number`);
    return Number(v);
  };
}

export function float(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number`);
    return n;
  };
}

/** Reads a file, or stdin for "-"; a missing file is a usage error. */
export function readInput(path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${path === '-' ? 'stdin' : path}: ${(e as Error).message}`);
  }
}

export function parseJson(text: string, what: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (e) {
    throw new UsageError(`${what} is not JSON: ${(e as Error).message}`);
  }
}

const CONNECTION = 'Connection options (else env TALLY_*, else the client configuration file; see docs/CLI.md):';
const OUTPUT = 'Output options:';

function connectionOptions(cmd: Command): void {
  const opts: [string, string][] = [
    ['--endpoint <url>', 'metric API (env TALLY_ENDPOINT or GNOCCHI_ENDPOINT; default http://127.0.0.1:8041)'],
    ['--alarm-endpoint <url>', "alarm API (env TALLY_ALARM_ENDPOINT; default the endpoint's host, port 8042)"],
    ['--auth <type>', 'basic | noauth | token | none (env TALLY_AUTH; default token with --token, noauth with --project or --roles, else basic)'],
    ['--user <name>', 'user: the basic-auth name (default admin) or the X-User-Id of noauth (env TALLY_USER)'],
    ['--password <password>', 'basic-auth password (env TALLY_PASSWORD)'],
    ['--project <id>', 'X-Project-Id (noauth; env TALLY_PROJECT)'],
    ['--roles <list>', 'X-Roles, comma separated (noauth; env TALLY_ROLES)'],
    ['--token <token>', 'a Tally API token, sent as a bearer token (env TALLY_TOKEN)'],
    ['--timeout <seconds>', 'limit on each request (env TALLY_TIMEOUT; default 30)'],
  ];
  for (const [flags, help] of opts) cmd.addOption(new Option(flags, help).helpGroup(CONNECTION));
}

function outputOptions(cmd: Command): void {
  cmd.addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('table').helpGroup(OUTPUT));
  cmd.addOption(new Option('-c, --column <name>', 'only this column (repeatable)').argParser(collect).helpGroup(OUTPUT));
}

/** Client commands made so far and whether they print a result; see finishClientCommands. */
const made: { cmd: Command; output: boolean }[] = [];

/**
 * A client command under `parent`. Its action gets the context, the positional arguments and
 * the options; what it returns is printed in the chosen format (nothing for `void`).
 */
export function clientCommand(parent: Command, nameAndArgs: string, description: string, opts: { output?: boolean } = {}): Command {
  const cmd = parent.command(nameAndArgs).description(description);
  made.push({ cmd, output: opts.output !== false });
  usageExit(cmd);
  return cmd;
}

/**
 * Adds the shared output and connection options to every client command, after the
 * command's own, so that each command's help shows its own options first.
 */
export function finishClientCommands(): void {
  for (const { cmd, output } of made.splice(0)) {
    if (output) outputOptions(cmd);
    connectionOptions(cmd);
  }
}

/** Commander's own usage errors (unknown option, missing argument, bad choice) exit 2, help and version 0. */
export function usageExit(cmd: Command): void {
  cmd.exitOverride((err: CommanderError) => {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
    process.exit(EXIT.usage);
  });
}

/** Positional arguments as commander gives them: a string, a list for a variadic one, undefined when optional and absent. */
export type Args = (string | string[] | undefined)[];

type Action = (ctx: Ctx, args: Args, flags: Record<string, unknown>) => Promise<Result | void>;

/** The action of a client command: runs `fn`, prints its result, maps failures to exit codes. */
export function action(name: string, fn: Action): (...a: unknown[]) => Promise<void> {
  return async (...a: unknown[]) => {
    const cmd = a[a.length - 1] as Command;
    const flags = cmd.opts();
    const positional = cmd.processedArgs as Args;
    let settings: ClientSettings | undefined;
    const opened: { close(): void }[] = [];
    try {
      settings = resolveClientSettings(flags);
      const s = settings;
      let g: GnocchiClient | undefined;
      let al: AodhClient | undefined;
      const ctx: Ctx = {
        settings: s,
        gnocchi: () => (g ??= open(gnocchiClient(s), opened)),
        aodh: () => (al ??= open(aodhClient(s), opened)),
        progress: (label, total, unit) => new Progress(label, total, unit),
      };
      const result = await fn(ctx, positional, flags);
      if (result) {
        process.stdout.on('error', stdoutClosed);
        process.stdout.write(render(result, {
          format: flags.format as Format, columns: (flags.column as string[] | undefined) ?? [], color: colorWanted(process.stdout.isTTY === true),
        }));
      }
    } catch (e) {
      const { code, message } = explain(e, settings);
      process.stderr.write(`tally ${name}: ${message}\n`);
      process.exitCode = code;
    } finally {
      for (const c of opened) c.close();
    }
  };
}

/** A reader that stops early (`| head`) is not a failure: the answer was delivered as far as wanted. */
function stdoutClosed(err: NodeJS.ErrnoException): void {
  if (err.code !== 'EPIPE') throw err;
  process.exit(process.exitCode ?? EXIT.ok);
}

function open<T extends { close(): void }>(c: T, opened: { close(): void }[]): T {
  opened.push(c);
  return c;
}

const REFUSED_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused', ENOTFOUND: 'no such host', ETIMEDOUT: 'timed out', ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable', ENETUNREACH: 'network unreachable', EAI_AGAIN: 'name lookup failed',
};

/** The exit code and the one-line message (what went wrong, and what to do) of a failure. */
export function explain(e: unknown, s: ClientSettings | undefined): { code: number; message: string } {
  if (e instanceof UsageError || e instanceof InvalidArgumentError) return { code: EXIT.usage, message: e.message };
  if (e instanceof LookupError) return { code: EXIT.api, message: e.message };
  // Arguments and files are parsed into usage errors: a bare SyntaxError is an answer's body.
  if (e instanceof SyntaxError) {
    const where = s === undefined ? 'the endpoint' : `${s.endpoint} (or ${s.alarmEndpoint} for alarms)`;
    return { code: EXIT.unreachable, message: `the server's answer is not JSON (${e.message.replace(/\s+/g, ' ')}): is ${where} a Tally, Gnocchi or Aodh API?` };
  }
  const alarm = (url: string) => s !== undefined && url.startsWith(new URL(s.alarmEndpoint).origin) && s.alarmEndpoint !== s.endpoint;
  if (e instanceof GnocchiTransportError) {
    const u = new URL(e.url);
    const which = alarm(e.url)
      ? 'is `tally serve` (or `tally alarm-api`) running with its alarm API there? set --alarm-endpoint or TALLY_ALARM_ENDPOINT'
      : 'is `tally serve` running? set --endpoint or TALLY_ENDPOINT';
    const source = s?.sources[alarm(e.url) ? 'alarmEndpoint' : 'endpoint'];
    const from = source === undefined || source === 'default' ? '' : source === 'flag' ? ' (given as a flag)' : source === 'env' ? ' (from the environment)' : ` (from ${configPath()})`;
    return { code: EXIT.unreachable, message: `cannot reach ${u.origin}${from}: ${REFUSED_WORDS[e.code] ?? e.code} - ${which}` };
  }
  if (e instanceof GnocchiApiError) {
    const detail = typeof e.description === 'string' ? e.description : JSON.stringify(e.description);
    const what = `${e.status} ${e.title}${detail ? `: ${detail}` : ''}`;
    if (e.status >= 500) return { code: EXIT.unreachable, message: `the server failed (${what}) on ${e.method} ${e.url}; see its log` };
    const hint = e.status === 401
      ? ' - give credentials: --user (basic), --token (token mode) or --project/--roles (noauth), or TALLY_USER / TALLY_TOKEN'
      : e.status === 403 ? ' - the identity used may not do this: try an admin user or token' : '';
    return { code: EXIT.api, message: `${what}${hint}` };
  }
  throw e;
}
