import os from 'node:os';
import type { Command } from 'commander';
import { runMeasured, RunSpawnError } from '../automations/measure.js';
import { ExitStatus, processIo, openRuntime, UsageError, type Io } from './common.js';

const NAME_RE = /^[\w .:@/+-]{1,100}$/;

export function registerRun(program: Command, io: Io = processIo): void {
  program
    .command('run')
    .description(
      'run a command and record it as a run of an automation: wall time, CPU of its process tree, peak memory, exit status',
    )
    .usage('--name NAME -- COMMAND [ARGS...]')
    .option('--name <name>', 'automation name the run is recorded under (1-100 characters)')
    .option('--quiet', 'do not print the measurement summary on stderr')
    .argument('[command...]', 'the command and its arguments, after --')
    .action(async (command: string[], opts: { name?: string; quiet?: boolean }, cmd: Command) => {
      if (opts.name === undefined) {
        throw new UsageError(
          command.length
            ? 'run needs --name NAME before -- COMMAND'
            : 'run needs --name NAME -- COMMAND [ARGS...]',
        );
      }
      if (!NAME_RE.test(opts.name)) {
        throw new UsageError(
          `--name must be 1-100 letters, digits, spaces or . : @ / + - _ (got ${JSON.stringify(opts.name)})`,
        );
      }
      if (command.length === 0)
        throw new UsageError(
          'run needs a command after --, e.g. kmpm run --name backup -- ./backup.sh',
        );
      const rt = openRuntime(cmd.optsWithGlobals<{ dataDir?: string }>().dataDir);
      const { store } = rt;
      const started = performance.now();
      let runId: number | null = null;
      let code: number;
      try {
        const m = await runMeasured(command, {
          stdio: 'inherit',
          onStart: (pid, startedAt) => {
            runId = store.runs.start(opts.name as string, command.join(' '), pid, startedAt);
          },
        });
        if (runId !== null) store.runs.finish(runId, m);
        store.audit.append({
          actor: 'cli',
          action: 'cli:run',
          args: { name: opts.name, command },
          outcome: m.status === 'ok' ? 'ok' : 'error',
          durationMs: performance.now() - started,
          detail: `exit ${m.exitCode ?? m.signal}`,
        });
        if (!opts.quiet) {
          io.err(
            `kmpm: ${opts.name}: ${m.status} (${m.signal ?? `exit ${m.exitCode}`}) in ${m.wallMs.toFixed(0)} ms, cpu ${m.cpuMs.toFixed(0)} ms, peak ${(m.peakRssBytes / 2 ** 20).toFixed(1)} MiB`,
          );
        }
        const signo = m.signal
          ? (os.constants.signals as Record<string, number>)[m.signal]
          : undefined;
        code = m.exitCode ?? (signo === undefined ? 1 : 128 + signo);
      } catch (err) {
        if (err instanceof RunSpawnError) {
          store.audit.append({
            actor: 'cli',
            action: 'cli:run',
            args: { name: opts.name, command },
            outcome: 'error',
            durationMs: performance.now() - started,
            detail: err.message,
          });
          io.err(`kmpm: ${err.message}`);
          code = 127;
        } else {
          throw err;
        }
      } finally {
        store.close();
      }
      // The command's own status becomes kmpm's, so kmpm run drops into scripts unchanged.
      if (code !== 0) throw new ExitStatus(code);
    });
}
