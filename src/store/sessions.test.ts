import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { Store } from './index.js';

const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

function open(): Store {
  const store = Store.open(tempDir());
  stores.push(store);
  return store;
}

const PARAMS = { monitoring_scope: 'system', sampling_interval: 1.5, metrics_types: ['cpu'] };

describe('SessionStore', () => {
  it('creates a running session with its params decoded', () => {
    const { sessions } = open();
    sessions.create('s1', PARAMS, 4321, 1000);
    expect(sessions.get('s1')).toEqual({
      id: 's1',
      created_at: 1000,
      updated_at: 1000,
      owner_pid: 4321,
      params: PARAMS,
      status: 'running',
      progress: 0,
      result: null,
      error: null,
    });
    expect(sessions.get('missing')).toBeNull();
  });

  it('records progress, and a completed session reaches 1 with its result', () => {
    const { sessions } = open();
    sessions.create('s1', PARAMS, 1, 1000);
    sessions.progress('s1', 0.25, 2000);
    expect(sessions.get('s1')).toMatchObject({ progress: 0.25, updated_at: 2000 });
    const result = { status: 'completed', metrics: { cpu_percent: { mean: 12.5 } }, notes: [] };
    sessions.finish('s1', 'completed', 3000, result);
    expect(sessions.get('s1')).toMatchObject({
      status: 'completed',
      progress: 1,
      updated_at: 3000,
      created_at: 1000,
      result,
      error: null,
    });
  });

  it('keeps the progress reached when a session ends any other way', () => {
    const { sessions } = open();
    sessions.create('c', PARAMS, 1, 1000);
    sessions.progress('c', 0.4, 1500);
    sessions.finish('c', 'cancelled', 2000, { partial: true });
    sessions.create('f', PARAMS, 1, 1000);
    sessions.progress('f', 0.1, 1500);
    sessions.finish('f', 'failed', 2000, null, 'sampler broke');
    expect(sessions.get('c')).toMatchObject({
      status: 'cancelled',
      progress: 0.4,
      result: { partial: true },
      error: null,
    });
    expect(sessions.get('f')).toMatchObject({
      status: 'failed',
      progress: 0.1,
      result: null,
      error: 'sampler broke',
    });
  });

  it('lists the newest sessions first, up to a limit', () => {
    const { sessions } = open();
    sessions.create('middle', PARAMS, 1, 2000);
    sessions.create('oldest', PARAMS, 1, 1000);
    sessions.create('newest', PARAMS, 1, 3000);
    expect(sessions.list().map((s) => s.id)).toEqual(['newest', 'middle', 'oldest']);
    expect(sessions.list(2).map((s) => s.id)).toEqual(['newest', 'middle']);
    expect(sessions.list()[0]?.params).toEqual(PARAMS);
  });

  it('marks running sessions of dead owners as interrupted, and only those', () => {
    const { sessions } = open();
    sessions.create('alive', PARAMS, 100, 1000);
    sessions.create('dead', PARAMS, 200, 1000);
    sessions.progress('dead', 0.5, 1500);
    sessions.create('done', PARAMS, 200, 1000);
    sessions.finish('done', 'completed', 1200, { ok: true });
    const asked: number[] = [];
    const n = sessions.markOrphans((pid) => {
      asked.push(pid);
      return pid === 100;
    }, 5000);
    expect(n).toBe(1);
    expect(asked.sort()).toEqual([100, 200]); // finished sessions are not looked at
    expect(sessions.get('alive')).toMatchObject({ status: 'running', updated_at: 1000 });
    expect(sessions.get('dead')).toMatchObject({
      status: 'interrupted',
      updated_at: 5000,
      progress: 0.5,
      result: null,
      error: 'the process running this session exited before it finished',
    });
    expect(sessions.get('done')).toMatchObject({ status: 'completed', result: { ok: true } });
    expect(sessions.markOrphans(() => false, 6000)).toBe(1); // now 'alive' too
    expect(sessions.markOrphans(() => false, 7000)).toBe(0);
  });

  it('survives reopening the database', () => {
    const dir = tempDir();
    const first = Store.open(dir);
    first.sessions.create('kept', PARAMS, 1, 1000);
    first.sessions.finish('kept', 'completed', 2000, { value: 'é "quoted"' });
    first.close();
    const again = Store.open(dir);
    stores.push(again);
    expect(again.sessions.get('kept')?.result).toEqual({ value: 'é "quoted"' });
  });
});
