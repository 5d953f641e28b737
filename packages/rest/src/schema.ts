// A small validator whose error messages follow voluptuous, the library Gnocchi validates
// request bodies with. Gnocchi clients and its test suites match those messages
// ("extra keys not allowed @ data['x']"), so matching them is part of API compatibility;
// no JSON-schema library produces them, hence this file.
import { invalidInput, type HttpError } from './errors.js';

export type PathItem = string | number;

export class Invalid extends Error {
  constructor(readonly msg: string, readonly path: PathItem[] = [], readonly dictValue = false) {
    super(msg);
  }
  reason(): string {
    if (this.path.length === 0) return this.msg;
    const where = this.path.map((p) => (typeof p === 'number' ? `[${p}]` : `['${p}']`)).join('');
    return `${this.msg}${this.dictValue ? ' for dictionary value' : ''} @ data${where}`;
  }
  toHttp(): HttpError {
    return invalidInput(this.reason(), this.path.map(String));
  }
}

export type Validator<T> = (value: unknown) => T;

function under(key: PathItem, e: unknown, isDictValue: boolean): never {
  if (e instanceof Invalid) {
    const direct = e.path.length === 0;
    throw new Invalid(e.msg, [key, ...e.path], direct ? isDictValue : e.dictValue);
  }
  throw e;
}

export interface Field<T> {
  v: Validator<T>;
  required?: boolean;
}

type Shape = Record<string, Field<unknown>>;
type Out<S extends Shape> = {
  [K in keyof S]: S[K] extends Field<infer T> ? (S[K]['required'] extends true ? T : T | undefined) : never;
};

export function req<T>(v: Validator<T>): Field<T> & { required: true } {
  return { v, required: true };
}
export function opt<T>(v: Validator<T>): Field<T> & { required?: false } {
  return { v };
}

/** A dict with known keys; unknown keys are refused unless `extra` is true. */
export function object<S extends Shape>(shape: S, opts: { extra?: boolean } = {}): Validator<Out<S>> {
  return (value: unknown) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Invalid('expected a dictionary');
    const input = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    if (!opts.extra) {
      // Own keys only: "constructor" or "__proto__" are not keys of any shape.
      for (const k of Object.keys(input)) if (!Object.hasOwn(shape, k)) throw new Invalid('extra keys not allowed', [k]);
    }
    for (const [k, f] of Object.entries(shape)) {
      if (!Object.hasOwn(input, k)) {
        if (f.required) throw new Invalid('required key not provided', [k]);
        continue;
      }
      try {
        out[k] = f.v(input[k]);
      } catch (e) {
        under(k, e, true);
      }
    }
    if (opts.extra) for (const k of Object.keys(input)) if (!Object.hasOwn(shape, k)) out[k] = input[k];
    return out as Out<S>;
  };
}

export function list<T>(item: Validator<T>, opts: { min?: number; max?: number } = {}): Validator<T[]> {
  return (value: unknown) => {
    if (!Array.isArray(value)) throw new Invalid('expected a list');
    if (opts.min !== undefined && value.length < opts.min) throw new Invalid(`length of value must be at least ${opts.min}`);
    if (opts.max !== undefined && value.length > opts.max) throw new Invalid(`length of value must be at most ${opts.max}`);
    return value.map((x, i) => {
      try {
        return item(x);
      } catch (e) {
        return under(i, e, false);
      }
    });
  };
}

export const str: Validator<string> = (v) => {
  if (typeof v !== 'string') throw new Invalid('expected str');
  // A lone UTF-16 surrogate cannot be stored or put in a URL as UTF-8: refuse it here.
  if (!v.isWellFormed()) throw new Invalid('expected str (not valid Unicode)');
  return v;
};

export function strLen(opts: { min?: number; max?: number }): Validator<string> {
  return (v) => {
    const s = str(v);
    if (opts.min !== undefined && s.length < opts.min) throw new Invalid(`length of value must be at least ${opts.min}`);
    if (opts.max !== undefined && s.length > opts.max) throw new Invalid(`length of value must be at most ${opts.max}`);
    return s;
  };
}

export const int: Validator<number> = (v) => {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v);
  throw new Invalid('expected int');
};

export function intRange(opts: { min?: number; max?: number }): Validator<number> {
  return (v) => {
    const n = int(v);
    if (opts.min !== undefined && n < opts.min) throw new Invalid(`value must be at least ${opts.min}`);
    if (opts.max !== undefined && n > opts.max) throw new Invalid(`value must be at most ${opts.max}`);
    return n;
  };
}

export const bool: Validator<boolean> = (v) => {
  if (typeof v === 'boolean') return v;
  throw new Invalid('expected bool');
};

export function nullable<T>(v: Validator<T>): Validator<T | null> {
  return (x) => (x === null ? null : v(x));
}

/** Wraps a parse function that throws plain errors into a validator with that message. */
export function fromParser<T>(parse: (v: unknown) => T): Validator<T> {
  return (v) => {
    try {
      return parse(v);
    } catch (e) {
      if (e instanceof Invalid) throw e;
      throw new Invalid(e instanceof Error ? e.message : String(e));
    }
  };
}

/** Runs a validator on a request body and turns failures into Gnocchi's 400. */
export function validate<T>(v: Validator<T>, body: unknown): T {
  try {
    return v(body);
  } catch (e) {
    if (e instanceof Invalid) throw e.toHttp();
    throw e;
  }
}
