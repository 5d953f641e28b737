export * from './model.js';
export * from './db.js';
