// Preloaded into every unit-test process (run-unit-tests.mjs): property tests draw from one
// fixed seed so that a run is reproducible; FC_SEED=<integer> replays a reported failure or
// explores another seed. Tests that pass their own seed keep it.
import fc from 'fast-check';

const raw = process.env.FC_SEED;
const seed = raw === undefined || raw === '' ? 0x7a11 : Number(raw);
if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED must be an integer, not ${raw}`);
fc.configureGlobal({ seed });
