// What the rating API writes and reads on the wire: CloudKitty's naive-UTC ISO instants,
// and JSON whose decimals are written digit for digit (a Decimal becomes a JSON number
// without passing through a binary float).
import { Decimal } from 'decimal.js';

/** µs since the epoch as CloudKitty writes instants: 2024-01-01T00:00:00+00:00. */
export function isoFromUs(us: number): string {
  return `${new Date(Math.floor(us / 1000)).toISOString().slice(0, 19)}+00:00`;
}

/** An ISO 8601 instant (zone optional: UTC) as µs since the epoch; null when it is not one. */
export function usFromIso(text: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const check = new Date(ms);
  if (Number.isNaN(ms) || check.getUTCDate() !== Number(d) || check.getUTCMonth() !== Number(mo) - 1 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return null;
  let offsetMin = 0;
  if (zone && zone !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
    if (!z) return null;
    offsetMin = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3]));
  }
  return (ms - offsetMin * 60_000) * 1000 + Number(frac.padEnd(6, '0') || '0');
}

/** JSON text with Decimals as exact numbers. */
export function jsonText(v: unknown): string {
  if (v instanceof Decimal) return v.isFinite() ? v.toFixed() : 'null';
  if (Array.isArray(v)) return `[${v.map(jsonText).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => `${JSON.stringify(k)}: ${jsonText(x)}`).join(', ')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
