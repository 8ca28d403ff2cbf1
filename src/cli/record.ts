import type { PlatformBackend } from '../collect/backend.js';
import { Recorder } from '../collect/recorder.js';
import { desktopSender, logSender, webhookSender } from '../alerts/channels/senders.js';
import { channelKind, type Senders } from '../alerts/dispatcher.js';
import { AlertRuntime } from '../alerts/runtime.js';
import { AlertStore } from '../alerts/store.js';
import { acquireRecorderLock, type RecorderLock } from '../store/lock.js';
import type { Runtime } from './common.js';

/**
 * The 'mcp' channel reaches the client of the process that records: `kmpm mcp` has one,
 * `kmpm daemon` never does. There such a delivery fails at once, and the notification stays
 * in the alert history that any `kmpm mcp` reading this data directory shows.
 */
function missingSender(channel: string): string {
  return channelKind(channel) === 'mcp'
    ? 'no MCP client: the recorder is `kmpm daemon`, and mcp notifications reach only the client of a recording `kmpm mcp`; the notification is kept in the alert history'
    : `channel '${channel}' cannot be delivered by this recorder`;
}

export interface Recording {
  recorder: Recorder;
  lock: RecorderLock;
  alerts: AlertRuntime;
  stop(): Promise<void>;
}

/**
 * Takes the single-writer lock and starts recording, with alert rules evaluated on every
 * stored snapshot (only the recorder evaluates, so each notification is made once).
 * Throws LockHeldError when another live recorder holds the data directory.
 */
export function startRecording(
  rt: Runtime,
  backend: PlatformBackend,
  opts: {
    intervalMs: number;
    rawRetentionMs?: number;
    minuteRetentionMs?: number;
    hourRetentionMs?: number;
    senders?: Senders;
  },
): Recording {
  const lock = acquireRecorderLock(rt.dataDir);
  try {
    const sampler = backend.createSampler({
      processes: true,
      onError: (name, err) =>
        rt.logger.warn({ err, collector: name }, `collector ${name} failed; the others go on`),
    });
    const alerts = new AlertRuntime(new AlertStore(rt.store.db), rt.store.runs, {
      intervalMs: opts.intervalMs,
      logger: rt.logger,
      senders: {
        log: logSender(rt.logger),
        webhook: webhookSender(),
        desktop: desktopSender(),
        ...opts.senders,
      },
      missingSender,
    });
    const recorder = new Recorder(sampler, rt.store, {
      intervalMs: opts.intervalMs,
      logger: rt.logger,
      machine: backend.machineInfo(),
      onSnapshot: (snapshot) => alerts.onSnapshot(snapshot),
      ...(opts.rawRetentionMs === undefined ? {} : { rawRetentionMs: opts.rawRetentionMs }),
      ...(opts.minuteRetentionMs === undefined
        ? {}
        : { minuteRetentionMs: opts.minuteRetentionMs }),
      ...(opts.hourRetentionMs === undefined ? {} : { hourRetentionMs: opts.hourRetentionMs }),
    });
    alerts.start();
    recorder.start();
    return {
      recorder,
      lock,
      alerts,
      async stop() {
        recorder.stop();
        sampler.close();
        // Deliveries in flight finish (each is bounded by its timeout); the rest wait in the outbox.
        await alerts.dispatcher.idle();
        lock.release();
      },
    };
  } catch (err) {
    lock.release();
    throw err;
  }
}
