// A child process for the crash test: installs argv[3] at argv[2] and, at step argv[4],
// says so on stdout and waits to be killed.
import { readFile } from 'node:fs/promises';
import { installPricing, type InstallStep } from './files.js';

const [target, source, stopAt] = process.argv.slice(2);
await installPricing(await readFile(source, 'utf8'), target, {
  onStep: async (s: InstallStep) => {
    if (s !== stopAt) return;
    process.stdout.write(`at ${s}\n`);
    // A pending promise alone does not keep Node running (it would exit with code 13
    // before the kill lands): a timer does.
    setInterval(() => undefined, 60_000);
    await new Promise(() => undefined);
  },
});
