/** A failure to write or read the audit log. The underlying error, if any, is the `cause`. */
export class AuditError extends Error {
  override readonly name = 'AuditError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
