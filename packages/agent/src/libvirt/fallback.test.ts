// Which groups a bulk record lacks, which per-domain calls stand in for them, and what a
// driver's refusal of one of those calls leads to; the calls themselves against the real
// daemon and virsh are in libvirtd.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, LibvirtClient, LibvirtConnectionError, LibvirtError } from './client.js';
import type { DomainDescription } from './domain-xml.js';
import { DomainFallback, groupsPresent, planFallback, runFallbackCall } from './fallback.js';
import type { FallbackCall } from './fallback.js';
import { Procedure, StatsGroup } from './rpc.js';
import type { TypedParam } from './rpc.js';

const ALL = StatsGroup.STATE | StatsGroup.CPU_TOTAL | StatsGroup.BALLOON | StatsGroup.VCPU | StatsGroup.INTERFACE | StatsGroup.BLOCK;
const NO_STATE = ALL & ~StatsGroup.STATE;
const domain = { name: 'instance-00000003', uuid: '6695eb01-f6a4-8304-79aa-97f2502e193f', id: 3 };
const description: DomainDescription = {
  nova: null,
  interfaces: new Map([
    ['tap1', { dev: 'tap1', mac: 'fa:16:3e:00:00:01', filter: null }],
    ['tap2', { dev: 'tap2', mac: 'fa:16:3e:00:00:02', filter: 'f' }],
  ]),
  disks: [{ dev: 'vda', source: '/d/disk' }, { dev: 'sda', source: null }, { dev: 'vdb', source: 'pool/img' }],
};
const stateOnly: TypedParam[] = [{ field: 'state.state', type: 1, value: 1 }, { field: 'state.reason', type: 1, value: 0 }];
const qemuLike: TypedParam[] = [
  ...stateOnly, { field: 'cpu.time', type: 4, value: 1n }, { field: 'balloon.current', type: 4, value: 1n },
  { field: 'vcpu.current', type: 2, value: 1 }, { field: 'net.count', type: 2, value: 0 }, { field: 'block.count', type: 2, value: 0 },
];

function plan(missing: number, wants: (m: string) => boolean, state = new DomainFallback(), unsupported = new Set<number>()):
  { out: TypedParam[]; calls: FallbackCall[] } {
  const out: TypedParam[] = [];
  const calls: FallbackCall[] = [];
  planFallback({ domain, description, missing, state, wants, unsupported }, out, calls);
  return { out, calls };
}

test('a group is present when the record has a field of it; a count of zero devices is presence', () => {
  assert.equal(groupsPresent(stateOnly, ALL), StatsGroup.STATE);
  assert.equal(groupsPresent(qemuLike, ALL), ALL);
  assert.equal(groupsPresent(qemuLike, StatsGroup.BLOCK | StatsGroup.VCPU), StatsGroup.BLOCK | StatsGroup.VCPU);
  assert.equal(groupsPresent([{ field: 'cpu.user', type: 4, value: 1n }], StatsGroup.CPU_TOTAL | StatsGroup.VCPU), StatsGroup.CPU_TOTAL);
  assert.equal(groupsPresent([], ALL), 0);
});

test('what a domain\'s record lacks is found on first sight and kept; groups asked later are checked then', () => {
  const f = new DomainFallback();
  assert.equal(f.missing(stateOnly, StatsGroup.STATE | StatsGroup.BLOCK), StatsGroup.BLOCK);
  // Not looked at again: the records of a driver do not change shape from cycle to cycle.
  assert.equal(f.missing(qemuLike, StatsGroup.STATE | StatsGroup.BLOCK), StatsGroup.BLOCK);
  assert.equal(f.missing(qemuLike, StatsGroup.STATE | StatsGroup.BLOCK | StatsGroup.VCPU), StatsGroup.BLOCK);
  assert.equal(f.missing(stateOnly, StatsGroup.STATE), 0, 'only groups asked are reported');
  assert.equal(new DomainFallback().missing(qemuLike, ALL), 0);
});

test('every wanted meter of a state-only record is planned: devices from the XML, one call per device', () => {
  const { out, calls } = plan(NO_STATE, () => true);
  assert.deepEqual(calls.map((c) => [c.key, c.procedure]), [
    ['info', Procedure.DOMAIN_GET_INFO],
    ['memory', Procedure.DOMAIN_MEMORY_STATS],
    ['block-stats vda', Procedure.DOMAIN_BLOCK_STATS], ['block-info vda', Procedure.DOMAIN_GET_BLOCK_INFO],
    ['block-stats vdb', Procedure.DOMAIN_BLOCK_STATS], ['block-info vdb', Procedure.DOMAIN_GET_BLOCK_INFO],
    ['interface tap1', Procedure.DOMAIN_INTERFACE_STATS], ['interface tap2', Procedure.DOMAIN_INTERFACE_STATS],
  ]);
  assert.ok(calls.every((c) => c.out === out && c.domain === domain));
  // The CD-ROM drive without a source is left out, as the bulk statistics leave its path out.
  assert.deepEqual(out.map((p) => [p.field, p.value]), [
    ['block.count', 2], ['block.0.name', 'vda'], ['block.0.path', '/d/disk'], ['block.1.name', 'vdb'], ['block.1.path', 'pool/img'],
    ['net.count', 2], ['net.0.name', 'tap1'], ['net.1.name', 'tap2'],
  ]);
});

test('only the calls the wanted meters need are planned', () => {
  const keys = (missing: number, wants: (m: string) => boolean): string[] => plan(missing, wants).calls.map((c) => c.key);
  assert.deepEqual(keys(ALL, (m) => m === 'power.state'), ['info'], 'state missing: from the domain info');
  assert.deepEqual(keys(NO_STATE, (m) => m === 'power.state'), []);
  assert.deepEqual(keys(NO_STATE, (m) => m === 'cpu'), ['info']);
  assert.deepEqual(keys(StatsGroup.VCPU, (m) => m === 'cpu'), [], 'cpu.time of the bulk record serves cpu');
  assert.deepEqual(keys(StatsGroup.VCPU, (m) => m === 'vcpus'), ['info']);
  assert.deepEqual(keys(NO_STATE, (m) => m === 'memory.resident'), ['memory']);
  assert.deepEqual(keys(NO_STATE, (m) => m === 'disk.device.write.requests'), ['block-stats vda', 'block-stats vdb']);
  assert.deepEqual(keys(NO_STATE, (m) => m === 'disk.device.allocation'), ['block-info vda', 'block-info vdb']);
  assert.deepEqual(keys(NO_STATE, (m) => m === 'network.outgoing.packets.drop'), ['interface tap1', 'interface tap2']);
  assert.deepEqual(keys(StatsGroup.BLOCK, (m) => m.startsWith('network.')), [], 'the interface group is there');
  assert.deepEqual(plan(StatsGroup.BLOCK, (m) => m.startsWith('network.')).out, []);
});

test('refused calls and procedures the driver lacks are not planned', () => {
  const state = new DomainFallback();
  state.refused.add('block-info vdb');
  state.refused.add('interface tap1');
  const { calls } = plan(NO_STATE, () => true, state, new Set([Procedure.DOMAIN_MEMORY_STATS]));
  assert.deepEqual(calls.map((c) => c.key), ['info', 'block-stats vda', 'block-info vda', 'block-stats vdb', 'interface tap2']);
});

test('a driver error skips the call (for the domain, or for the driver when it lacks the procedure); other errors end the cycle', async () => {
  // The client is never reached: each call below fails on its own with what the client throws.
  const client = new LibvirtClient({ socketPath: '/nonexistent/libvirt-sock', uri: 'test:///default' });
  const refusal = (code: number): LibvirtError => new LibvirtError(Procedure.DOMAIN_INTERFACE_STATS, {
    code, domain: 12, message: 'refused', level: 2, str1: null, str2: null, str3: null, int1: 0, int2: 0,
  });
  const logs: string[] = [];
  const log = (level: string, message: string): void => void logs.push(`${level} ${message}`);
  const signal = new AbortController().signal;
  const call = (state: DomainFallback, err: Error, procedure: number = Procedure.DOMAIN_INTERFACE_STATS): FallbackCall =>
    ({ key: 'interface tap1', procedure, domain, state, out: [], read: () => Promise.reject(err) });
  const unsupported = new Set<number>();

  const gone = new DomainFallback();
  await runFallbackCall(call(gone, refusal(ErrorCode.NO_DOMAIN)), client, signal, unsupported, log);
  await runFallbackCall(call(gone, refusal(ErrorCode.OPERATION_INVALID)), client, signal, unsupported, log);
  assert.deepEqual([...gone.refused], [], 'a domain gone or stopped since the bulk call is asked again next cycle');
  assert.deepEqual(logs.map((l) => l.split(' ')[0]), ['debug', 'debug']);

  logs.length = 0;
  const refused = new DomainFallback();
  await runFallbackCall(call(refused, refusal(8)), client, signal, unsupported, log);
  assert.deepEqual([...refused.refused], ['interface tap1']);
  assert.equal(logs.length, 1);
  assert.match(logs[0], /^warn /);

  logs.length = 0;
  const a = new DomainFallback();
  const b = new DomainFallback();
  await runFallbackCall(call(a, refusal(ErrorCode.NO_SUPPORT)), client, signal, unsupported, log);
  await runFallbackCall(call(b, refusal(ErrorCode.NO_SUPPORT)), client, signal, unsupported, log);
  assert.deepEqual([...unsupported], [Procedure.DOMAIN_INTERFACE_STATS]);
  assert.equal(logs.length, 1, 'logged once for the driver');
  assert.deepEqual([...a.refused, ...b.refused], []);

  await assert.rejects(runFallbackCall(call(new DomainFallback(), new LibvirtConnectionError('closed'), Procedure.DOMAIN_GET_INFO),
    client, signal, unsupported, log), LibvirtConnectionError);
  await client.close();
});
