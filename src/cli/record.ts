import type { PlatformBackend } from '../collect/backend.js';
import { Recorder } from '../collect/recorder.js';
import { MCP_RELAY, RELAY_WAIT_MS } from '../alerts/channels/mcp-relay.js';
import { desktopSender, logSender, webhookSender } from '../alerts/channels/senders.js';
import { channelKind, type Senders } from '../alerts/dispatcher.js';
import { AlertRuntime } from '../alerts/runtime.js';
import { AlertStore } from '../alerts/store.js';
import { acquireRecorderLock, type RecorderLock } from '../store/lock.js';
import { FLUSH_SIGNAL } from '../store/samples-fresh.js';
import type { Command } from 'commander';
import { numberOption, type Runtime } from './common.js';

/**
 * A recorder with no sender for 'mcp' (`kmpm daemon`) leaves that channel to the relays of
 * the `kmpm mcp` servers reading its data (MCP_RELAY). It takes such a delivery only once
 * no relay has delivered it within RELAY_WAIT_MS, and then fails it.
 */
export function missingSender(channel: string): string {
  return channelKind(channel) === 'mcp'
    ? `no MCP client connected to a \`kmpm mcp\` serving this data directory received it within ${RELAY_WAIT_MS / 1000} s; the notification is kept in the alert history`
    : `channel '${channel}' cannot be delivered by this recorder`;
}

export interface Recording {
  recorder: Recorder;
  lock: RecorderLock;
  alerts: AlertRuntime;
  stop(): Promise<void>;
}

/** What `--interval` and the retention flags set, for every command that records. */
export interface RecordingSettings {
  intervalMs: number;
  flushMs: number;
  rawRetentionMs: number;
  minuteRetentionMs: number;
  hourRetentionMs: number;
}

interface RecordingFlags {
  interval: string;
  flushInterval: string;
  rawRetention: string;
  minuteRetention: string;
  hourRetention: string;
}

const DAY_MS = 24 * 3600_000;

/**
 * Samples are written every 10 s by default: one transaction for ten 1 s samples writes each
 * table's last page once instead of ten times (docs/performance.md). Readers have the
 * recorder write what it holds before they read (samples-fresh.ts).
 */
export const DEFAULT_FLUSH_MS = 10_000;

/** Adds the flags of a recording command (`kmpm daemon`, and `kmpm mcp` when it records). */
export function recordingOptions(cmd: Command, intervalHelp: string): Command {
  return cmd
    .option('--interval <seconds>', `${intervalHelp}, 0.1-60`, '1')
    .option(
      '--flush-interval <seconds>',
      'seconds samples wait in memory to be written together, 0-60 (0: each at once); kmpm status and MCP tools have them written first, other programs reading the database see them up to this much later, and kill -9 loses them',
      String(DEFAULT_FLUSH_MS / 1000),
    )
    .option('--raw-retention <hours>', 'hours of raw samples to keep, 1-8760', '48')
    .option('--minute-retention <days>', 'days of 1-minute rollups to keep, 1-3650', '30')
    .option('--hour-retention <days>', 'days of 1-hour (and 1-day) rollups to keep, 1-36500', '730')
    .addHelpText(
      'after',
      '\nRun as a program (kmpm on PATH, bin/kmpm, a service), kmpm starts Node with\n' +
        '--v8-pool-size=1: one V8 helper thread, about 5 MB less memory. With\n' +
        '`node bin/kmpm`, add it yourself: node --v8-pool-size=1 bin/kmpm ' +
        cmd.name() +
        '.',
    );
}

/** Validates the flags added by recordingOptions; a bad one is a UsageError naming it. */
export function recordingSettings(flags: RecordingFlags): RecordingSettings {
  return {
    intervalMs: numberOption('--interval', flags.interval, 0.1, 60) * 1000,
    flushMs: numberOption('--flush-interval', flags.flushInterval, 0, 60) * 1000,
    rawRetentionMs: numberOption('--raw-retention', flags.rawRetention, 1, 8760) * 3600_000,
    minuteRetentionMs: numberOption('--minute-retention', flags.minuteRetention, 1, 3650) * DAY_MS,
    hourRetentionMs: numberOption('--hour-retention', flags.hourRetention, 1, 36500) * DAY_MS,
  };
}

/** The recorders of this process, written out on FLUSH_SIGNAL. */
const flushable = new Set<Recorder>();
let listening = false;

/**
 * Installs the FLUSH_SIGNAL handler, once per process and before any lock says that this
 * process takes the signal (unhandled, it would end the process). It stays installed: a
 * reader that read the lock just before it was released may still send it. False where
 * the platform has no such signal.
 */
function listenForFlushRequests(): boolean {
  if (process.platform === 'win32') return false;
  if (!listening) {
    process.on(FLUSH_SIGNAL, () => {
      for (const recorder of flushable) recorder.flush();
    });
    listening = true;
  }
  return true;
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
    flushMs?: number;
    rawRetentionMs?: number;
    minuteRetentionMs?: number;
    hourRetentionMs?: number;
    senders?: Senders;
  },
): Recording {
  const flushMs = opts.flushMs ?? DEFAULT_FLUSH_MS;
  const askable = flushMs > opts.intervalMs && listenForFlushRequests();
  const lock = acquireRecorderLock(
    rt.dataDir,
    askable ? { flush: { signal: FLUSH_SIGNAL, intervalMs: opts.intervalMs, flushMs } } : {},
  );
  try {
    const sampler = backend.createSampler({
      processes: true,
      onError: (name, err) =>
        rt.logger.warn({ err, collector: name }, `collector ${name} failed; the others go on`),
    });
    // Without an MCP client of its own, the recorder leaves 'mcp' to relays (above).
    const store = new AlertStore(rt.store.db, opts.senders?.['mcp'] ? {} : { relay: MCP_RELAY });
    const alerts = new AlertRuntime(store, rt.store.runs, {
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
      flushMs,
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
    flushable.add(recorder);
    return {
      recorder,
      lock,
      alerts,
      async stop() {
        flushable.delete(recorder);
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
