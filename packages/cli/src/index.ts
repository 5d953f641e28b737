export { program } from './main.js';
export { resolveSettings, SPECS, type Settings } from './config.js';
export { openServices, upgrade, expungeDeletedMetrics, policyLookup, type Services } from './services.js';
