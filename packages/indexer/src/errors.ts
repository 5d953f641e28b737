// Indexer errors. Messages are byte-for-byte those of Gnocchi 4.4.2 because clients
// (and the conformance suite) match on them; the REST layer maps classes to status codes.

/** Body Gnocchi emits for errors that carry a structured description. */
export interface ErrorDescription {
  cause: string;
  detail: string;
}

/** Renders a value the way Python's "%s" does for the few non-strings we see (None). */
function pyStr(v: string | null): string {
  return v === null ? 'None' : v;
}

export class IndexerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class NoSuchArchivePolicy extends IndexerError {
  constructor(readonly archivePolicy: string) {
    super(`Archive policy ${archivePolicy} does not exist`);
  }
  jsonify(): ErrorDescription {
    return { cause: 'Archive policy does not exist', detail: this.archivePolicy };
  }
}

export class ArchivePolicyAlreadyExists extends IndexerError {
  constructor(readonly archivePolicy: string) {
    super(`Archive policy ${archivePolicy} already exists`);
  }
}

export class ArchivePolicyInUse extends IndexerError {
  constructor(readonly archivePolicy: string) {
    super(`Archive policy ${archivePolicy} is still in use`);
  }
}

export class UnsupportedArchivePolicyChange extends IndexerError {
  constructor(readonly archivePolicy: string, readonly reason: string) {
    super(`Archive policy ${archivePolicy} does not support change: ${reason}`);
  }
}

export class NoSuchArchivePolicyRule extends IndexerError {
  constructor(readonly rule: string) {
    super(`Archive policy rule ${rule} does not exist`);
  }
}

export class ArchivePolicyRuleAlreadyExists extends IndexerError {
  constructor(readonly rule: string) {
    super(`Archive policy rule ${rule} already exists`);
  }
}

export class UnsupportedArchivePolicyRuleChange extends IndexerError {
  constructor(readonly rule: string, readonly reason: string) {
    super(`Archive policy rule ${rule} does not support change: ${reason}`);
  }
}

export class NoArchivePolicyRuleMatch extends IndexerError {
  constructor(readonly metricName: string | null) {
    super(`No Archive policy rule found for metric ${pyStr(metricName)}`);
  }
}

export class NoSuchMetric extends IndexerError {
  constructor(readonly metric: string) {
    super(`Metric ${metric} does not exist`);
  }
  jsonify(): ErrorDescription {
    return { cause: 'Metrics not found', detail: this.metric };
  }
}

export class NamedMetricAlreadyExists extends IndexerError {
  constructor(readonly metricName: string | null) {
    super(`Named metric ${pyStr(metricName)} already exists`);
  }
  jsonify(): ErrorDescription {
    return { cause: 'Named metric already exists', detail: pyStr(this.metricName) };
  }
}

export class NoSuchResource extends IndexerError {
  constructor(readonly resource: string) {
    super(`Resource ${resource} does not exist`);
  }
}

/** Gnocchi quotes the reason as `reason' (backtick, apostrophe). */
export class InvalidPagination extends IndexerError {
  constructor(readonly reason: string) {
    super(`Invalid pagination: \`${reason}'`);
  }
}

/** Unknown filter attribute; Gnocchi reuses the resource wording with the table name. */
export class QueryAttributeError extends IndexerError {
  constructor(readonly resource: string, readonly attribute: string) {
    super(`Resource type ${resource} has no ${attribute} attribute`);
  }
}

/** The database was written by a newer Tally than this one. */
export class SchemaTooNew extends IndexerError {
  constructor(readonly found: number, readonly supported: number) {
    super(`Indexer schema version ${found} is newer than supported version ${supported}`);
  }
}
