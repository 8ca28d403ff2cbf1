import type { PlatformBackend } from '../collect/backend.js';
import { Recorder } from '../collect/recorder.js';
import { desktopSender, logSender, webhookSender } from '../alerts/channels/senders.js';
import type { Senders } from '../alerts/dispatcher.js';
import { AlertRuntime } from '../alerts/runtime.js';
import { AlertStore } from '../alerts/store.js';
import { acquireRecorderLock, type RecorderLock } from '../store/lock.js';
import type { Runtime } from './common.js';

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
  opts: { intervalMs: number; rawRetentionMs?: number; senders?: Senders },
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
    });
    const recorder = new Recorder(sampler, rt.store, {
      intervalMs: opts.intervalMs,
      logger: rt.logger,
      machine: backend.machineInfo(),
      onSnapshot: (snapshot) => alerts.onSnapshot(snapshot),
      ...(opts.rawRetentionMs === undefined ? {} : { rawRetentionMs: opts.rawRetentionMs }),
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
