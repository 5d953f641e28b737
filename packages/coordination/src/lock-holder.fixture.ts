// Child process used by the tests: takes a lock, reports it, then waits to be killed.
import { LocalCoordinator } from './local.js';

const [dir, name] = process.argv.slice(2);
const coordinator = new LocalCoordinator({ dir });
const lock = await coordinator.tryLock(name);
process.send?.(lock ? 'held' : 'busy');
setInterval(() => undefined, 60_000);
