/** The 'mcp' channel: an MCP logging message to the connected client. */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Sender } from '../dispatcher.js';
import { payload } from './senders.js';

const LEVEL = { low: 'info', medium: 'warning', high: 'error', critical: 'critical' } as const;

export function mcpSender(server: McpServer): Sender {
  return async ({ event, channel }) => {
    if (!server.isConnected()) throw new Error('no MCP client is connected');
    await server.sendLoggingMessage({
      level: LEVEL[event.severity as keyof typeof LEVEL] ?? 'warning',
      logger: 'kmpm.alerts',
      data: payload(event, channel),
    });
  };
}
