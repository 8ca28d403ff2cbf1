import { setTimeout as delay } from 'node:timers/promises';
import { verifiedLockOwner, type FlushInfo } from './lock.js';

export { FLUSH_SIGNAL } from './lock.js';

/** How long a reader waits for the recorder's write; a tool answers within 100 ms. */
const WAIT_MS = 60;
const POLL_MS = 3;
/** A tick may run this much after its time (timer jitter, a busy event loop). */
const LATE_MS = 100;

export interface FreshOptions {
  procRoot?: string;
  clock?: () => number;
  waitMs?: number;
}

/**
 * Asks the recorder of `dataDir` to write the samples it holds and waits (at most `waitMs`)
 * until the store has the sample of its last tick. Returns false only when it asked and
 * the samples did not arrive in time; a recorder that writes every sample at once, or that
 * cannot be verified as running, is not asked.
 */
export async function freshSamples(
  dataDir: string,
  latestTs: () => number | null,
  opts: FreshOptions = {},
): Promise<boolean> {
  const owner = verifiedLockOwner(dataDir, opts.procRoot);
  const flush: FlushInfo | undefined = owner?.flush;
  if (!owner || !flush || flush.flushMs <= flush.intervalMs) return true;
  const clock = opts.clock ?? Date.now;
  const asked = clock();
  try {
    process.kill(owner.pid, flush.signal);
  } catch {
    return true; // gone meanwhile, or another user's: what is stored is all there is
  }
  // The recorder's last tick was at most one interval before the request.
  const due = asked - flush.intervalMs - LATE_MS;
  const deadline = asked + (opts.waitMs ?? WAIT_MS);
  for (;;) {
    const latest = latestTs();
    if (latest !== null && latest >= due) return true;
    if (clock() >= deadline) return false;
    await delay(POLL_MS);
  }
}
