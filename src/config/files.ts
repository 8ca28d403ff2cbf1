import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface DataFile {
  path: string;
  name: string;
  /** The kmpm:// resource URI the MCP server serves it under. */
  uri: string;
}

/**
 * Writes a new file `PREFIX-<UTC time>-<random>.EXT` under `<dataDir>/<dir>` (exports,
 * reports): time-ordered names that two calls in the same second cannot collide on.
 */
export function writeDataFile(
  dataDir: string,
  dir: string,
  prefix: string,
  ext: string,
  content: string,
  now: number,
): DataFile {
  const folder = path.join(dataDir, dir);
  fs.mkdirSync(folder, { recursive: true });
  const stamp = new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const name = `${prefix}-${stamp}-${randomBytes(3).toString('hex')}.${ext}`;
  const file = path.join(folder, name);
  fs.writeFileSync(file, content);
  return { path: file, name, uri: `kmpm://${dir}/${name}` };
}
