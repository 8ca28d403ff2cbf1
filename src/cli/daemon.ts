import type { Command } from 'commander';
import { LockHeldError } from '../store/lock.js';
import {
  ExitStatus,
  openBackend,
  openRuntime,
  processIo,
  untilStopped,
  type Io,
} from './common.js';
import { recordingOptions, recordingSettings, startRecording } from './record.js';

export function registerDaemon(program: Command, io: Io = processIo): void {
  recordingOptions(
    program
      .command('daemon')
      .description(
        'record system, process and automation metrics continuously into the data directory',
      ),
    'seconds between samples',
  ).action(async (opts: Parameters<typeof recordingSettings>[0], cmd: Command) => {
    const settings = recordingSettings(opts);
    const rt = openRuntime(cmd.optsWithGlobals<{ dataDir?: string }>().dataDir);
    const { backend } = openBackend();
    let recording;
    try {
      recording = startRecording(rt, backend, settings);
    } catch (err) {
      rt.store.close();
      if (err instanceof LockHeldError) {
        io.err(`kmpm: ${err.message}`);
        throw new ExitStatus(1);
      }
      throw err;
    }
    rt.logger.info({ dataDir: rt.dataDir, ...settings }, 'recording');
    const signal = await untilStopped(io);
    rt.logger.info({ signal }, 'stopping');
    await recording.stop();
    rt.store.close();
  });
}
