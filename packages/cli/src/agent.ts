// The metering agent's part of the `tally` command: `tally agent` publishing to any
// Gnocchi-compatible endpoint over HTTP (agent-command.ts defines the command), and the
// agent `tally serve --agent-config` runs beside the metric store, publishing into it in
// process.
import { resolve } from 'node:path';
import { pino, type Logger as Pino } from 'pino';
import type { HTTPMethods } from 'fastify';
import { Agent, loadAgentConfig, type AgentConfig, type Logger } from '@tally/agent';
import { GnocchiClient, InjectTransport, type GnocchiAuth } from '@tally/client';
import { buildApi, DEFAULT_HTTP_CONFIG } from '@tally/rest';
import type { Settings } from './config.js';
import { ConfigError } from './config.js';
import type { Services } from './services.js';

/** The agent's log lines through the command's pino logger. */
export function agentLogger(log: Pino): Logger {
  return (level, message, fields) => log[level](fields ?? {}, message);
}

/**
 * SIGTERM/SIGINT stop the agent and exit. SIGHUP reads the configuration again: an invalid
 * file is reported and the running agent goes on; a valid one replaces it (the running
 * sources stop and their pollsters close, logging out of vSphere and closing libvirt's
 * socket; the buffer stays on disk and the new agent sends what it holds).
 */
function handleSignals(first: Agent, reload: () => Promise<Agent>, log: Pino): void {
  let agent = first;
  let stopping = false;
  let changes: Promise<void> = Promise.resolve();
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ sig }, 'stopping');
    changes.then(() => agent.stop()).then(() => process.exit(0), (err: unknown) => {
      log.error({ err }, 'error while stopping');
      process.exit(1);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => {
    changes = changes.then(async () => {
      if (stopping) return;
      let next: Agent;
      try {
        next = await reload();
      } catch (err) {
        log.error({ err: (err as Error).message }, 'configuration not reloaded: the running agent goes on');
        return;
      }
      agent = next;
      log.info({ sources: agent.owned }, 'configuration reloaded');
    });
  });
}

function httpUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(`--gnocchi-url must be an http(s) URL, got ${raw}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`--gnocchi-url must be an http(s) URL, got ${raw}`);
  return raw.replace(/\/+$/, '');
}

/** The options of `tally agent` (agent-command.ts defines them). */
export interface AgentFlags {
  config: string;
  gnocchiUrl: string;
  user: string;
  password: string;
  token?: string;
  dataDir: string;
  coordinationUrl?: string;
  name?: string;
  logLevel: string;
}

/** `tally agent`. */
export async function runAgent(flags: AgentFlags): Promise<void> {
  const configFile = resolve(flags.config);
  const config = loadAgentConfig(configFile);
  const url = httpUrl(flags.gnocchiUrl);
  const auth: GnocchiAuth = flags.token ? { type: 'keystone', token: flags.token } : { type: 'basic', user: flags.user, password: flags.password };
  const log = pino({ level: flags.logLevel, base: { role: 'agent' } });
  // No retries in the client: the publisher keeps what failed in its buffer and retries it.
  const client = new GnocchiClient({ url, auth, retry: false, timeoutMs: 30_000 });
  const start = (c: AgentConfig): Promise<Agent> => Agent.start({
    config: c, client, dataDir: resolve(flags.dataDir), name: flags.name, coordinationUrl: flags.coordinationUrl, log: agentLogger(log),
  });
  let current = config;
  let agent = await start(config);
  log.info({ gnocchiUrl: url, dataDir: resolve(flags.dataDir), config: config.file }, 'Tally agent running');
  handleSignals(agent, async () => {
    // Checked whole before the running agent is touched: a bad file changes nothing.
    const next = loadAgentConfig(configFile);
    await agent.stop();
    try {
      agent = await start(next);
    } catch (err) {
      // A pollster package that cannot be loaded shows only now: back to what ran.
      agent = await start(current);
      throw err;
    }
    current = next;
    return agent;
  }, log);
}

/**
 * The agent of `tally serve --agent-config`: it publishes into this process's metric store
 * through a Gnocchi API instance that never listens (reached with inject), as the
 * administrator whatever the listening API's auth mode. Returns its stop function.
 */
export async function startServeAgent(s: Settings, log: Pino, svc: Services): Promise<() => Promise<void>> {
  const config = loadAgentConfig(s.agentConfig);
  const api = buildApi({ ...svc, processor: svc.refresher, version: 'agent', requestDeadlineMs: s.requestDeadlineMs, maxAnswerPoints: s.maxAnswerPoints },
    { ...DEFAULT_HTTP_CONFIG, authMode: 'basic', maxLimit: s.maxLimit, bodyLimit: s.bodyLimitBytes });
  await api.ready();
  const transport = new InjectTransport(async (req) => {
    const res = await api.inject({ method: req.method as HTTPMethods, url: req.url, headers: req.headers, payload: req.payload });
    return { statusCode: res.statusCode, headers: res.headers, rawPayload: res.rawPayload };
  }, { auth: { type: 'basic', user: 'admin' } });
  const agentLog = log.child({ role: 'agent' });
  const agent = await Agent.start({
    config, client: new GnocchiClient({ transport }), dataDir: resolve(s.dataDir, 'agent'), log: agentLogger(agentLog),
  });
  return async () => {
    await agent.stop();
    await api.close();
  };
}
