import { open, type FileHandle } from 'node:fs/promises';
import { errnoCode } from './errors.js';

// libuv hands at most IOV_MAX (1024 on Linux) buffers to one writev; stay well below.
const MAX_IOV = 512;

/** Writes every buffer at `position` onwards, handling partial writes and IOV_MAX. */
export async function writeAll(fh: FileHandle, buffers: ArrayBufferView[], position = 0): Promise<void> {
  let queue = buffers.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  while (queue.length > 0) {
    const chunk = queue.slice(0, MAX_IOV);
    const { bytesWritten } = await fh.writev(chunk, position);
    if (bytesWritten === 0) throw Object.assign(new Error('no progress writing file'), { code: 'ENOSPC' });
    position += bytesWritten;
    queue = skipBytes(queue, bytesWritten);
  }
}

function skipBytes(queue: Uint8Array[], n: number): Uint8Array[] {
  let i = 0;
  while (i < queue.length && n >= queue[i].byteLength) n -= queue[i++].byteLength;
  const rest = queue.slice(i);
  if (n > 0) rest[0] = rest[0].subarray(n);
  return rest;
}

/** Makes the entries of a folder (creations, renames, unlinks) durable. */
export async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function isMissing(err: unknown): boolean {
  return errnoCode(err) === 'ENOENT';
}
