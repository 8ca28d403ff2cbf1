import { Command, CommanderError } from 'commander';
import { errorMessage } from '../errors.js';
import { registerAudit } from './audit.js';
import { EXIT_USAGE, ExitStatus, processIo, UsageError, type Io } from './common.js';
import { registerDaemon } from './daemon.js';
import { registerHistory } from './history.js';
import { registerMcp } from './mcp.js';
import { registerRun } from './run.js';
import { registerStatus } from './status.js';

export function buildProgram(io: Io = processIo): Command {
  const program = new Command('kmpm')
    .description(
      'km-performance-monitor: records system, process and automation metrics; serves them over MCP',
    )
    .version('0.1.0')
    .option(
      '--data-dir <dir>',
      'data directory (default: $KMPM_DATA_DIR, else the platform data directory)',
    )
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.trimEnd()),
      writeErr: (s) => io.err(s.trimEnd()),
      outputError: () => undefined,
    });
  registerDaemon(program, io);
  registerMcp(program, io);
  registerStatus(program, io);
  registerRun(program, io);
  registerAudit(program, io);
  registerHistory(program, io);
  for (const cmd of program.commands) {
    cmd.exitOverride().configureOutput({ outputError: () => undefined });
    for (const sub of cmd.commands)
      sub.exitOverride().configureOutput({ outputError: () => undefined });
  }
  return program;
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 bad arguments). */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof ExitStatus) return err.code;
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0;
      io.err(`kmpm: ${err.message.replace(/^error: /, '')}`);
      return EXIT_USAGE;
    }
    if (err instanceof UsageError) {
      io.err(`kmpm: ${err.message}`);
      return EXIT_USAGE;
    }
    io.err(`kmpm: ${errorMessage(err)}`);
    return 1;
  }
}

/** Entry point of bin/kmpm. */
export async function run(argv: string[]): Promise<void> {
  const code = await main(argv);
  process.exit(code);
}
