// The alarm evaluator: pure rule evaluation (threshold, composite, time constraints), the
// metric sources it reads, the periodic service that shares alarms between members, and the
// evaluation of event alarms as events arrive.
export * from './threshold.js';
export * from './composite.js';
export * from './time-constraints.js';
export * from './source.js';
export * from './gnocchi-source.js';
export * from './evaluate.js';
export * from './evaluator.js';
export * from './event.js';
export * from './event-evaluator.js';
