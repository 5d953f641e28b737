// Child process used by the tests: takes a lock in Redis, reports it, then keeps it
// (refreshing it) until killed.
import { RedisCoordinator } from './redis.js';

const [url, name] = process.argv.slice(2);
const coordinator = await RedisCoordinator.open(url);
const lock = await coordinator.tryLock(name);
process.send?.(lock ? 'held' : 'busy');
setInterval(() => undefined, 60_000);
