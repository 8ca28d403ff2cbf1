/**
 * An input that passed the schema but cannot be served (unknown PID, unknown automation,
 * a parameter that does not fit the chosen scope). Names the field and what is allowed.
 */
export class InputError extends Error {
  constructor(
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${field}: ${message}`, options);
    this.name = 'InputError';
  }
}

/** A limit that protects the machine (e.g. concurrent monitoring sessions). */
export class LimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LimitError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
