import { z } from 'zod';

/**
 * A tool's parameter object that rejects unknown properties, so a misspelt parameter is
 * an error naming the allowed ones instead of being silently ignored.
 */
export function strictParams<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown parameter(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}; allowed parameters: ${allowed}`
        : undefined,
  });
}

/** Text + structured result, as MCP clients old and new expect. */
export function toolResult<T extends Record<string, unknown>>(structured: T, text: string) {
  return { content: [{ type: 'text' as const, text }], structuredContent: structured };
}

export function toolError(message: string) {
  return { content: [{ type: 'text' as const, text: message }], isError: true };
}
