import type { Command } from 'commander';
import { LockHeldError } from '../store/lock.js';
import {
  ExitStatus,
  numberOption,
  openBackend,
  openRuntime,
  processIo,
  untilStopped,
  type Io,
} from './common.js';
import { startRecording } from './record.js';

export function registerDaemon(program: Command, io: Io = processIo): void {
  program
    .command('daemon')
    .description(
      'record system, process and automation metrics continuously into the data directory',
    )
    .option('--interval <seconds>', 'seconds between samples, 0.1-60', '1')
    .option('--raw-retention <hours>', 'hours of raw samples to keep, 1-8760', '48')
    .action(async (opts: { interval: string; rawRetention: string }, cmd: Command) => {
      const intervalMs = numberOption('--interval', opts.interval, 0.1, 60) * 1000;
      const rawRetentionMs = numberOption('--raw-retention', opts.rawRetention, 1, 8760) * 3600_000;
      const rt = openRuntime(cmd.optsWithGlobals<{ dataDir?: string }>().dataDir);
      const { backend } = openBackend();
      let recording;
      try {
        recording = startRecording(rt, backend, { intervalMs, rawRetentionMs });
      } catch (err) {
        rt.store.close();
        if (err instanceof LockHeldError) {
          io.err(`kmpm: ${err.message}`);
          throw new ExitStatus(1);
        }
        throw err;
      }
      rt.logger.info({ dataDir: rt.dataDir, intervalMs }, 'recording');
      const signal = await untilStopped(io);
      rt.logger.info({ signal }, 'stopping');
      await recording.stop();
      rt.store.close();
    });
}
