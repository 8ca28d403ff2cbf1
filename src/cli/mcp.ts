import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Command } from 'commander';
import { relayToClient } from '../alerts/channels/mcp-relay.js';
import { mcpSender } from '../alerts/channels/mcp-sender.js';
import { DeliveryQueue } from '../alerts/deliveries.js';
import { createMcpServer } from '../mcp/server.js';
import { MonitorSessions } from '../mcp/sessions.js';
import { LockHeldError } from '../store/lock.js';
import { freshSamples } from '../store/samples-fresh.js';
import { openBackend, openRuntime, processIo, untilStopped, type Io } from './common.js';
import { recordingOptions, recordingSettings, startRecording, type Recording } from './record.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function registerMcp(program: Command, io: Io = processIo): void {
  recordingOptions(
    program
      .command('mcp')
      .description(
        "serve the MCP tools over stdio (stdout carries only the protocol; logs go to stderr). Records while no daemon does; otherwise relays the recorder's mcp alert notifications to its client.",
      )
      .option('--no-record', 'serve stored and imported history only; never start the recorder'),
    'seconds between samples when this process records',
  ).action(
    async (opts: Parameters<typeof recordingSettings>[0] & { record: boolean }, cmd: Command) => {
      const settings = recordingSettings(opts);
      const rt = openRuntime(cmd.optsWithGlobals<{ dataDir?: string }>().dataDir);
      const { backend, machine } = openBackend();
      let recording: Recording | null = null;
      rt.store.sessions.markOrphans(isAlive, Date.now());
      const sessions = new MonitorSessions({
        backend,
        machine,
        store: rt.store,
        dataDir: rt.dataDir,
        logger: rt.logger,
      });
      const server = createMcpServer({
        store: rt.store,
        backend,
        machine,
        dataDir: rt.dataDir,
        logger: rt.logger,
        clock: Date.now,
        actor: 'mcp:stdio',
        recording: () => recording !== null,
        // Recording, it writes what it holds; else it asks the recorder to.
        flushSamples: () =>
          recording === null
            ? freshSamples(rt.dataDir, () => rt.store.query.latestTimestamp()).then(() => {})
            : void recording.recorder.flush(),
        sessions,
      });
      if (opts.record) {
        try {
          // The server exists first so that alerts can notify its client (channel 'mcp').
          recording = startRecording(rt, backend, {
            ...settings,
            senders: { mcp: mcpSender(server) },
          });
        } catch (err) {
          if (!(err instanceof LockHeldError)) throw err;
          rt.logger.info(
            `a recorder (pid ${err.owner.pid}) already records here; serving its data`,
          );
        }
      }
      // Not recording, it relays the recorder's 'mcp' notifications to its client, from those
      // stored after this point on.
      const relay =
        recording === null
          ? relayToClient(server, new DeliveryQueue(rt.store.db), { logger: rt.logger })
          : null;
      const stdin = io.stdin ?? process.stdin;
      const transport = new StdioServerTransport(stdin, io.stdout ?? process.stdout);
      await server.connect(transport);
      rt.logger.info(
        { dataDir: rt.dataDir, recording: recording !== null },
        'MCP server ready on stdio',
      );
      await untilStopped(io, (stop) => {
        stdin.on('end', stop);
        stdin.on('close', stop);
      });
      sessions.stopAll();
      await relay?.stop();
      await recording?.stop();
      await server.close();
      rt.store.close();
    },
  );
}
