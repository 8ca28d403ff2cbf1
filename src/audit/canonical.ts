/** Argument keys whose values never reach the audit log, at any depth. */
const SECRET_KEY =
  /token|password|passwd|passphrase|secret|authorization|api[-_]?key|cookie|credential/i;

export const REDACTED = '[redacted]';
export const CIRCULAR = '[circular]';

/**
 * JSON text with object keys sorted (by UTF-16 code unit) at every depth and no whitespace,
 * so equal values always produce the same text and therefore the same hash. What JSON cannot
 * hold follows JSON.stringify (undefined and functions dropped from objects, null in arrays,
 * non-finite numbers as null); bigints become strings and cycles "[circular]".
 */
export function canonicalJson(value: unknown): string {
  return write(value, false, []) ?? 'null';
}

/** canonicalJson of tool or command arguments with credential-like keys redacted. */
export function canonicalArgs(value: unknown): string {
  return write(value, true, []) ?? 'null';
}

function write(value: unknown, redact: boolean, ancestors: object[]): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'bigint':
      return JSON.stringify(value.toString());
    case 'object':
      return value === null ? 'null' : writeObject(value, redact, ancestors);
    default:
      return undefined; // undefined, function, symbol
  }
}

function writeObject(value: object, redact: boolean, ancestors: object[]): string | undefined {
  if (ancestors.includes(value)) return JSON.stringify(CIRCULAR);
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  // Dates, Buffers and the like describe their own JSON form.
  if (typeof toJSON === 'function') return write(toJSON.call(value), redact, ancestors);
  ancestors.push(value);
  try {
    if (Array.isArray(value)) {
      return `[${value.map((item: unknown) => write(item, redact, ancestors) ?? 'null').join(',')}]`;
    }
    const parts: string[] = [];
    for (const key of Object.keys(value).sort()) {
      const text = write((value as Record<string, unknown>)[key], redact, ancestors);
      if (text === undefined) continue;
      parts.push(
        `${JSON.stringify(key)}:${redact && SECRET_KEY.test(key) ? JSON.stringify(REDACTED) : text}`,
      );
    }
    return `{${parts.join(',')}}`;
  } finally {
    ancestors.pop();
  }
}
