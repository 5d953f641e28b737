// Bounds on how deeply a client may nest expressions. Parsers and evaluators of nested
// languages recurse; without a bound, a few kilobytes of brackets exhaust the stack.

/** Deepest nesting accepted in the aggregates operations language. */
export const MAX_OPERATIONS_DEPTH = 64;

/** Nesting depth of a JSON value (arrays and objects), computed without recursion. */
export function jsonDepth(v: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length) {
    const [x, d] = stack.pop() as [unknown, number];
    if (typeof x !== 'object' || x === null) continue;
    max = Math.max(max, d + 1);
    if (max > 10_000) return max; // enough to refuse; stop walking a hostile body
    for (const c of Array.isArray(x) ? x : Object.values(x)) stack.push([c, d + 1]);
  }
  return max;
}

/** Deepest parenthesis nesting of an operations string. */
export function parenDepth(s: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) === 40) max = Math.max(max, ++depth);
    else if (s.charCodeAt(i) === 41) depth--;
  }
  return max;
}

export function operationsDepth(raw: unknown): number {
  return typeof raw === 'string' ? parenDepth(raw) : jsonDepth(raw);
}
