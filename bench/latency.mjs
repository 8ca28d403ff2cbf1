// MCP latency through the real binary over stdio, measured with bare JSON-RPC lines so the
// figures are the server's (the SDK client adds its own schema compilation on listTools,
// shown separately). Reports tools/list, a trivial tool call, and how much a 1 s
// km_monitor_performance call takes beyond its 1 s of sampling.
//   npm run bench:latency -- [--lists 300] [--calls 30]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { arg, machine, percentile, processCount } from './lib.mjs';

const lists = Number(arg('lists', '300'));
const calls = Number(arg('calls', '30'));
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmpm-bench-'));
// Launched as a user runs it: the executable, so the Node flags on its first line apply.
const server = spawn('bin/kmpm', ['mcp', '--no-record', '--data-dir', dataDir], {
  stdio: ['pipe', 'pipe', 'ignore'],
});

let buf = '';
const waiting = new Map();
server.stdout.on('data', (d) => {
  buf += d;
  for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
    const msg = JSON.parse(buf.slice(0, i));
    buf = buf.slice(i + 1);
    waiting.get(msg.id)?.(msg);
  }
});
let nextId = 0;
const request = (method, params) =>
  new Promise((resolve, reject) => {
    const id = ++nextId;
    waiting.set(id, (msg) =>
      msg.error ? reject(new Error(msg.error.message)) : resolve(msg.result),
    );
    server.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
  });
const timed = async (n, fn) => {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
};
const fmt = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return `p50 ${percentile(s, 0.5).toFixed(2)} ms, p99 ${percentile(s, 0.99).toFixed(2)} ms, max ${s[s.length - 1].toFixed(2)} ms (n=${s.length})`;
};

console.log(`machine: ${machine()}; ${processCount()} processes`);
await request('initialize', {
  protocolVersion: '2025-06-18',
  capabilities: {},
  clientInfo: { name: 'bench', version: '1' },
});
server.stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');

console.log(`tools/list: ${fmt(await timed(lists, () => request('tools/list', {})))}`);
console.log(
  `tools/call km_get_monitoring_session: ${fmt(await timed(lists, () => request('tools/call', { name: 'km_get_monitoring_session', arguments: {} })))}`,
);
for (const scope of [
  { monitoring_scope: 'system', metrics_types: ['cpu', 'memory', 'disk', 'network'] },
  {
    monitoring_scope: 'specific',
    target_id: String(server.pid),
    metrics_types: ['cpu', 'memory', 'disk', 'processes'],
  },
]) {
  const times = await timed(calls, async () => {
    const r = await request('tools/call', {
      name: 'km_monitor_performance',
      arguments: { ...scope, monitoring_duration: 1, sampling_interval: 1 },
    });
    if (r.isError) throw new Error(r.content[0].text);
  });
  console.log(
    `km_monitor_performance ${scope.monitoring_scope}, 1 s: beyond its 1 s of sampling ${fmt(times.map((t) => t - 1000))}`,
  );
}
server.kill();

// For comparison: the same list through the SDK's client, which compiles every output schema.
const transport = new StdioClientTransport({
  command: 'bin/kmpm',
  args: ['mcp', '--no-record', '--data-dir', dataDir],
  stderr: 'ignore',
});
const client = new Client({ name: 'bench', version: '1' });
await client.connect(transport);
console.log(
  `tools/list through the SDK client (client-side schema compilation included): ${fmt(await timed(50, () => client.listTools()))}`,
);
await client.close();
fs.rmSync(dataDir, { recursive: true, force: true });
