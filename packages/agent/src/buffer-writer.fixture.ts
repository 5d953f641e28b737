// Child process of the buffer tests: appends numbered records as fast as it can and says
// each number once its append resolved (durable), until it is killed.
import { DiskBuffer } from './buffer.js';

const [dir, maxBytes] = process.argv.slice(2);
const buffer = await DiskBuffer.open(dir, { maxBytes: Number(maxBytes), segmentBytes: 64 * 1024, log: () => undefined });
for (let i = 0; ; i++) {
  // Records of varied sizes, so that kills land in headers and in payloads alike.
  await buffer.append(Buffer.from(JSON.stringify({ i, pad: 'x'.repeat((i * 7919) % 3000) })), 1 + (i % 5));
  process.stdout.write(`${i}\n`);
}
