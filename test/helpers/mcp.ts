import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { createBackend } from '../../src/collect/backend.js';
import { silentLogger } from '../../src/log.js';
import type { ServerContext } from '../../src/mcp/context.js';
import { createMcpServer } from '../../src/mcp/server.js';
import { MonitorSessions } from '../../src/mcp/sessions.js';
import { Store } from '../../src/store/index.js';
import { tempDir } from './tmp.js';

export interface Harness {
  client: Client;
  ctx: ServerContext;
  dataDir: string;
  close(): Promise<void>;
}

/** A real server with the real backend and a real store, linked to a real client in memory. */
export async function connectInMemory(
  opts: { dataDir?: string; maxSessions?: number } = {},
): Promise<Harness> {
  const dataDir = opts.dataDir ?? tempDir();
  const store = Store.open(dataDir);
  const backend = createBackend();
  const machine = backend.machineInfo();
  const logger = silentLogger();
  const sessions = new MonitorSessions(
    { backend, machine, store, dataDir, logger },
    opts.maxSessions,
  );
  const ctx: ServerContext = {
    store,
    backend,
    machine,
    dataDir,
    logger,
    clock: Date.now,
    actor: 'mcp:memory',
    recording: () => false,
    sessions,
  };
  const server = createMcpServer(ctx);
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(a);
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(b);
  return {
    client,
    ctx,
    dataDir,
    async close() {
      sessions.stopAll();
      await client.close();
      await server.close();
      store.close();
    },
  };
}

export function text(result: object): string {
  const c = (
    (result as { content?: unknown }).content as { type: string; text?: string }[] | undefined
  )?.[0];
  return c?.text ?? '';
}
