import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  LoggingMessageNotificationSchema,
  type LoggingMessageNotification,
} from '@modelcontextprotocol/sdk/types.js';
import { KMPM } from './cli.js';

export interface StdioConnection {
  client: Client;
  transport: StdioClientTransport;
  /** The alert notifications received as logging messages (logger kmpm.alerts), in order. */
  alerts: LoggingMessageNotification['params'][];
  /** Their dedupe keys. */
  keys(): string[];
  protocolErrors: Error[];
  /** What the server wrote to stderr so far. */
  stderr(): string;
}

/** A real MCP client of `kmpm mcp` over stdio, keeping its alert notifications and stderr. */
export async function connectStdio(dataDir: string, name: string): Promise<StdioConnection> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [KMPM, 'mcp', '--data-dir', dataDir],
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const client = new Client({ name, version: '1.0.0' });
  const alerts: LoggingMessageNotification['params'][] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    if (n.params.logger === 'kmpm.alerts') alerts.push(n.params);
  });
  const protocolErrors: Error[] = [];
  client.onerror = (e) => protocolErrors.push(e);
  await client.connect(transport);
  const keys = () => alerts.map((a) => (a.data as Record<string, unknown>)['dedupe_key'] as string);
  return { client, transport, alerts, keys, protocolErrors, stderr: () => stderr };
}
