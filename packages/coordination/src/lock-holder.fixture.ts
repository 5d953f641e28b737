// Child process used by the tests: opens the coordinator a URL names, takes a lock,
// reports it, then waits to be killed.
import { openCoordinator } from './drivers.js';

const [url, name] = process.argv.slice(2);
const coordinator = await openCoordinator(url);
const lock = await coordinator.tryLock(name);
process.send?.(lock ? 'held' : 'busy');
setInterval(() => undefined, 60_000);
