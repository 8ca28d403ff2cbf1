import type { Snapshot } from '../../types.js';
import type { Collector } from '../collector.js';
import { parsePressure } from '../parse/system.js';
import type { ProcFs } from '../procfs.js';
import { KeptSource } from './source.js';

const RESOURCES = ['cpu', 'memory', 'io'] as const;

/**
 * /proc/pressure/{cpu,memory,io} (PSI). Kernels without PSI, or with it disabled, have no
 * such files: the fields then stay null and that is not an error.
 */
export class PressureCollector implements Collector {
  readonly name = 'pressure';
  private readonly sources: { resource: (typeof RESOURCES)[number]; source: KeptSource }[];

  constructor(procfs: ProcFs) {
    this.sources = RESOURCES.map((resource) => ({
      resource,
      source: new KeptSource(procfs, `pressure/${resource}`),
    }));
  }

  collect(snapshot: Snapshot): void {
    const system = snapshot.system;
    for (const { resource, source } of this.sources) {
      const text = source.readOptional();
      if (text === null) continue;
      const { some, full } = parsePressure(text);
      system[`psi_${resource}_some_avg10` as const] = some?.avg10 ?? null;
      system[`psi_${resource}_some_total_us` as const] = some?.total_us ?? null;
      system[`psi_${resource}_full_avg10` as const] = full?.avg10 ?? null;
      system[`psi_${resource}_full_total_us` as const] = full?.total_us ?? null;
    }
  }

  close(): void {
    for (const { source } of this.sources) source.close();
  }
}
