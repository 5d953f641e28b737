// Parser for Gnocchi's `filter=` query-string syntax (stub, replaced below).
import type { ResourceFilter } from './types.js';

export function parseFilterString(query: string): ResourceFilter {
  void query;
  throw new Error('not implemented');
}
