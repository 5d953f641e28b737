// What the long-running commands (serve, api, metricd, alarm and rating roles) share: a
// logger naming their role, and a clean stop on SIGTERM and SIGINT.
import { pino, type Logger } from 'pino';
import type { Settings } from './config.js';

export function logger(s: Settings, role: string): Logger {
  return pino({ level: s.logLevel, base: { role } });
}

export function onSignals(stop: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const handler = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ sig }, 'stopping');
    stop().then(() => process.exit(0), (err: unknown) => {
      log.error({ err }, 'error while stopping');
      process.exit(1);
    });
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
