// One-byte encoding ids. Every blob starts with one so decoders can dispatch and
// formats can evolve. These values are persisted: never renumber, only append.

export const Encoding = {
  /** Uncompressed split: u32 positions, f64 values (raw.ts). */
  RawSplit: 0x01,
  /** Uncompressed measures: i64 ns timestamps, f64 values (raw.ts). */
  RawMeasures: 0x02,
  /** Split: delta-of-delta positions + XOR values. */
  SplitXor: 0x10,
  /** Split: delta-of-delta positions + decimal-scaled integer values. */
  SplitDecimal: 0x11,
  /** Split: delta-of-delta positions + IEEE fields coded apart (ieee.ts). */
  SplitIeee: 0x12,
  /** Split appended to in place: a list of the split blobs above (segmented.ts). */
  SplitSegmented: 0x13,
  /** Split: delta-of-delta positions + values near a decimal divided by an integer (scaled-decimal.ts). */
  SplitScaledDecimal: 0x15,
  /** Measures: delta-of-delta timestamps + XOR values. */
  MeasuresXor: 0x20,
  /** Measures: delta-of-delta timestamps + decimal-scaled integer values. */
  MeasuresDecimal: 0x21,
  /** Measures: delta-of-delta timestamps + IEEE fields coded apart (ieee.ts). */
  MeasuresIeee: 0x22,
  /** Measures: delta-of-delta timestamps + values near a decimal divided by an integer (scaled-decimal.ts). */
  MeasuresScaledDecimal: 0x24,
} as const;
export type Encoding = (typeof Encoding)[keyof typeof Encoding];

/**
 * Most points one blob may hold (1 GiB once decoded). Run-length coding lets a few bytes
 * stand for millions of points, so a decoder cannot bound a blob's point count by its size;
 * this limit bounds what a corrupt or crafted count can make it allocate. Encoders refuse
 * more, so every blob they write stays readable.
 */
export const MAX_POINTS = 2 ** 26;
