/** The 'mcp' channel: an MCP logging message to the connected client. */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { DeliveryJob } from '../deliveries.js';
import type { Sender } from '../dispatcher.js';
import { payload } from './senders.js';

const LEVEL = { low: 'info', medium: 'warning', high: 'error', critical: 'critical' } as const;

/**
 * Sends one notification to the server's client as a logging message of logger
 * `kmpm.alerts`, at the level of its severity. Both the recording server's sender and the
 * relays of the others (mcp-relay.ts) send through this, so clients see one format.
 */
export function notifyClient(server: McpServer, { event, channel }: DeliveryJob): Promise<void> {
  return server.sendLoggingMessage({
    level: LEVEL[event.severity as keyof typeof LEVEL] ?? 'warning',
    logger: 'kmpm.alerts',
    data: payload(event, channel),
  });
}

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
  const ready = whenInitialized(server).then(() => {
    initialized = true;
  });
  return async (job) => {
    if (!initialized) await waitFor(ready, waitMs);
    if (!initialized || !server.isConnected()) throw new Error('no MCP client is connected');
    await notifyClient(server, job);
  };
}

/** Resolves once the server's client has initialized; a handler set before still runs. */
export function whenInitialized(server: McpServer): Promise<void> {
  return new Promise((resolve) => {
    const before = server.server.oninitialized;
    server.server.oninitialized = () => {
      before?.();
      resolve();
    };
  });
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
