import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import type { DeliveryJob } from '../deliveries.js';
import { mcpSender } from './mcp-sender.js';

const job: DeliveryJob = {
  channel: 'mcp',
  attempts: 0,
  event: {
    id: 7,
    rule_id: 3,
    ts: 0,
    kind: 'firing',
    severity: 'critical',
    value: 97,
    message: '[critical] hot: cpu_percent > 40',
    dedupe_key: '3:1:firing:0',
  },
};

function server(): McpServer {
  return new McpServer({ name: 't', version: '1' }, { capabilities: { logging: {} } });
}

/** A client that records the logging messages it receives. */
async function connect(s: McpServer): Promise<{ client: Client; received: unknown[] }> {
  const [a, b] = InMemoryTransport.createLinkedPair();
  await s.connect(a);
  const client = new Client({ name: 'c', version: '1' });
  const received: unknown[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    received.push(n.params);
  });
  await client.connect(b);
  return { client, received };
}

describe('mcp sender', () => {
  it('a delivery made before the client initialized waits for it and reaches it', async () => {
    const s = server();
    const send = mcpSender(s, 5_000);
    const delivered = send(job);
    const { client, received } = await connect(s);
    await delivered;
    await expect.poll(() => received.length).toBe(1);
    expect(received[0]).toMatchObject({
      level: 'critical',
      logger: 'kmpm.alerts',
      data: { dedupe_key: '3:1:firing:0', kind: 'firing', value: 97 },
    });
    await client.close();
  });

  it('fails when no client comes within the wait', async () => {
    await expect(mcpSender(server(), 50)(job)).rejects.toThrow(/no MCP client/);
  });

  it('fails without waiting once the client has left', async () => {
    const s = server();
    // A wait longer than the test's timeout: waiting here would fail the test.
    const send = mcpSender(s, 60_000);
    const { client } = await connect(s);
    await send(job);
    await client.close();
    await expect(send(job)).rejects.toThrow(/no MCP client/);
  });
});
