// Runs scripts/prometheus-e2e (Debian's Prometheus remote-writing into Tally) when the
// prometheus binary is installed; skipped otherwise (the script itself installs it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const root = new URL('../../../', import.meta.url).pathname;
const script = `${root}scripts/prometheus-e2e`;

function prometheusInstalled(): boolean {
  return spawnSync('sh', ['-c', 'command -v prometheus'], { stdio: 'ignore' }).status === 0;
}

const skip = !existsSync(script) ? 'scripts/prometheus-e2e not found'
  : !prometheusInstalled() ? 'skipped: the prometheus binary is not installed (scripts/prometheus-e2e installs it)' : false;

test('Prometheus remote write into Tally, read back through the API', { skip, timeout: 90_000 }, () => {
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 85_000 });
  assert.equal(r.status, 0, `scripts/prometheus-e2e failed:\n${r.stderr}\n${r.stdout}`);
  assert.match(r.stderr, /points of scrape_duration_seconds match Prometheus/);
});
