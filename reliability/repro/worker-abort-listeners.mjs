#!/usr/bin/env node
// Repro: runWorker's idle sleep adds an 'abort' listener to the AbortSignal on every idle
// pass and never removes it when the timer fires, so listeners (and their closures)
// pile up for the life of the worker. Expected: at most 1 listener at any time.
import { getEventListeners } from 'node:events';
import { runWorker } from '../../packages/metricd/dist/index.js';

const abort = new AbortController();
const idleProcessor = { sacks: 1, processSack: async () => null };
const done = runWorker({ processor: idleProcessor, intervalMs: 1, signal: abort.signal });
await new Promise((r) => setTimeout(r, 500));
const n = getEventListeners(abort.signal, 'abort').length;
abort.abort();
await done;
console.log(`abort listeners after 0.5 s idle: ${n}`);
process.exit(n <= 1 ? 0 : 1);
