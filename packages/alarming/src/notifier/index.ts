// The alarm notifier: a durable outbox filled in the alarm store's transactions, delivery
// workers that never lose a notification (at least once, same request id on every
// attempt), signed webhooks, delivery history and silences.
export { NOTIFIER_MIGRATIONS } from './schema.js';
export { enqueue, entryBody, type OutboxEntry, type OutboxStatus } from './outbox.js';
export { Notifier, type NotifierOptions } from './notifier.js';
export { receiverOf, redactAction, type NotifierLogger, type NotifierTlsOptions } from './deliver.js';
export { HMAC_KEY_PARAM, SIGNATURE_HEADER, TIMESTAMP_HEADER, signBody, verifySignature } from './sign.js';
export {
  listDeliveries, listAttempts, purgeHistory, MAX_HISTORY_LIMIT,
  type DeliveryQuery, type AttemptQuery, type DeliveryAttempt,
} from './history.js';
export {
  createSilence, listSilences, getSilence, deleteSilence, silenceMatcher,
  type Silence, type SilenceInput, type SilenceMatch, type SilenceScope, type SilenceTarget,
} from './silences.js';
export { InvalidSilenceError, SilenceScopeError, SilenceNotFoundError, NotifierConfigError } from './errors.js';
