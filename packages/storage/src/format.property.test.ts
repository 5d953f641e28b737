import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import { CorruptStorageError } from './errors.js';
import { decodeManifest, decodeSplit, encodeManifest, encodeSplitHeader, type Manifest, type SplitRef } from './format.js';

const hexDigits = (n: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
const batchId = fc.tuple(hexDigits(12), hexDigits(8), hexDigits(12)).map((p) => p.join('-'));
/** Well-formed Unicode (a lone surrogate has no UTF-8 form, so no format can keep it). */
const text = fc.string({ unit: 'grapheme', maxLength: 24 });
const appliedId = fc.oneof(batchId, text, fc.array(hexDigits(2), { minLength: 1, maxLength: 4 }).map((g) => g.join('-')));
const splitFile = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 999_999_999_999_999 }), hexDigits(8), fc.integer({ min: 0, max: 999_999_999_999_999 })).map(([g, n, i]) => `${g}-${n}-${i}.split`),
  text,
);

const packFile = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 999_999_999_999_999 }), hexDigits(8)).map(([g, n]) => `${g}-${n}.pack`),
  text,
);
const fileRef = splitFile.map((file): SplitRef => ({ file, offset: 0, length: -1 }));
const packRef = (packs: string[]): fc.Arbitrary<SplitRef> =>
  fc.tuple(fc.constantFrom(...packs), fc.maxSafeNat(), fc.maxSafeNat()).map(([file, offset, length]) => ({ file, offset, length }));

const anyManifest: fc.Arbitrary<Manifest> = fc.uniqueArray(packFile, { maxLength: 5 }).chain((packs) => fc.record({
  gen: fc.maxSafeNat(),
  state: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: null }),
  applied: fc.uniqueArray(appliedId, { maxLength: 30 }).map((a) => new Set(a)),
  splits: fc.uniqueArray(fc.tuple(text, packs.length > 0 ? fc.oneof(fileRef, packRef(packs)) : fileRef), { maxLength: 20, selector: ([k]) => k })
    .map((a) => new Map(a)),
  packs: fc.array(fc.maxSafeNat(), { minLength: packs.length, maxLength: packs.length }).map((sizes) => new Map(packs.map((p, i) => [p, sizes[i]]))),
}));

test('manifests: any generation, state, applied ids, packs and split refs round-trip', () => {
  fc.assert(
    fc.property(anyManifest, (m) => {
      const back = decodeManifest(encodeManifest(m), 'm');
      assert.equal(back.gen, m.gen);
      assert.deepEqual(back.state, m.state);
      assert.deepEqual(back.applied, m.applied);
      assert.deepEqual(back.splits, m.splits);
      assert.deepEqual(back.packs, m.packs);
    }),
    { numRuns: 300 },
  );
});

/** A manifest file with `body` after the fixed header, its CRC made right (so the layout checks are what is tested). */
function sealed(version: number, body: Uint8Array): Buffer {
  const b = Buffer.alloc(12 + body.length);
  b.writeUInt32LE(0x4d594c54, 0);
  b.writeUInt32LE(version, 4);
  b.set(body, 12);
  b.writeUInt32LE(version >= 4 ? crc32(b.subarray(12), crc32(b.subarray(4, 8))) : crc32(b.subarray(12)), 8);
  return b;
}

function decodesOrCorrupt(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof CorruptStorageError)) throw err;
  }
}

test('manifests: arbitrary and mutated bodies with a matching CRC decode or throw CorruptStorageError', () => {
  const valid = encodeManifest({
    gen: 12,
    state: Uint8Array.of(2, 9, 9),
    applied: new Set(['00018f0000aa-00000001-0000abcd1234', '00018f0000ab-00000002-0000abcd1234', 'x', 'ab-cd']),
    splits: new Map([
      ['mean_1_0', { file: '12-0a0b0c0d-0.split', offset: 0, length: -1 }],
      ['mean_1_3600', { file: 'odd name', offset: 0, length: -1 }],
      ['mean_1_7200', { file: '12-0a0b0c0d.pack', offset: 10, length: 30 }],
    ]),
    packs: new Map([['12-0a0b0c0d.pack', 40]]),
  }).subarray(12);
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 80 }),
    fc.tuple(fc.nat({ max: valid.length }), fc.uint8Array({ maxLength: 8 }), fc.nat({ max: 8 })).map(([at, ins, del]) =>
      Uint8Array.from([...valid.subarray(0, at), ...ins, ...valid.subarray(Math.min(valid.length, at + del))]),
    ),
  );
  const json = fc.oneof(fc.json(), fc.jsonValue().map((v) => JSON.stringify({ gen: v, hasState: v, applied: v, splits: v })), fc.string());
  const v1 = json.map((j) => {
    const t = Buffer.from(j, 'utf8');
    const b = Buffer.alloc(4 + t.length);
    b.writeUInt32LE(t.length, 0);
    b.set(t, 4);
    return b;
  });
  fc.assert(
    fc.property(fc.oneof(fc.tuple(fc.constantFrom(2, 3, 4, 5), body), fc.tuple(fc.constant(1), fc.oneof(v1, body))), ([version, b]) => {
      decodesOrCorrupt(() => decodeManifest(sealed(version, b), 'm'));
    }),
    { numRuns: 500 },
  );
});

test('manifests: any byte flip or truncation of a real manifest is caught', () => {
  const m = encodeManifest({
    gen: 3, state: Uint8Array.of(1, 2), applied: new Set(['a']),
    splits: new Map([['k', { file: '3-00000000-0.split', offset: 0, length: -1 }], ['j', { file: '3-00000000.pack', offset: 0, length: 9 }]]),
    packs: new Map([['3-00000000.pack', 9]]),
  });
  fc.assert(
    fc.property(fc.nat({ max: m.length - 1 }), fc.integer({ min: 1, max: 255 }), fc.nat({ max: m.length }), (at, x, cut) => {
      const flipped = Buffer.from(m);
      flipped[at] ^= x;
      // The CRC covers the version too: no flip makes another layout read these bytes.
      assert.throws(() => decodeManifest(flipped, 'm'), CorruptStorageError);
      if (cut < m.length) assert.throws(() => decodeManifest(m.subarray(0, cut), 'm'), CorruptStorageError);
    }),
    { numRuns: 300 },
  );
});

test('manifest version 1: JSON of the wrong shape is CorruptStorageError (was a TypeError or SyntaxError)', () => {
  const v1 = (j: string): Buffer => {
    const t = Buffer.from(j);
    const b = Buffer.alloc(4 + t.length);
    b.writeUInt32LE(t.length, 0);
    b.set(t, 4);
    return sealed(1, b);
  };
  const good = decodeManifest(v1('{"gen":4,"hasState":false,"applied":["a"],"splits":[["k","f"]]}'), 'm');
  assert.deepEqual(good, { gen: 4, state: null, applied: new Set(['a']), splits: new Map([['k', { file: 'f', offset: 0, length: -1 }]]), packs: new Map() });
  for (const j of ['{', 'null', '{"gen":1,"hasState":false,"applied":7,"splits":[]}', '{"gen":1,"hasState":false,"applied":[],"splits":[1]}', '{"gen":"x","hasState":false,"applied":[],"splits":[]}']) {
    assert.throws(() => decodeManifest(v1(j), 'm'), CorruptStorageError, j);
  }
});

test('split files: any payload round-trips; arbitrary and damaged files are CorruptStorageError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 16 }), fc.nat(), (payload, junk, at) => {
      const file = Buffer.concat([encodeSplitHeader(payload), payload]);
      assert.deepEqual(new Uint8Array(decodeSplit(file, 's')), payload);
      decodesOrCorrupt(() => decodeSplit(Buffer.from(junk), 's'));
      const damaged = Buffer.from(file);
      damaged[at % damaged.length] ^= 0x10;
      assert.throws(() => decodeSplit(damaged, 's'), CorruptStorageError);
    }),
    { numRuns: 300 },
  );
});
