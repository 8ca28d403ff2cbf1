import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveDataDir } from './paths.js';

describe('resolveDataDir', () => {
  const home = '/home/u';
  it('prefers the flag, then KMPM_DATA_DIR', () => {
    expect(resolveDataDir({ flag: 'rel/dir', env: { KMPM_DATA_DIR: '/x' }, home })).toBe(
      path.resolve('rel/dir'),
    );
    expect(resolveDataDir({ env: { KMPM_DATA_DIR: '/x' }, home })).toBe('/x');
  });
  it('follows platform conventions', () => {
    expect(resolveDataDir({ env: {}, platform: 'linux', home })).toBe('/home/u/.local/share/kmpm');
    expect(resolveDataDir({ env: { XDG_DATA_HOME: '/xdg' }, platform: 'linux', home })).toBe(
      '/xdg/kmpm',
    );
    expect(resolveDataDir({ env: { XDG_DATA_HOME: 'relative' }, platform: 'linux', home })).toBe(
      '/home/u/.local/share/kmpm',
    );
    expect(resolveDataDir({ env: {}, platform: 'darwin', home })).toBe(
      '/home/u/Library/Application Support/kmpm',
    );
    expect(resolveDataDir({ env: { LOCALAPPDATA: 'C:\\L' }, platform: 'win32', home })).toBe(
      path.join('C:\\L', 'kmpm'),
    );
    expect(resolveDataDir({ env: {}, platform: 'win32', home })).toBe(
      path.join(home, 'AppData', 'Local', 'kmpm'),
    );
  });
});
