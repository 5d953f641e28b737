// Gnocchi writes its answers with Python's json module, which prints non-finite floats as
// the bare tokens NaN, Infinity and -Infinity (aggregates with fill=null, divisions by
// zero). JSON.parse rejects them, so such bodies are read here: the tokens outside strings
// become marker strings that a reviver turns back into numbers. Bodies without them (nearly
// all) take JSON.parse alone.

export type JsonScalar = string | number | boolean | null;
export type JsonValue = JsonScalar | JsonValue[] | { [key: string]: JsonValue };

// Characters that cannot occur in a JSON string written by Python (raw control characters
// are always escaped), so a marker cannot collide with real data.
const MARK = '\u0001pyfloat\u0001';
/** The marker as written inside a JSON string literal. */
const MARK_JSON = '\\u0001pyfloat\\u0001';
const MARKED: Record<string, number> = { [`${MARK}NaN`]: NaN, [`${MARK}Infinity`]: Infinity, [`${MARK}-Infinity`]: -Infinity };

function markNonFinite(text: string): string {
  let out = '';
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    for (const token of ['NaN', 'Infinity', '-Infinity']) {
      if (text.startsWith(token, i)) {
        out += `${text.slice(last, i)}"${MARK_JSON}${token}"`;
        i += token.length - 1;
        last = i + 1;
        break;
      }
    }
  }
  return out + text.slice(last);
}

/** Parses a JSON body as Python writes it; throws SyntaxError when it is not JSON. */
export function parsePythonJson(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (e) {
    if (!/NaN|Infinity/.test(text)) throw e;
  }
  return JSON.parse(markNonFinite(text), (_key, value: unknown) =>
    typeof value === 'string' && value.startsWith(MARK) ? (MARKED[value] ?? value) : value) as JsonValue;
}
