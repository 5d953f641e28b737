import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentConfigError } from './config.js';
import { loadPollsterFactory } from './plugins.js';
import { hostPollster } from './host/index.js';

/** The agent package's folder: node_modules from there upwards hold the workspace's packages. */
const here = fileURLToPath(new URL('..', import.meta.url));

test('a plugin package is found by name in node_modules and polls through the public interface', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-plugin-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'a', 'b'), { recursive: true });
  writeFileSync(join(dir, 'a', 'one'), 'x'.repeat(1000));
  writeFileSync(join(dir, 'a', 'b', 'two'), 'y'.repeat(234));
  const factory = await loadPollsterFactory('@tally/agent-pollster-example', here);
  assert.equal(factory.name, 'folder');
  const p = await factory.create({ paths: [join(dir, 'a')] }, { stateDir: dir, log: () => undefined });
  assert.deepEqual(p.resourceTypes.map((r) => r.name), ['folder']);
  const ac = new AbortController();
  const ctx = { signal: ac.signal, log: () => undefined, wants: () => true };
  const samples = await p.poll(ctx, await p.discover(ctx));
  assert.deepEqual(samples.map((s) => [s.meter, s.unit, s.volume, s.resource.type, s.resource.attributes.path]), [
    ['folder.size', 'B', 1234, 'folder', join(dir, 'a')],
    ['folder.files', 'file', 2, 'folder', join(dir, 'a')],
  ]);
  await p.close();
  // Options the plugin refuses are its PollsterConfigError.
  await assert.rejects(async () => factory.create({}, { stateDir: dir, log: () => undefined }), { name: 'PollsterConfigError' });
});

test('built-in names, module paths, and clear errors for what cannot be loaded', async (t) => {
  assert.equal(await loadPollsterFactory('host', here), hostPollster);
  const dir = mkdtempSync(join(tmpdir(), 'tally-plugin-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'mine.mjs'), 'export const pollster = { name: "mine", create() { return null; } };\n');
  writeFileSync(join(dir, 'wrong.mjs'), 'export default { create: 3 };\n');
  writeFileSync(join(dir, 'broken.mjs'), 'export default {;\n');
  assert.equal((await loadPollsterFactory('./mine.mjs', dir)).name, 'mine');
  // A configuration in a folder with no node_modules: packages installed with Tally are found.
  assert.equal((await loadPollsterFactory('@tally/agent-pollster-example', dir)).name, 'folder');
  const fails: [string, RegExp][] = [
    ['no-such-pollster-package', /not a built-in pollster \(host, libvirt, vsphere\) and no package of that name in node_modules from .* nor where Tally is installed/],
    ['./missing.mjs', /no module at .*missing\.mjs/],
    ['./wrong.mjs', /exports no pollster factory/],
    ['./broken.mjs', /cannot load .*broken\.mjs/],
    ['Not A Name!', /neither a built-in pollster/],
  ];
  for (const [spec, re] of fails) {
    await assert.rejects(loadPollsterFactory(spec, dir, `source "s": pollster ${spec}`), (e: unknown) => e instanceof AgentConfigError && re.test(e.message) && e.message.startsWith('source "s"'), spec);
  }
});
