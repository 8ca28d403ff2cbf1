import type { Command } from 'commander';
import { ExitStatus, numberOption, openRuntime, processIo, type Io } from './common.js';

export function registerAudit(program: Command, io: Io = processIo): void {
  const audit = program.command('audit').description('read and verify the hash-chained audit log');
  audit
    .command('list')
    .description('list audit entries, newest first')
    .option('--limit <n>', 'how many entries, 1-10000', '50')
    .option('--json', 'print JSON')
    .action((opts: { limit: string; json?: boolean }, cmd: Command) => {
      const limit = numberOption('--limit', opts.limit, 1, 10_000);
      const rt = openRuntime(cmd.optsWithGlobals<{ dataDir?: string }>().dataDir);
      try {
        const rows = rt.store.audit.list({ limit: Math.floor(limit) });
        if (opts.json) {
          io.out(JSON.stringify(rows, null, 2));
          return;
        }
        if (rows.length === 0) io.out('no audit entries');
        for (const r of rows) {
          io.out(
            `${r.seq}\t${new Date(r.ts).toISOString()}\t${r.actor}\t${r.action}\t${r.outcome}\t${r.durationMs.toFixed(1)} ms\t${JSON.stringify(r.args)}`,
          );
        }
      } finally {
        rt.store.close();
      }
    });
  audit
    .command('verify')
    .description('check the hash chain: exit 0 when intact, 1 when any entry was edited or deleted')
    .action((_opts: unknown, cmd: Command) => {
      const rt = openRuntime(cmd.optsWithGlobals<{ dataDir?: string }>().dataDir);
      try {
        const result = rt.store.audit.verify();
        if (result.ok) {
          io.out(`audit log intact: ${result.rows} entries verified`);
          return;
        }
        io.err(
          `audit log TAMPERED: ${result.problems.length} problem(s) in ${result.rows} entries`,
        );
        for (const p of result.problems) io.err(`  seq ${p.seq}: ${p.kind}: ${p.message}`);
        throw new ExitStatus(1);
      } finally {
        rt.store.close();
      }
    });
}
