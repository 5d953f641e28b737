import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoordinationUnavailableError } from '@tally/coordination';
import { IncomingUnavailableError } from '@tally/incoming';
import { toHttpError } from './http.js';

test('a backend that cannot serve now (incoming, coordination) answers 503; other failures 500', () => {
  assert.equal(toHttpError(new IncomingUnavailableError('down')).status, 503);
  assert.equal(toHttpError(new CoordinationUnavailableError('taking lock sack-1: Redis unavailable')).status, 503);
  assert.equal(toHttpError(new Error('a bug')).status, 500);
});
