import type { PlatformBackend } from '../collect/backend.js';
import { Recorder } from '../collect/recorder.js';
import { acquireRecorderLock, type RecorderLock } from '../store/lock.js';
import type { Runtime } from './common.js';

export interface Recording {
  recorder: Recorder;
  lock: RecorderLock;
  stop(): void;
}

/**
 * Takes the single-writer lock and starts recording. Throws LockHeldError when another
 * live recorder holds the data directory.
 */
export function startRecording(
  rt: Runtime,
  backend: PlatformBackend,
  opts: { intervalMs: number; rawRetentionMs?: number },
): Recording {
  const lock = acquireRecorderLock(rt.dataDir);
  try {
    const sampler = backend.createSampler({
      processes: true,
      onError: (name, err) =>
        rt.logger.warn({ err, collector: name }, `collector ${name} failed; the others go on`),
    });
    const recorder = new Recorder(sampler, rt.store, {
      intervalMs: opts.intervalMs,
      logger: rt.logger,
      machine: backend.machineInfo(),
      ...(opts.rawRetentionMs === undefined ? {} : { rawRetentionMs: opts.rawRetentionMs }),
    });
    recorder.start();
    return {
      recorder,
      lock,
      stop() {
        recorder.stop();
        sampler.close();
        lock.release();
      },
    };
  } catch (err) {
    lock.release();
    throw err;
  }
}
