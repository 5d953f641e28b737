// The start of a time constraint is accepted exactly when Python's croniter (what Aodh
// validates with) accepts it: compared on the spot with Debian's python3-croniter.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { checkCron } from './cron.js';

const EXPRESSIONS = [
  '0 23 * * *', '* * * *', '0 23 * * * *', '@daily', '@hourly', '@yearly', '61 * * * *', '*/5 1-3 * jan mon', '0 0 L * *',
  '0 0 * * 1#2', 'a b c d e', '0 0 ? * *', '0 0 1 1 1 1 1', '', '0 0 * * 7', '0 0 * * 8', '1,2,3 * * * *', '5-1 * * * *',
  '0 0 31 2 *', '* * * * * 60', 'H * * * *', '0 24 * * *', '0 0 0 * *', '0 0 * 13 *', '0 0 * * mon-fri', '*/0 * * * *',
  '1-5/2 * * * *', '0 0 * * sun', '  0 0 * * *  ', '0 0 1,15 * *', '0 0 * * 5L', '59 23 31 12 6',
];

it('accepts what croniter accepts', (t) => {
  const py = spawnSync('/usr/bin/python3', ['-c', `
import json, sys
import croniter
out = []
for e in json.load(sys.stdin):
    try:
        croniter.croniter(e); out.append(True)
    except Exception:
        out.append(False)
print(json.dumps(out))`], { input: JSON.stringify(EXPRESSIONS), encoding: 'utf8' });
  if (py.status !== 0) {
    t.skip(`python3-croniter is not installed: ${py.stderr.trim().split('\n').at(-1) ?? ''}`);
    return;
  }
  const expected = JSON.parse(py.stdout) as boolean[];
  const actual = EXPRESSIONS.map((e) => {
    try {
      checkCron(e);
      return true;
    } catch {
      return false;
    }
  });
  const differ = EXPRESSIONS.flatMap((e, i) => (expected[i] === actual[i] ? [] : [`${JSON.stringify(e)}: croniter ${expected[i]}, Tally ${actual[i]}`]));
  assert.deepEqual(differ, []);
});
