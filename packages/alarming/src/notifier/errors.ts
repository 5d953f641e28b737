// The notifier's domain errors: they carry facts; the API edge chooses the status.

/** A silence request that cannot be stored as given (the field names what is wrong). */
export class InvalidSilenceError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
    this.name = 'InvalidSilenceError';
  }
}

/** A project's member asked for a silence that would reach alarms of other projects. */
export class SilenceScopeError extends Error {
  constructor(readonly projectId: string, readonly requested: string | null) {
    super(`a silence of project ${projectId} can only match that project's alarms`);
    this.name = 'SilenceScopeError';
  }
}

/** No silence with that id is visible in the caller's scope. */
export class SilenceNotFoundError extends Error {
  constructor(readonly silenceId: string) {
    super(`silence ${silenceId} not found`);
    this.name = 'SilenceNotFoundError';
  }
}

/** A notifier option out of its range. */
export class NotifierConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotifierConfigError';
  }
}
