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

const DAY_MS = 24 * 3600_000;

interface DaemonOptions {
  interval: string;
  rawRetention: string;
  minuteRetention: string;
  hourRetention: string;
}

export function registerDaemon(program: Command, io: Io = processIo): void {
  program
    .command('daemon')
    .description(
      'record system, process and automation metrics continuously into the data directory',
    )
    .option('--interval <seconds>', 'seconds between samples, 0.1-60', '1')
    .option('--raw-retention <hours>', 'hours of raw samples to keep, 1-8760', '48')
    .option('--minute-retention <days>', 'days of 1-minute rollups to keep, 1-3650', '30')
    .option('--hour-retention <days>', 'days of 1-hour (and 1-day) rollups to keep, 1-36500', '730')
    .action(async (opts: DaemonOptions, cmd: Command) => {
      const intervalMs = numberOption('--interval', opts.interval, 0.1, 60) * 1000;
      const rawRetentionMs = numberOption('--raw-retention', opts.rawRetention, 1, 8760) * 3600_000;
      const minuteRetentionMs =
        numberOption('--minute-retention', opts.minuteRetention, 1, 3650) * DAY_MS;
      const hourRetentionMs =
        numberOption('--hour-retention', opts.hourRetention, 1, 36500) * DAY_MS;
      const rt = openRuntime(cmd.optsWithGlobals<{ dataDir?: string }>().dataDir);
      const { backend } = openBackend();
      let recording;
      try {
        recording = startRecording(rt, backend, {
          intervalMs,
          rawRetentionMs,
          minuteRetentionMs,
          hourRetentionMs,
        });
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
