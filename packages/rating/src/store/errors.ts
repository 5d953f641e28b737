// The rating store's domain errors, worded as CloudKitty's hashmap database API words them;
// the API chooses their status codes.

/** A request the rules cannot take (CloudKitty's ClientHashMapError). */
export class RatingClientError extends Error {
  override name = 'RatingClientError';
}

/** A hashmap object, module or scope that does not exist. */
export class RatingNotFoundError extends RatingClientError {
  override name = 'RatingNotFoundError';
}

/** A hashmap object that would break a uniqueness rule. */
export class RatingConflictError extends RatingClientError {
  override name = 'RatingConflictError';
}

export const noSuchService = (name: string | null, uuid: string | null): RatingNotFoundError =>
  new RatingNotFoundError(`No such service: ${name ?? 'None'} (UUID: ${uuid ?? 'None'})`);
export const noSuchField = (uuid: string): RatingNotFoundError => new RatingNotFoundError(`No such field: ${uuid}`);
export const noSuchGroup = (name: string | null, uuid: string | null): RatingNotFoundError =>
  new RatingNotFoundError(`No such group: ${name ?? 'None'} (UUID: ${uuid ?? 'None'})`);
export const noSuchMapping = (uuid: string): RatingNotFoundError => new RatingNotFoundError(`No such mapping: ${uuid}`);
export const noSuchThreshold = (uuid: string): RatingNotFoundError => new RatingNotFoundError(`No such threshold: ${uuid}`);
