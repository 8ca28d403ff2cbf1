import type { Snapshot, SystemField } from '../../types.js';
import type { Collector } from '../collector.js';
import { parsePressure } from '../parse/system.js';
import type { ProcFs } from '../procfs.js';
import { KeptSource } from './source.js';

const RESOURCES = ['cpu', 'memory', 'io'] as const;

interface PressureSource {
  source: KeptSource;
  someAvg10: SystemField;
  someTotal: SystemField;
  fullAvg10: SystemField;
  fullTotal: SystemField;
}

/**
 * /proc/pressure/{cpu,memory,io} (PSI). Kernels without PSI, or with it disabled, have no
 * such files: the fields then stay null and that is not an error.
 */
export class PressureCollector implements Collector {
  readonly name = 'pressure';
  private readonly sources: PressureSource[];

  constructor(procfs: ProcFs) {
    this.sources = RESOURCES.map((resource) => ({
      source: new KeptSource(procfs, `pressure/${resource}`, true),
      // The field names are built once here, not on every tick.
      someAvg10: `psi_${resource}_some_avg10`,
      someTotal: `psi_${resource}_some_total_us`,
      fullAvg10: `psi_${resource}_full_avg10`,
      fullTotal: `psi_${resource}_full_total_us`,
    }));
  }

  collect(snapshot: Snapshot): void {
    const system = snapshot.system;
    for (const p of this.sources) {
      const text = p.source.readOptional();
      if (text === null) continue;
      const { some, full } = parsePressure(text);
      system[p.someAvg10] = some?.avg10 ?? null;
      system[p.someTotal] = some?.total_us ?? null;
      system[p.fullAvg10] = full?.avg10 ?? null;
      system[p.fullTotal] = full?.total_us ?? null;
    }
  }

  close(): void {
    for (const { source } of this.sources) source.close();
  }
}
