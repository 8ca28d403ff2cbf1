/** The 'mcp' channel: an MCP logging message to the connected client. */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Sender } from '../dispatcher.js';
import { payload } from './senders.js';

const LEVEL = { low: 'info', medium: 'warning', high: 'error', critical: 'critical' } as const;

/** How long a delivery waits for a client that has not initialized yet (default). */
export const CLIENT_WAIT_MS = 10_000;

/**
 * A recording `kmpm mcp` starts its recorder, and with it the deliveries due at start,
 * before its client has connected and initialized. Such a delivery waits for the client up
 * to `waitMs` instead of failing and waiting 30 s for its retry. Once the client has gone
 * (the connection closed), a delivery fails at once.
 */
export function mcpSender(server: McpServer, waitMs = CLIENT_WAIT_MS): Sender {
  let initialized = false;
  const ready = new Promise<void>((resolve) => {
    const before = server.server.oninitialized;
    server.server.oninitialized = () => {
      initialized = true;
      before?.();
      resolve();
    };
  });
  return async ({ event, channel }) => {
    if (!initialized) await waitFor(ready, waitMs);
    if (!initialized || !server.isConnected()) throw new Error('no MCP client is connected');
    await server.sendLoggingMessage({
      level: LEVEL[event.severity as keyof typeof LEVEL] ?? 'warning',
      logger: 'kmpm.alerts',
      data: payload(event, channel),
    });
  };
}

/** Resolves when `p` does or after `ms`, whichever is first; never keeps the process alive. */
async function waitFor(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  try {
    await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
