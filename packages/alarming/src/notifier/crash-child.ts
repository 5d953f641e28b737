// A notifier process for the crash test (crash.test.ts), which kills it mid-delivery.
// Usage: node crash-child.js <database url> <timeout ms> <lease ms>
import { openAlarmDatabase } from '../db.js';
import { Notifier } from './notifier.js';

const [url, timeoutMs, leaseMs] = process.argv.slice(2);
const database = await openAlarmDatabase(url);
const notifier = new Notifier({ database, id: 'doomed', timeoutMs: Number(timeoutMs), leaseMs: Number(leaseMs), pollIntervalMs: 20 });
notifier.start();
process.stdout.write('ready\n');
