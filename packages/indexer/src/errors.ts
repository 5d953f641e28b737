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

export class NoSuchResourceType extends IndexerError {
  constructor(readonly resourceType: string) {
    super(`Resource type ${resourceType} does not exist`);
  }
  jsonify(): ErrorDescription {
    return { cause: 'Resource type does not exist', detail: this.resourceType };
  }
}

export class ResourceTypeAlreadyExists extends IndexerError {
  constructor(readonly resourceType: string) {
    super(`Resource type ${resourceType} already exists`);
  }
}

export class ResourceTypeInUse extends IndexerError {
  constructor(readonly resourceType: string) {
    super(`Resource type ${resourceType} is still in use`);
  }
}

export class UnexpectedResourceTypeState extends IndexerError {
  constructor(readonly resourceType: string, readonly expectedState: string, readonly state: string) {
    super(`Resource type ${resourceType} state is ${state} (expected: ${expectedState})`);
  }
}

/**
 * Invalid resource type definitions (Gnocchi's InvalidResourceAttribute family, a
 * ValueError): the REST layer answers 400 "Invalid input: <message>".
 */
export class InvalidResourceAttribute extends IndexerError {}

export class InvalidResourceAttributeName extends InvalidResourceAttribute {
  constructor(readonly attribute: string) {
    super(`Resource attribute name ${attribute} is invalid`);
  }
}

/** The two spaces before "than" are Gnocchi's. */
export class InvalidResourceAttributeValue extends InvalidResourceAttribute {
  constructor(readonly min: string, readonly max: string) {
    super(`Resource attribute value min (or min_length) ${min} must be less  than or equal to max (or max_length) ${max}!`);
  }
}

export class InvalidResourceAttributeOption extends InvalidResourceAttribute {
  constructor(readonly attribute: string, readonly option: string, readonly reason: string) {
    super(`Option '${option}' of resource attribute ${attribute} is invalid: ${reason}`);
  }
}

/** Not Gnocchi's: the index bounds the attributes of a type (see limits.ts). */
export class TooManyResourceTypeAttributes extends InvalidResourceAttribute {
  constructor(readonly resourceType: string, readonly max: number) {
    super(`Resource type ${resourceType} may have at most ${max} attributes`);
  }
}

/**
 * Not Gnocchi's: on PostgreSQL removed attributes keep using one of a table's 1 600
 * columns, so a type edited often enough runs out of them.
 */
export class ResourceTypeColumnsExhausted extends InvalidResourceAttribute {
  constructor(readonly resourceType: string, readonly max: number) {
    super(`Resource type ${resourceType} has used all ${max} attribute columns the database allows ` +
      '(removed attributes still count); create a new resource type instead');
  }
}

/**
 * Schema-level problems in a resource type body or patch (voluptuous errors in Gnocchi,
 * which the REST layer reports as {cause: "Invalid input", reason, detail: path}).
 */
export class InvalidResourceTypeDefinition extends InvalidResourceAttribute {
  constructor(readonly reason: string, readonly path: readonly string[]) {
    super(reason);
  }
}

/** A JSON patch that cannot be applied (jsonpatch's message; REST answers 400 with it). */
export class ResourceTypePatchConflict extends IndexerError {}

export class ResourceAlreadyExists extends IndexerError {
  constructor(readonly resource: string) {
    super(`Resource ${resource} already exists`);
  }
  jsonify(): ErrorDescription {
    return { cause: 'Resource already exists', detail: this.resource };
  }
}

export class ResourceAttributeError extends IndexerError {
  constructor(readonly resource: string, readonly attribute: string) {
    super(`Resource type ${resource} has no ${attribute} attribute`);
  }
}

export class ResourceValueError extends IndexerError {
  /** `value` is already rendered as Python's str() would (datetimes "2015-01-01 00:00:00+00:00"). */
  constructor(readonly resourceType: string, readonly attribute: string, readonly value: string) {
    super(`Value ${value} for attribute ${attribute} on resource type ${resourceType} is invalid`);
  }
}

/** Revisions given to importResource that do not form one resource's history. */
export class InvalidResourceHistory extends IndexerError {
  constructor(readonly resource: string, readonly reason: string) {
    super(`Invalid history for resource ${resource}: ${reason}`);
  }
}

/** Gnocchi raises a bare ValueError (400) for this on creation. */
export class StartAfterEnd extends IndexerError {
  constructor() {
    super('Start timestamp cannot be after end timestamp');
  }
}

/** ResourceUUID's ValueErrors: the REST layer answers 404 NoSuchResource or 400. */
export class InvalidResourceId extends IndexerError {}

/** updateResource's ifRevisionStart did not match (the REST layer answers 412). */
export class ResourceRevisionMismatch extends IndexerError {
  constructor(readonly resource: string) {
    super(`Resource ${resource} was modified concurrently`);
  }
}

export class QueryError extends IndexerError {
  constructor(message = 'Unable to parse this query') {
    super(message);
  }
}

export class QueryValueError extends QueryError {
  /** `value` rendered as Python's "%s" would. */
  constructor(readonly value: string, readonly field: string) {
    super(`Invalid value: \`${value}' for field \`${field}'`);
  }
}

export class QueryInvalidOperator extends QueryError {
  constructor(readonly op: string) {
    super(`Unknown operator \`${op}'`);
  }
}

/** Unknown filter attribute; Gnocchi reuses the resource wording with the table name. */
export class QueryAttributeError extends QueryError {
  constructor(readonly resource: string, readonly attribute: string) {
    super(`Resource type ${resource} has no ${attribute} attribute`);
  }
}

/** Not Gnocchi's: Tally bounds query nesting so a hostile filter cannot exhaust the stack. */
export class QueryTooDeep extends QueryError {
  constructor(readonly maxDepth: number) {
    super(`Query is nested too deeply (more than ${maxDepth} levels)`);
  }
}

/** Not Gnocchi's: Tally bounds LIKE patterns so that a hostile one cannot hold the database. */
export class QueryPatternTooLong extends QueryError {
  constructor(readonly field: string, readonly maxLength: number) {
    super(`Invalid value for field \`${field}': like pattern longer than ${maxLength} characters`);
  }
}

/** The filter= query string could not be parsed (REST answers 400 with this message). */
export class InvalidFilter extends QueryError {
  constructor(readonly reason: string) {
    super(`Invalid filter: ${reason}`);
  }
}

/** Not Gnocchi's: a string longer than the column that stores it (see limits.ts). */
export class ValueTooLong extends IndexerError {
  constructor(readonly field: string, readonly max: number) {
    super(`${field} must be at most ${max} characters`);
  }
}

/** The database was written by a newer Tally than this one. */
export class SchemaTooNew extends IndexerError {
  constructor(readonly found: number, readonly supported: number) {
    super(`Indexer schema version ${found} is newer than supported version ${supported}`);
  }
}
