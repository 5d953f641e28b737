// What the alarm store refuses. Facts only: the API picks the status and the words.

/** A page marker that names no alarm (or history entry) among the results. */
export class InvalidMarkerError extends Error {
  override name = 'InvalidMarkerError';
  constructor(readonly marker: string) {
    super(`Marker ${marker} not found.`);
  }
}

/** A filter or sort on a field the table does not have. */
export class UnknownFieldError extends Error {
  override name = 'UnknownFieldError';
  constructor(readonly field: string) {
    super(`unknown field ${field}`);
  }
}
