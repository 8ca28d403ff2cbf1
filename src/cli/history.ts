import fs from 'node:fs';
import type { Command } from 'commander';
import { exportHistory } from '../store/csv-export.js';
import {
  CsvImportError,
  importHistory,
  parseHistoryCsv,
  parseTimestamp,
} from '../store/csv-import.js';
import { METRIC_NAMES, metricDef } from '../analyze/catalog.js';
import { errorMessage } from '../errors.js';
import { parseEntity } from '../store/series.js';
import { ExitStatus, numberOption, openRuntime, processIo, UsageError, type Io } from './common.js';

const collect = (value: string, previous: string[]) => [...previous, value];

function timeOption(name: string, raw: string | undefined, fallback: number, now: number): number {
  if (raw === undefined) return fallback;
  try {
    return parseTimestamp(raw, now);
  } catch (err) {
    throw new UsageError(`${name}: ${errorMessage(err)}`);
  }
}

export function registerHistory(program: Command, io: Io = processIo): void {
  program
    .command('import')
    .description(
      'load history from a CSV file (timestamp,metric,value,entity); a bad row rejects the whole file',
    )
    .argument('<file>', 'CSV file to import')
    .action((file: string, _opts: unknown, cmd: Command) => {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        throw new UsageError(
          `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`,
        );
      }
      const rt = openRuntime(cmd.optsWithGlobals<{ dataDir?: string }>().dataDir);
      const started = performance.now();
      try {
        let summary;
        try {
          summary = importHistory(rt.store, parseHistoryCsv(text));
        } catch (err) {
          rt.store.audit.append({
            actor: 'cli',
            action: 'cli:import',
            args: { file },
            outcome: 'error',
            durationMs: performance.now() - started,
            detail: errorMessage(err).slice(0, 500),
          });
          if (err instanceof CsvImportError) {
            io.err(`kmpm: ${file}: ${err.message}`);
            throw new ExitStatus(1);
          }
          throw err;
        }
        rt.store.audit.append({
          actor: 'cli',
          action: 'cli:import',
          args: { file },
          outcome: 'ok',
          durationMs: performance.now() - started,
          detail: JSON.stringify(summary),
        });
        io.out(
          `imported ${summary.rows} rows from ${file}: ${summary.new_points} new points in ${summary.series} series${summary.from ? ` (${summary.from} → ${summary.to})` : ''}${summary.new_points < summary.rows ? `; ${summary.rows - summary.new_points} were already stored` : ''}`,
        );
      } finally {
        rt.store.close();
      }
    });

  program
    .command('export')
    .description('write stored history as CSV (the format kmpm import reads) to stdout or --output')
    .option('--from <time>', 'start, ISO-8601 with zone or epoch ms (default: 24 hours ago)')
    .option('--to <time>', 'end, ISO-8601 with zone or epoch ms (default: now)')
    .option('--metric <name>', 'only this catalog metric (repeatable)', collect, [])
    .option(
      '--entity <entity>',
      'only this entity: system, process:NAME, automation:NAME (repeatable)',
      collect,
      [],
    )
    .option(
      '--step <seconds>',
      'seconds per exported point (each the mean of its step), 1-86400',
      '60',
    )
    .option('--output <file>', 'write to this file instead of stdout')
    .action(
      (
        opts: {
          from?: string;
          to?: string;
          metric: string[];
          entity: string[];
          step: string;
          output?: string;
        },
        cmd: Command,
      ) => {
        const now = Date.now();
        const to = timeOption('--to', opts.to, now, now);
        const from = timeOption('--from', opts.from, to - 86_400_000, now);
        if (from > to) throw new UsageError('--from must be before --to');
        const stepMs = numberOption('--step', opts.step, 1, 86_400) * 1000;
        for (const m of opts.metric) {
          if (!metricDef(m))
            throw new UsageError(
              `--metric: unknown metric '${m}'; allowed: ${METRIC_NAMES.join(', ')}`,
            );
        }
        for (const e of opts.entity) {
          try {
            parseEntity(e);
          } catch (err) {
            throw new UsageError(`--entity '${e}': ${errorMessage(err).replace(/^entity: /, '')}`);
          }
        }
        const rt = openRuntime(cmd.optsWithGlobals<{ dataDir?: string }>().dataDir);
        try {
          const lines = exportHistory(rt.store, {
            from,
            to,
            metrics: opts.metric,
            entities: opts.entity,
            stepMs,
            now,
          });
          if (opts.output) {
            const fd = fs.openSync(opts.output, 'w');
            try {
              for (const line of lines) fs.writeSync(fd, line + '\n');
            } finally {
              fs.closeSync(fd);
            }
          } else {
            for (const line of lines) io.out(line);
          }
        } catch (err) {
          if ((err as { name?: string }).name === 'InputError')
            throw new UsageError(errorMessage(err));
          throw err;
        } finally {
          rt.store.close();
        }
      },
    );
}
