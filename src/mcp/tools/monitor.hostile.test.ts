import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectInMemory, text, type Harness } from '../../../test/helpers/mcp.js';

const SCOPES = ['system', 'automation', 'macro', 'specific'];
const TYPES = ['cpu', 'memory', 'disk', 'network', 'processes', 'execution_time', 'error_rate'];
const FORMATS = ['json', 'csv', 'dashboard'];
const PARAMS = [
  'monitoring_scope',
  'target_id',
  'metrics_types',
  'monitoring_duration',
  'sampling_interval',
  'include_historical',
  'alert_thresholds',
  'export_format',
];

const notIn = (allowed: string[]) => fc.string().filter((s) => !allowed.includes(s));
const junk = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.object({ maxDepth: 1 }),
  fc.array(fc.integer(), { maxLength: 3 }),
);

/** For every parameter: values the schema must reject. */
const INVALID: Record<string, fc.Arbitrary<unknown>> = {
  monitoring_scope: fc.oneof(notIn(SCOPES), fc.integer(), fc.constant(null), fc.constant('SYSTEM')),
  target_id: fc.oneof(
    fc.integer(),
    fc.constant(''),
    fc.string({ minLength: 257, maxLength: 300 }),
    fc.boolean(),
  ),
  metrics_types: fc.oneof(
    fc.constant([]),
    fc.array(notIn(TYPES), { minLength: 1, maxLength: 3 }),
    fc.string(),
    fc.array(fc.constantFrom(...TYPES), { minLength: 8, maxLength: 10 }),
  ),
  monitoring_duration: fc.oneof(
    fc.integer({ max: 0 }),
    fc.integer({ min: 3601 }),
    fc.double({ min: 1.01, max: 3599.99, noNaN: true }).filter((d) => !Number.isInteger(d)),
    fc.string(),
  ),
  sampling_interval: fc.oneof(
    fc.double({ max: 0.0999, noNaN: true }),
    fc.double({ min: 60.001, noNaN: true, noDefaultInfinity: true }),
    fc.string(),
    fc.constant(null),
  ),
  include_historical: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
  alert_thresholds: fc.oneof(
    fc.string(),
    fc.array(fc.integer(), { minLength: 1 }),
    fc.dictionary(fc.constantFrom('cpu', 'memory_used_bytes'), fc.string(), { minKeys: 1 }),
  ),
  export_format: fc.oneof(notIn(FORMATS), fc.integer(), fc.constant('CSV')),
};

const VALID = { monitoring_scope: 'system', monitoring_duration: 1, sampling_interval: 1 };

let h: Harness;
beforeAll(async () => {
  h = await connectInMemory();
});
afterAll(async () => h.close());

describe('km_monitor_performance under hostile input', () => {
  it('rejects every invalid parameter by name, and stays up with nothing lost', async () => {
    const runs = h.ctx.store.runs;
    const id = runs.start('keep-me', 'true', 1, Date.now());
    const before = h.ctx.store.query.counts();

    const invalidCase = fc
      .subarray(PARAMS, { minLength: 1, maxLength: 3 })
      .chain((bad) =>
        fc
          .record(Object.fromEntries(bad.map((p) => [p, INVALID[p] as fc.Arbitrary<unknown>])))
          .map((values) => ({ bad, values })),
      );
    await fc.assert(
      fc.asyncProperty(invalidCase, async ({ bad, values }) => {
        const args = { ...VALID, ...values };
        const r = await h.client.callTool({ name: 'km_monitor_performance', arguments: args });
        expect(r.isError, JSON.stringify(args)).toBe(true);
        const msg = text(r);
        expect(
          bad.some((p) => msg.includes(p)),
          `${msg} should name one of ${bad.join(', ')}`,
        ).toBe(true);
      }),
      { numRuns: 150 },
    );

    const unknownKey = fc.record({
      key: fc
        .string({ minLength: 1, maxLength: 20 })
        .filter((k) => !PARAMS.includes(k) && k !== '__proto__'),
      value: junk,
    });
    await fc.assert(
      fc.asyncProperty(unknownKey, async ({ key, value }) => {
        const r = await h.client.callTool({
          name: 'km_monitor_performance',
          arguments: { ...VALID, [key]: value },
        });
        expect(r.isError).toBe(true);
        expect(text(r)).toContain('unknown parameter');
        expect(text(r)).toContain(key);
        expect(text(r)).toContain('allowed parameters: monitoring_scope');
      }),
      { numRuns: 40 },
    );

    // Inputs that pass the schema but not the machine: named clearly too.
    const semantic: [Record<string, unknown>, RegExp][] = [
      [{ monitoring_scope: 'specific' }, /target_id: is required/],
      [
        { monitoring_scope: 'specific', target_id: '4194305' },
        /target_id: no running process with PID 4194305/,
      ],
      [
        { monitoring_scope: 'specific', target_id: 'no-such-command-xyz' },
        /no running process named 'no-such-command-xyz'/,
      ],
      [
        { monitoring_scope: 'automation' },
        /target_id: is required with monitoring_scope 'automation'/,
      ],
      [
        { monitoring_scope: 'macro', target_id: 'nope' },
        /unknown automation 'nope'; known automations: keep-me/,
      ],
      [
        { monitoring_scope: 'system', target_id: '1' },
        /target_id: is not used with monitoring_scope 'system'/,
      ],
      [
        { ...VALID, monitoring_duration: 2, sampling_interval: 3 },
        /sampling_interval: 3 s is longer than monitoring_duration/,
      ],
      [
        { ...VALID, alert_thresholds: { disk_busy_percent: 5 } },
        /alert_thresholds.disk_busy_percent: 'disk_busy_percent' is not monitored/,
      ],
      [
        { ...VALID, alert_thresholds: { nonsense: 5 } },
        /alert_thresholds.nonsense: unknown metric/,
      ],
    ];
    for (const [args, re] of semantic) {
      const r = await h.client.callTool({ name: 'km_monitor_performance', arguments: args });
      expect(r.isError, JSON.stringify(args)).toBe(true);
      expect(text(r)).toMatch(re);
    }

    // Still serving, data intact, every call audited and the chain unbroken.
    const ok = await h.client.callTool({ name: 'km_monitor_performance', arguments: VALID });
    expect(ok.isError).toBeFalsy();
    const after = h.ctx.store.query.counts();
    expect(after.automation_run).toBe(before.automation_run);
    expect(runs.running('keep-me').map((r) => r.id)).toEqual([id]);
    expect(after.audit).toBeGreaterThanOrEqual(before.audit + 150 + 40 + semantic.length + 1);
    expect(h.ctx.store.audit.verify().ok).toBe(true);
    expect(h.ctx.store.db.pragma('integrity_check', { simple: true })).toBe('ok');
  });
});
