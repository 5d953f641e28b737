// Query-string arguments shared by several routes.
import { badRequest } from './errors.js';

/** A boolean query argument as Gnocchi reads them ("true", "False", "1", "no"...). */
export function parseBool(query: unknown, name: string, dflt: boolean): boolean {
  const v = (query as Record<string, unknown> | undefined)?.[name];
  if (v === undefined) return dflt;
  const s = String(Array.isArray(v) ? v[0] : v).toLowerCase();
  if (['true', '1', 'yes', 'on', 't', 'y'].includes(s)) return true;
  if (['false', '0', 'no', 'off', 'f', 'n'].includes(s)) return false;
  throw badRequest(`Unable to parse \`${name}': invalid truth value '${s}'`);
}
