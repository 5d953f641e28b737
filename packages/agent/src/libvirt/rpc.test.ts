import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FrameDecoder, HEADER_SIZE, KEEPALIVE_PING, KEEPALIVE_PROGRAM, MESSAGE_MAX, MemoryStatTag, MessageStatus, MessageType, Procedure,
  REMOTE_PROGRAM, RpcProtocolError, decodePacket, decodePayload, encodePacket, readBlockInfoRet, readBlockStatsRet,
  readDomainInfoRet, readGetAllDomainStatsRet, readInterfaceStatsRet, readMemoryStatsRet, readRemoteError, readTypedParam,
  uuidFromString, uuidToString, writeBlockInfoRet, writeBlockStatsRet, writeDomainInfoRet, writeDomainStatsRecord,
  writeInterfaceStatsRet, writeMemoryStatsArgs, writeMemoryStatsRet, writeRemoteError, writeTypedParam,
} from './rpc.js';
import type {
  BlockInfo, BlockStats, DomainInfo, DomainStatsRecord, Header, InterfaceStats, MemoryStat, RemoteError, TypedParam,
} from './rpc.js';
import { XdrError, XdrReader, XdrWriter } from './xdr.js';

const header = (serial: number, procedure: number = Procedure.CONNECT_LIST_ALL_DOMAINS): Header => ({
  program: REMOTE_PROGRAM, version: 1, procedure, type: MessageType.REPLY, serial, status: MessageStatus.OK,
});

test('a packet is its length (itself included), the 24-byte header, then the payload', () => {
  const p = encodePacket({ program: KEEPALIVE_PROGRAM, version: 1, procedure: KEEPALIVE_PING, type: MessageType.MESSAGE, serial: 0, status: 0 });
  assert.equal(Buffer.from(p).toString('hex'), '0000001c' + '6b656570' + '00000001' + '00000001' + '00000002' + '00000000' + '00000000');
  const q = encodePacket(header(7), new Uint8Array([1, 2, 3, 4]));
  assert.equal(q.length, 4 + HEADER_SIZE + 4);
  const back = decodePacket(q);
  assert.deepEqual(back.header, header(7));
  assert.deepEqual([...back.payload], [1, 2, 3, 4]);
  assert.throws(() => decodePacket(q.subarray(0, 20)), RpcProtocolError);
  assert.throws(() => decodePacket(q.subarray(0, 30)), RpcProtocolError);
});

test('the frame decoder returns whole messages whatever the chunking', () => {
  const messages = [
    encodePacket(header(1), new Uint8Array(0)),
    encodePacket(header(2), new Uint8Array(1000).fill(7)),
    encodePacket(header(3), new Uint8Array([5, 6, 7, 8])),
  ];
  const stream = Buffer.concat(messages);
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 12 }), (cuts) => {
    const points = [...new Set(cuts)].sort((a, b) => a - b);
    const d = new FrameDecoder();
    const got: Uint8Array[] = [];
    let at = 0;
    for (const p of [...points, stream.length]) {
      got.push(...d.push(stream.subarray(at, p)));
      at = p;
    }
    assert.equal(got.length, 3);
    got.forEach((m, i) => assert.deepEqual(Buffer.from(m), Buffer.from(messages[i])));
    assert.equal(d.buffered, 0);
  }));
  // One byte at a time.
  const d = new FrameDecoder();
  const got: Uint8Array[] = [];
  for (let i = 0; i < stream.length; i++) got.push(...d.push(stream.subarray(i, i + 1)));
  assert.deepEqual(got.map((m) => decodePacket(m).header.serial), [1, 2, 3]);
});

test('the frame decoder refuses lengths no libvirt message has, before buffering them', () => {
  const small = new Uint8Array([0, 0, 0, 27]);
  assert.throws(() => new FrameDecoder().push(small), RpcProtocolError);
  const huge = new Uint8Array([0xff, 0xff, 0xff, 0xff]);
  assert.throws(() => new FrameDecoder().push(huge), RpcProtocolError);
  const justOver = new XdrWriter().u32(MESSAGE_MAX + 5).bytes();
  assert.throws(() => new FrameDecoder().push(justOver), RpcProtocolError);
  // The largest allowed length is accepted as a promise of bytes to come.
  const d = new FrameDecoder();
  assert.deepEqual(d.push(new XdrWriter().u32(MESSAGE_MAX + 4).bytes()), []);
});

test('remote_error round-trips, with and without its optional strings', () => {
  const errs: RemoteError[] = [
    { code: 42, domain: 10, message: "Domain not found: no domain with matching uuid 'x'", level: 2, str1: 'a', str2: null, str3: 'c', int1: -1, int2: 3 },
    { code: 1, domain: 7, message: null, level: 2, str1: null, str2: null, str3: null, int1: 0, int2: 0 },
  ];
  for (const e of errs) {
    const w = new XdrWriter();
    writeRemoteError(w, e);
    assert.deepEqual(decodePayload(w.bytes(), readRemoteError, 'err'), e);
  }
});

test('typed parameters of every type round-trip; 64-bit ones are exact bigints', () => {
  const params: TypedParam[] = [
    { field: 'state.state', type: 1, value: -5 },
    { field: 'vcpu.current', type: 2, value: 0xffffffff },
    { field: 'x.llong', type: 3, value: -(2n ** 63n) },
    { field: 'block.0.rd.bytes', type: 4, value: 2n ** 64n - 1n },
    { field: 'cpu.ratio', type: 5, value: 0.1 },
    { field: 'flag', type: 6, value: true },
    { field: 'net.0.name', type: 7, value: 'vnet0' },
  ];
  for (const p of params) {
    const w = new XdrWriter();
    writeTypedParam(w, p);
    assert.deepEqual(decodePayload(w.bytes(), readTypedParam, 'param'), p);
  }
  const bad = new XdrWriter().string('f', 10).i32(8).u32(0).bytes();
  assert.throws(() => readTypedParam(new XdrReader(bad)), (e: unknown) => e instanceof XdrError && e.kind === 'invalid');
});

test('bulk statistics replies round-trip and UUIDs keep their canonical form', () => {
  const uuid = '6695eb01-f6a4-8304-79aa-97f2502e193f';
  assert.equal(uuidToString(uuidFromString(uuid)), uuid);
  assert.throws(() => uuidFromString('not-a-uuid'), RangeError);
  const recs: DomainStatsRecord[] = [
    { domain: { name: 'test', uuid, id: 1 }, params: [{ field: 'state.state', type: 1, value: 1 }, { field: 'cpu.time', type: 4, value: 123n }] },
    { domain: { name: 'off', uuid: '00000000-0000-0000-0000-000000000001', id: -1 }, params: [] },
  ];
  const w = new XdrWriter();
  w.array(recs, 16384, writeDomainStatsRecord);
  assert.deepEqual(decodePayload(w.bytes(), readGetAllDomainStatsRet, 'stats'), recs);
});

test('the per-domain statistics replies: widened char and short, signed counters, memory tags', () => {
  const info: DomainInfo = { state: 3, maxMemKiB: 2097152n, memoryKiB: 1048576n, nrVirtCpu: 4, cpuTime: 2n ** 63n + 5n };
  const w = new XdrWriter();
  writeDomainInfoRet(w, info);
  // state and nrVirtCpu take 4 bytes each: 4 + 8 + 8 + 4 + 8.
  assert.equal(Buffer.from(w.bytes()).toString('hex'),
    '00000003' + '0000000000200000' + '0000000000100000' + '00000004' + '8000000000000005');
  assert.deepEqual(decodePayload(w.bytes(), readDomainInfoRet, 'info'), info);
  const badState = new XdrWriter();
  writeDomainInfoRet(badState, { ...info, state: 256 });
  assert.throws(() => decodePayload(badState.bytes(), readDomainInfoRet, 'info'), RpcProtocolError);

  const block: BlockStats = { rdReq: 1n, rdBytes: 2n ** 62n, wrReq: -1n, wrBytes: 0n, errs: -1n };
  const bw = new XdrWriter();
  writeBlockStatsRet(bw, block);
  assert.equal(bw.length, 40);
  assert.deepEqual(decodePayload(bw.bytes(), readBlockStatsRet, 'block'), block);

  const net: InterfaceStats = { rxBytes: 1n, rxPackets: 2n, rxErrs: -1n, rxDrop: 4n, txBytes: 5n, txPackets: 6n, txErrs: 7n, txDrop: -1n };
  const nw = new XdrWriter();
  writeInterfaceStatsRet(nw, net);
  assert.equal(nw.length, 64);
  assert.deepEqual(decodePayload(nw.bytes(), readInterfaceStatsRet, 'net'), net);

  const sizes: BlockInfo = { allocation: 1n, capacity: 2n ** 64n - 1n, physical: 3n };
  const iw = new XdrWriter();
  writeBlockInfoRet(iw, sizes);
  assert.deepEqual(decodePayload(iw.bytes(), readBlockInfoRet, 'blockinfo'), sizes);

  const mem: MemoryStat[] = [{ tag: MemoryStatTag.AVAILABLE, value: 1048576n }, { tag: MemoryStatTag.RSS, value: 524288n }, { tag: 99, value: 0n }];
  const mw = new XdrWriter();
  writeMemoryStatsRet(mw, mem);
  assert.deepEqual(decodePayload(mw.bytes(), readMemoryStatsRet, 'mem'), mem);
  assert.deepEqual(decodePayload(new XdrWriter().u32(0).bytes(), readMemoryStatsRet, 'mem'), []);
  const tooMany = new XdrWriter().u32(1025).bytes();
  assert.throws(() => decodePayload(tooMany, readMemoryStatsRet, 'mem'), RpcProtocolError);
  assert.throws(() => writeMemoryStatsArgs(new XdrWriter(), { name: 'd', uuid: '6695eb01-f6a4-8304-79aa-97f2502e193f', id: 1 }, 1025, 0), RangeError);
});

test('random and mutated payloads end in a typed error or a value, never a hang or another error', () => {
  const w = new XdrWriter();
  w.array([{ domain: { name: 'd', uuid: '6695eb01-f6a4-8304-79aa-97f2502e193f', id: 3 }, params: [
    { field: 'block.0.name', type: 7, value: 'vda' }, { field: 'block.0.rd.bytes', type: 4, value: 99n },
  ] } satisfies DomainStatsRecord], 16384, writeDomainStatsRecord);
  const valid = w.bytes().slice();
  const mutated = fc.tuple(fc.integer({ min: 0, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 }))
    .map(([i, b]) => { const c = valid.slice(); c[i] = b; return c; });
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated), (bytes) => {
    try {
      decodePayload(bytes, readGetAllDomainStatsRet, 'stats');
    } catch (err) {
      assert.ok(err instanceof RpcProtocolError, String(err));
      assert.ok((err as Error).cause instanceof XdrError);
    }
  }), { numRuns: 2000 });
});
