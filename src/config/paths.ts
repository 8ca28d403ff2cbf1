import os from 'node:os';
import path from 'node:path';

export interface DataDirSources {
  flag?: string | undefined;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  home?: string;
}

/**
 * --data-dir wins, then KMPM_DATA_DIR, then the platform convention: XDG data home on
 * Linux, Application Support on macOS, LOCALAPPDATA on Windows.
 */
export function resolveDataDir(src: DataDirSources = {}): string {
  const env = src.env ?? process.env;
  const platform = src.platform ?? process.platform;
  const home = src.home ?? os.homedir();
  if (src.flag) return path.resolve(src.flag);
  if (env.KMPM_DATA_DIR) return path.resolve(env.KMPM_DATA_DIR);
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'kmpm');
  if (platform === 'win32') {
    return path.join(env.LOCALAPPDATA ?? path.join(home, 'AppData', 'Local'), 'kmpm');
  }
  const xdg = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : null;
  return path.join(xdg ?? path.join(home, '.local', 'share'), 'kmpm');
}

export const DB_FILE = 'kmpm.db';
export const EXPORTS_DIR = 'exports';
export const LOG_FILE = 'kmpm.log';
