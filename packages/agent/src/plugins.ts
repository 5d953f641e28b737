// Finding a source's pollster factory: a built-in name, or a module loaded with import():
// an npm package found in node_modules from the configuration's folder upwards (as Node
// finds packages), or a path to a module relative to that folder. The module exports the
// factory as `default` or as `pollster`.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AgentConfigError } from './config.js';
import { BUILTIN_POLLSTERS } from './builtin.js';
import type { PollsterFactory } from './pollster.js';

const PACKAGE_NAME = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;

type Exports = string | null | { [key: string]: Exports } | Exports[];

/** The target of an `exports` entry for an ESM importer in Node: `import`, `node`, then `default`. */
function exportTarget(e: Exports): string | null {
  if (typeof e === 'string') return e;
  if (e === null) return null;
  if (Array.isArray(e)) {
    for (const x of e) {
      const t = exportTarget(x);
      if (t !== null) return t;
    }
    return null;
  }
  const keys = Object.keys(e);
  if (keys.length > 0 && keys.every((k) => k.startsWith('.'))) return e['.'] === undefined ? null : exportTarget(e['.']);
  for (const c of ['import', 'node', 'default']) if (e[c] !== undefined) {
    const t = exportTarget(e[c]);
    if (t !== null) return t;
  }
  return null;
}

/**
 * The entry file of package `name` as Node would find it from `fromDir`. Hand-written
 * because Node 20 resolves bare names for import() only from the importing module's own
 * location (import.meta.resolve takes no parent without a flag), and require.resolve
 * refuses packages whose exports have only an `import` condition.
 */
export function resolvePackage(name: string, fromDir: string): string | null {
  for (let dir = resolve(fromDir); ; dir = dirname(dir)) {
    const root = join(dir, 'node_modules', name);
    const pj = join(root, 'package.json');
    if (existsSync(pj)) {
      const meta = JSON.parse(readFileSync(pj, 'utf8')) as { exports?: Exports; main?: string };
      const entry = meta.exports !== undefined ? exportTarget(meta.exports) : (meta.main ?? 'index.js');
      return entry === null ? null : resolve(root, entry);
    }
    if (dirname(dir) === dir) return null;
  }
}

function isFactory(v: unknown): v is PollsterFactory {
  return v !== null && typeof v === 'object' && typeof (v as PollsterFactory).name === 'string'
    && typeof (v as PollsterFactory).create === 'function';
}

/**
 * The factory `spec` names (a source's `pollster` key), looked up from `baseDir` (the
 * configuration's folder). AgentConfigError when it cannot be found or has the wrong shape.
 */
/** Where this module is: node_modules above it are Tally's own. */
const TALLY_DIR = dirname(fileURLToPath(import.meta.url));

export async function loadPollsterFactory(spec: string, baseDir: string, where = `pollster ${JSON.stringify(spec)}`): Promise<PollsterFactory> {
  const builtin = BUILTIN_POLLSTERS.get(spec);
  if (builtin) return builtin;
  let file: string | null;
  if (spec.startsWith('.') || isAbsolute(spec)) {
    file = resolve(baseDir, spec);
    if (!existsSync(file) || !statSync(file).isFile()) throw new AgentConfigError(`${where}: no module at ${file}`);
  } else if (PACKAGE_NAME.test(spec)) {
    // Beside the configuration first (a deployment's own plugins), then beside Tally itself
    // (plugins installed with it), so that a configuration works from any folder.
    file = resolvePackage(spec, baseDir) ?? resolvePackage(spec, TALLY_DIR);
    if (file === null) {
      throw new AgentConfigError(`${where}: not a built-in pollster (${[...BUILTIN_POLLSTERS.keys()].join(', ')}) and no package of that name in node_modules from ${baseDir} upwards, nor where Tally is installed`);
    }
  } else {
    throw new AgentConfigError(`${where}: neither a built-in pollster (${[...BUILTIN_POLLSTERS.keys()].join(', ')}), a package name nor a path (./module.js)`);
  }
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(file).href) as Record<string, unknown>;
  } catch (e) {
    throw new AgentConfigError(`${where}: cannot load ${file}: ${(e as Error).message}`);
  }
  const candidate = isFactory(mod.default) ? mod.default : mod.pollster;
  if (!isFactory(candidate)) {
    throw new AgentConfigError(`${where}: ${file} exports no pollster factory (a default or \`pollster\` export with a name and a create function)`);
  }
  return candidate;
}
