import fs from 'node:fs';
import path from 'node:path';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { EXPORTS_DIR } from '../config/paths.js';
import { errorMessage } from '../errors.js';
import { latestSystemValues } from '../store/latest.js';
import type { ServerContext } from './context.js';
import { registerSetAlertTool } from './tools/alerts.js';
import { registerAlertManagementTools } from './tools/alerts-manage.js';
import { registerBottlenecksTool, REPORTS_DIR } from './tools/bottlenecks.js';
import { registerMonitorTool } from './tools/monitor.js';
import { registerMonitorSessionTools } from './tools/monitor-session.js';

export const SERVER_NAME = 'km-performance-monitor';

type Handler = (
  request: { params: { name: string; arguments?: unknown } },
  extra: { signal: AbortSignal },
) => Promise<{ isError?: boolean; content?: { text?: string }[] }>;

/**
 * Replaces one of the SDK's request handlers with a wrapper around it. McpServer installs
 * its handlers on first registration and keeps them in a map that is not public API;
 * tests pin this behaviour for the SDK version in the lockfile.
 */
function wrapHandler(server: McpServer, method: string, wrap: (inner: Handler) => Handler): void {
  const handlers = (server.server as unknown as { _requestHandlers: Map<string, Handler> })
    ._requestHandlers;
  const inner = handlers.get(method);
  if (!inner) throw new Error(`${method} handler missing: register tools before wrapping it`);
  handlers.set(method, wrap(inner));
}

/**
 * The tool list never changes after start-up, but the SDK rebuilds every JSON Schema from
 * zod on each tools/list (tens of ms); answer it from the first build.
 */
function cacheToolList(server: McpServer): void {
  wrapHandler(server, 'tools/list', (inner) => {
    let cached: ReturnType<Handler> | null = null;
    return (request, extra) =>
      (cached ??= inner(request, extra).catch((err: unknown) => {
        cached = null; // a failed build is not remembered
        throw err;
      }));
  });
}

/**
 * Writes every tool call — valid or not — to the audit log with its outcome and duration.
 * The SDK validates arguments before a tool's handler runs, so this wraps tools/call itself.
 */
function auditToolCalls(server: McpServer, ctx: ServerContext): void {
  wrapHandler(server, 'tools/call', (inner) => async (request, extra) => {
    const started = performance.now();
    await samplesWritten(ctx);
    let outcome = 'ok';
    let detail: string | undefined;
    try {
      const result = await inner(request, extra);
      if (result.isError) {
        outcome = 'error';
        detail = result.content?.[0]?.text?.slice(0, 500);
      }
      return result;
    } catch (err) {
      outcome = 'error';
      detail = errorMessage(err).slice(0, 500);
      throw err;
    } finally {
      if (extra.signal.aborted) outcome = 'cancelled';
      try {
        ctx.store.audit.append({
          actor: ctx.actor,
          action: `tool:${request.params.name}`,
          args: request.params.arguments ?? {},
          outcome,
          durationMs: performance.now() - started,
          ...(detail === undefined ? {} : { detail }),
        });
      } catch (err) {
        ctx.logger.error({ err }, 'writing the audit log failed');
      }
    }
  });
}

/** Has the recorder's samples written before a read; a failure leaves what is stored. */
async function samplesWritten(ctx: ServerContext): Promise<void> {
  try {
    await ctx.flushSamples?.();
  } catch (err) {
    ctx.logger.warn(
      { err },
      'the samples the recorder holds could not be had; reading what is stored',
    );
  }
}

async function latestSystemSnapshot(ctx: ServerContext): Promise<Record<string, unknown>> {
  await samplesWritten(ctx);
  const latest = latestSystemValues(ctx.store.query);
  if (latest.ts === null) {
    const reason =
      latest.reason === 'no samples stored yet'
        ? 'no samples stored yet; start `kmpm daemon` or keep `kmpm mcp` running'
        : latest.reason;
    return { available: false, reason };
  }
  return { available: true, ts: new Date(latest.ts).toISOString(), values: latest.values };
}

export function createMcpServer(ctx: ServerContext): McpServer {
  const server = new McpServer(
    { name: SERVER_NAME, version: '0.1.0' },
    {
      capabilities: { logging: {} },
      instructions:
        'kmpm records system, process and automation metrics. Start with km_monitor_performance (monitoring_scope "system") to see what the machine is doing now.',
    },
  );
  registerMonitorTool(server, ctx);
  registerMonitorSessionTools(server, ctx);
  registerBottlenecksTool(server, ctx);
  registerSetAlertTool(server, ctx);
  registerAlertManagementTools(server, ctx);
  auditToolCalls(server, ctx);
  cacheToolList(server);

  server.registerResource(
    'system-snapshot',
    'kmpm://system/snapshot',
    {
      title: 'Latest system metrics',
      description: 'The system metrics between the two most recent stored samples',
      mimeType: 'application/json',
    },
    async (uri) => ({
      contents: [
        {
          uri: uri.href,
          mimeType: 'application/json',
          text: JSON.stringify(await latestSystemSnapshot(ctx), null, 2),
        },
      ],
    }),
  );

  const files = (kind: string, dir: string, ext: string, mimeType: string, description: string) =>
    server.registerResource(
      kind,
      new ResourceTemplate(`kmpm://${dir}/{name}`, { list: undefined }),
      { title: description, description, mimeType },
      (uri, { name }) => {
        const file = String(name);
        if (!new RegExp(`^[\\w.-]+\\.${ext}$`).test(file) || file.startsWith('.')) {
          throw new Error(`invalid ${kind} name '${file}'`);
        }
        const full = path.join(ctx.dataDir, dir, file);
        if (!fs.existsSync(full)) throw new Error(`no ${kind} named '${file}'`);
        return { contents: [{ uri: uri.href, mimeType, text: fs.readFileSync(full, 'utf8') }] };
      },
    );
  files('export', EXPORTS_DIR, 'csv', 'text/csv', 'CSV files written by km_monitor_performance');
  files('report', REPORTS_DIR, 'md', 'text/markdown', 'Reports written by km_analyze_bottlenecks');

  server.registerPrompt(
    'investigate_slowdown',
    {
      title: 'Why is this machine slow?',
      description: 'Samples the machine and explains what is using CPU, memory, disk and network',
    },
    () => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'text',
            text: 'Call km_monitor_performance with monitoring_scope "system", metrics_types ["cpu","memory","disk","network","processes"], monitoring_duration 10 and include_historical true. Compare the window with the previous hour, name the processes in top_processes that use the most CPU and memory, and say what to change.',
          },
        },
      ],
    }),
  );
  return server;
}
