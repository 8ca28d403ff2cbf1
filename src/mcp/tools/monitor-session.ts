import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { InputError } from '../../errors.js';
import type { ServerContext } from '../context.js';
import { strictParams, toolResult } from '../schema.js';
import { monitorResultSchema } from './monitor-output.js';

const sessionId = z
  .string()
  .uuid()
  .describe('The session_id returned by km_monitor_performance for a call longer than 30 s.');

const sessionSchema = z.object({
  session_id: z.string(),
  status: z.enum(['running', 'completed', 'cancelled', 'failed', 'interrupted']),
  progress: z.number().describe('Share of the planned samples taken, 0-1'),
  created_at: z.string(),
  updated_at: z.string(),
  params: z.record(z.string(), z.unknown()),
  error: z.string().nullable(),
  result: monitorResultSchema.nullable(),
});

export function registerMonitorSessionTools(server: McpServer, ctx: ServerContext): void {
  server.registerTool(
    'km_get_monitoring_session',
    {
      title: 'Get monitoring session',
      description:
        'Status and, once finished, the results of a background monitoring session started by km_monitor_performance. Without session_id, lists the most recent sessions.',
      inputSchema: strictParams({ session_id: sessionId.optional() }),
      outputSchema: z.object({ sessions: z.array(sessionSchema) }),
      annotations: {
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    ({ session_id }) => {
      const records =
        session_id === undefined
          ? ctx.store.sessions.list(20)
          : [ctx.store.sessions.get(session_id)];
      if (records[0] === null)
        throw new InputError('session_id', `no monitoring session with id ${session_id}`);
      const sessions = records.flatMap((r) =>
        r === null
          ? []
          : [
              {
                session_id: r.id,
                status: r.status,
                progress: r.progress,
                created_at: new Date(r.created_at).toISOString(),
                updated_at: new Date(r.updated_at).toISOString(),
                params: r.params as Record<string, unknown>,
                error: r.error,
                result: r.result as z.infer<typeof monitorResultSchema> | null,
              },
            ],
      );
      const text =
        sessions.length === 0
          ? 'No monitoring sessions yet.'
          : sessions
              .map(
                (s) =>
                  `${s.session_id}: ${s.status} (${Math.round(s.progress * 100)} %)${s.error ? ` — ${s.error}` : ''}`,
              )
              .join('\n');
      return toolResult({ sessions }, text);
    },
  );

  server.registerTool(
    'km_stop_monitoring_session',
    {
      title: 'Stop monitoring session',
      description:
        'Stops a running background monitoring session early; it keeps the samples taken so far and ends as cancelled.',
      inputSchema: strictParams({ session_id: sessionId }),
      outputSchema: z.object({ session_id: z.string(), stopped: z.boolean(), status: z.string() }),
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    ({ session_id }) => {
      const record = ctx.store.sessions.get(session_id);
      if (!record)
        throw new InputError('session_id', `no monitoring session with id ${session_id}`);
      const stopped = ctx.sessions.stop(session_id);
      if (!stopped && record.status === 'running') {
        throw new InputError(
          'session_id',
          `session ${session_id} is run by another kmpm process (pid ${record.owner_pid}); stop it there`,
        );
      }
      const status = stopped ? 'stopping' : record.status;
      return toolResult(
        { session_id, stopped, status },
        stopped
          ? `Stopping session ${session_id}; its partial results will be saved.`
          : `Session ${session_id} already ended (${record.status}).`,
      );
    },
  );
}
