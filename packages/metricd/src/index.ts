export { Processor } from './processor.js';
export type { PolicyLookup, ProcessorOptions, RoundResult, Logger } from './processor.js';
export { runWorker } from './worker.js';
export type { WorkerOptions } from './worker.js';
export { ThreadRefresher, serveRefreshes } from './refresh.js';
export type { MetricRefresher, ThreadRefresherOptions } from './refresh.js';
