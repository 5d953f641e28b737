import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { AgentConfigError, meterMatcher, parseAgentConfig } from './config.js';

const base = (source: string): string => `sources:\n  - name: s\n    interval: 60\n    pollster: host\n${source}`;

test('a polling.yaml source with Tally\'s keys is read with its defaults', () => {
  const c = parseAgentConfig(`---
sources:
  - name: compute
    interval: 300
    pollster: libvirt
    meters: ["*"]
    options: { uri: "qemu:///system" }
  - name: host
    interval: 30
    timeout: 2.5
    pollster: host
    archive_policy: ceilometer-high
    meters: ["!hardware.cpu.time.*"]
buffer_max_bytes: 1048576
`, '/etc/tally/polling.yaml');
  assert.equal(c.dir, '/etc/tally');
  assert.equal(c.bufferMaxBytes, 1048576);
  assert.equal(c.healthInterval, 60);
  assert.equal(c.publishRetryMax, 60);
  const [compute, host] = c.sources;
  assert.deepEqual({ ...compute, wants: undefined }, {
    name: 'compute', interval: 300, meters: ['*'], pollster: 'libvirt', options: { uri: 'qemu:///system' }, timeout: 300, archivePolicy: null, wants: undefined,
  });
  assert.equal(host.timeout, 2.5);
  assert.equal(host.archivePolicy, 'ceilometer-high');
  assert.equal(host.wants('hardware.cpu.time.user'), false);
  assert.equal(host.wants('hardware.cpu.util'), true);
});

test('configuration errors name the file, the source and the key', () => {
  const cases: [string, RegExp][] = [
    ['    meters: ["cpu", "!disk.*"]\n', /f\.yaml: source "s": meters: both included and excluded meters specified/],
    ['    meters: ["*", "cpu"]\n', /source "s": meters: included meters specified with wildcard/],
    ['    meters: []\n', /source "s": meters: no meters specified/],
    ['    meters: ["*"]\n    resources: [snmp://x]\n', /source "s": resources is not supported/],
    ['    meters: ["*"]\n    intervall: 3\n', /source "s": unknown key "intervall" \(known: name, interval/],
    ['    meters: ["*"]\n    timeout: -1\n', /source "s": timeout must be a positive number, got -1/],
    ['    meters: ["*"]\n    options: [1]\n', /source "s": options must be a mapping/],
  ];
  for (const [extra, re] of cases) {
    assert.throws(() => parseAgentConfig(base(extra), 'f.yaml'), (e: unknown) => e instanceof AgentConfigError && re.test(e.message), extra);
  }
  assert.throws(() => parseAgentConfig('sources:\n  - name: s\n    interval: 0.5\n    pollster: host\n    meters: ["*"]\n', 'f.yaml'), /source "s": interval must be a positive integer/);
  assert.throws(() => parseAgentConfig('sources:\n  - name: s\n    interval: 5\n    meters: ["*"]\n', 'f.yaml'), /source "s": pollster is required/);
  assert.throws(() => parseAgentConfig('sources:\n  - {name: a, interval: 5, pollster: host, meters: ["*"]}\n  - {name: a, interval: 5, pollster: host, meters: ["*"]}\n', 'f.yaml'), /source "a": name is used by another source/);
  assert.throws(() => parseAgentConfig('sources: [', 'f.yaml'), /f\.yaml: not valid YAML/);
  assert.throws(() => parseAgentConfig('sources: []\n', 'f.yaml'), /f\.yaml: sources must be a non-empty list/);
  assert.throws(() => parseAgentConfig(base('    meters: ["*"]\npublish_retry_max: 0\n'), 'f.yaml'), /f\.yaml: publish_retry_max must be a positive number, got 0/);
  assert.throws(() => parseAgentConfig(base('    meters: ["*"]\npublish_retry_max: 3601\n'), 'f.yaml'), /f\.yaml: publish_retry_max must be at most 3600 \(seconds\), got 3601/);
});

test('publish_retry_max bounds the wait between two tries while the store is away, fractions allowed', () => {
  assert.equal(parseAgentConfig(base('    meters: ["*"]\npublish_retry_max: 2.5\n')).publishRetryMax, 2.5);
  assert.equal(parseAgentConfig(base('    meters: ["*"]\npublish_retry_max: 3600\n')).publishRetryMax, 3600);
});

const CEILOMETER_PYTHON = '/usr/bin/python3';

test("meter patterns select what Ceilometer's own Source.is_supported selects", (t) => {
  const lists = [['*'], ['!*'], ['hardware.*'], ['!hardware.cpu.*'], ['!disk.*', '!cpu'], ['cpu', 'disk.*.bytes'],
    ['disk.device.read.[rb]*'], ['memory.?sage'], ['*', '!cpu*'], ['CPU'], ['disk.[!d]*']];
  const meters = ['cpu', 'cpu_util', 'CPU', 'disk.read.bytes', 'disk.device.read.bytes', 'disk.device.read.requests', 'memory.usage',
    'hardware.cpu.util', 'hardware.memory.used', 'network.incoming.bytes'];
  const script = `
import json, sys
from ceilometer.agent import Source
lists, meters = json.load(sys.stdin)
print(json.dumps([[Source.is_supported(l, m) for m in meters] for l in lists]))`;
  const r = spawnSync(CEILOMETER_PYTHON, ['-c', script], { input: JSON.stringify([lists, meters]), encoding: 'utf8' });
  if (r.status !== 0) {
    t.skip(`Debian's ceilometer is not importable (${r.stderr.trim().split('\n').at(-1)}): scripts/install-debian-deps installs ceilometer-polling`);
    return;
  }
  const expected = JSON.parse(r.stdout) as boolean[][];
  const got = lists.map((l) => { const w = meterMatcher(l); return meters.map((m) => w(m)); });
  assert.deepEqual(got, expected);
});
