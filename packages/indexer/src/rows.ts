// Driver-independent conversions of selected values (see schema.ts for why they vary).

export function toBigInt(v: bigint | string | number): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new RangeError(`integer column returned unsafe number ${v}`);
    return BigInt(v);
  }
  return BigInt(v);
}

export function toBigIntOrNull(v: bigint | string | number | null): bigint | null {
  return v === null ? null : toBigInt(v);
}

export function toNumber(v: bigint | string | number): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`integer column value ${String(v)} does not fit a number`);
  return n;
}

export function toNumberOrNull(v: bigint | string | number | null): number | null {
  return v === null ? null : toNumber(v);
}
