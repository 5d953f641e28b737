// Child process used by the tests: joins a group, reports it, then heartbeats until killed.
import { LocalMembership } from './local-membership.js';

const [dir, group, memberId] = process.argv.slice(2);
const membership = new LocalMembership({ dir });
await membership.join(group, memberId, { heartbeatMs: 20, timeoutMs: 200 });
process.send?.('joined');
setInterval(() => undefined, 60_000);
