/**
 * Bytes given to a decoder are not a valid encoding: corrupted, truncated, or not a blob of
 * this format at all. Decoders throw only this for bad input, never an error from deep
 * inside (a typed-array length, a DataView offset), so callers can tell damaged data from
 * a bug. Encoders given unencodable input (mismatched lengths, a position out of range)
 * throw RangeError instead: that is the caller's mistake, not the data's.
 */
export class CorruptDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CorruptDataError';
  }
}
