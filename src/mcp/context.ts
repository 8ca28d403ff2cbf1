import type { PlatformBackend } from '../collect/backend.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import type { MachineInfo } from '../types.js';
import type { MonitorSessions } from './sessions.js';

/** What every tool needs; built once per server. */
export interface ServerContext {
  store: Store;
  backend: PlatformBackend;
  machine: MachineInfo;
  dataDir: string;
  logger: Logger;
  clock: () => number;
  /** Who is calling, for the audit log: 'mcp:stdio', 'mcp:memory', … */
  actor: string;
  /** Whether this process records samples (it holds the recorder lock). */
  recording: () => boolean;
  /**
   * Has the samples the recorder holds in memory written (this process's recorder, or the
   * one recording into the data directory), so that a tool reading the store sees every
   * sample taken so far.
   */
  flushSamples?: () => void | Promise<void>;
  sessions: MonitorSessions;
}
