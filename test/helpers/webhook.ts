import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookServer {
  url: string;
  received: Record<string, unknown>[];
  /** The status to answer with; 'hang' never answers. */
  respond: number | 'hang';
  close(): Promise<void>;
}

/** A real HTTP endpoint on loopback that records JSON bodies it receives. */
export async function webhookServer(): Promise<WebhookServer> {
  const received: Record<string, unknown>[] = [];
  const hanging = new Set<http.ServerResponse>();
  const state: WebhookServer = {
    url: '',
    received,
    respond: 200,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ ...(JSON.parse(body) as object), _headers: req.headers });
      if (state.respond === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(state.respond).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return state;
}
