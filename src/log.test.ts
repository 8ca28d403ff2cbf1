import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tempDir } from '../test/helpers/tmp.js';
import { createLogger, silentLogger, type Logger } from './log.js';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

/** Flushes an async destination and gives its write a moment to land. */
async function flushed(logger: Logger): Promise<void> {
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
  await delay(20);
}

async function linesOf(file: string): Promise<Record<string, unknown>[]> {
  for (let i = 0; i < 50; i++) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (text.endsWith('\n')) {
      return text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    }
    await delay(20);
  }
  throw new Error(`nothing was written to ${file}`);
}

describe('createLogger', () => {
  it('writes JSON lines to a file, creating its directory', async () => {
    const file = path.join(tempDir(), 'logs', 'nested', 'kmpm.log');
    const logger = createLogger({ file, level: 'debug' });
    logger.debug({ tick: 3 }, 'sampled');
    logger.trace('below the level');
    await flushed(logger);
    const lines = await linesOf(file);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 20, pid: process.pid, tick: 3, msg: 'sampled' });
    expect(lines[0]).not.toHaveProperty('hostname');
    expect(typeof lines[0]?.time).toBe('number');
    const stream = (logger as unknown as Record<symbol, { end(): void }>)[pino.symbols.streamSym];
    stream?.end(); // closes the file's fd
  });

  it('takes its level from KMPM_LOG_LEVEL, else info', () => {
    vi.stubEnv('KMPM_LOG_LEVEL', 'warn');
    expect(createLogger().level).toBe('warn');
    expect(createLogger({ level: 'error' }).level).toBe('error');
    delete process.env.KMPM_LOG_LEVEL;
    expect(createLogger().level).toBe('info');
  });

  it('writes to stderr (fd 2), never stdout, by default', () => {
    vi.stubEnv('KMPM_LOG_LEVEL', 'info');
    const writes: [number, string][] = [];
    const real = fs.writeSync;
    vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, data: unknown, ...rest: never[]) => {
      if (fd === 1 || fd === 2) {
        writes.push([fd, String(data)]);
        return Buffer.byteLength(String(data));
      }
      return real(fd, data as string, ...rest);
    }) as typeof fs.writeSync);
    const logger = createLogger();
    logger.info({ session: 's1' }, 'monitoring started');
    logger.debug('not at info');
    expect(writes.map(([fd]) => fd)).toEqual([2]);
    expect(JSON.parse(writes[0]?.[1] ?? '')).toMatchObject({
      level: 30,
      pid: process.pid,
      session: 's1',
      msg: 'monitoring started',
    });
  });
});

describe('silentLogger', () => {
  it('discards everything', () => {
    const writes = vi.spyOn(fs, 'writeSync');
    const logger = silentLogger();
    expect(logger.level).toBe('silent');
    logger.fatal('nobody hears this');
    expect(logger.isLevelEnabled('fatal')).toBe(false);
    expect(writes).not.toHaveBeenCalled();
  });
});
