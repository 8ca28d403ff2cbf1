import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Logs go to stderr (fd 2) — never stdout, which carries the MCP protocol in `kmpm mcp` —
 * or to a file. Level from KMPM_LOG_LEVEL (default info).
 */
export function createLogger(opts: { file?: string; level?: string } = {}): Logger {
  const level = opts.level ?? process.env.KMPM_LOG_LEVEL ?? 'info';
  const dest = pino.destination(
    opts.file ? { dest: opts.file, mkdir: true, sync: false } : { dest: 2, sync: true },
  );
  return pino({ level, base: { pid: process.pid } }, dest);
}

/** For tests and library use: a logger that discards everything. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
