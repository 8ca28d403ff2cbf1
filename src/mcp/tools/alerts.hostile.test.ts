import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertStore } from '../../alerts/store.js';
import { connectInMemory, text, type Harness } from '../../../test/helpers/mcp.js';

const PARAMS = [
  'alert_name',
  'metric_type',
  'threshold_value',
  'threshold_operator',
  'alert_severity',
  'notification_channels',
  'monitoring_scope',
  'target_id',
  'evaluation_period',
  'alert_cooldown',
  'auto_resolution',
];

const notIn = (allowed: string[]) => fc.string().filter((s) => !allowed.includes(s));
const nonInt = (min: number, max: number) =>
  fc.double({ min: min + 0.01, max: max - 0.01, noNaN: true }).filter((d) => !Number.isInteger(d));

/** For every parameter: values the schema or the rule model must reject. */
const INVALID: Record<string, fc.Arbitrary<unknown>> = {
  alert_name: fc.oneof(
    fc.constant(''),
    fc.string({ minLength: 101, maxLength: 150 }),
    fc.integer(),
    fc.constant(null),
    fc.constant('bad\u0000name'),
    fc.constant('   '),
  ),
  metric_type: fc.oneof(
    fc.constant(''),
    fc.constant('process_rss_bytes'),
    fc.string({ minLength: 1, maxLength: 10 }).map((s) => `zz_${s}`),
    fc.integer(),
  ),
  threshold_value: fc.oneof(fc.string(), fc.constant(null), fc.boolean()),
  threshold_operator: fc.oneof(notIn(['gt', 'lt', 'eq', 'gte', 'lte']), fc.constant('GT')),
  alert_severity: fc.oneof(notIn(['low', 'medium', 'high', 'critical']), fc.integer()),
  notification_channels: fc.oneof(
    fc.constant([]),
    fc.constant(['email']),
    fc.constant(['webhook:ftp://x/']),
    fc.constant(['webhook:not a url']),
    fc.constant(['command:rm -rf /']),
    fc.constant(['command:cleanup']),
    fc.array(fc.constant('log'), { minLength: 11, maxLength: 12 }),
    fc.string(),
  ),
  monitoring_scope: fc.oneof(notIn(['system', 'automation', 'macro']), fc.constant(null)),
  target_id: fc.oneof(fc.integer(), fc.constant(''), fc.string({ minLength: 201, maxLength: 220 })),
  evaluation_period: fc.oneof(
    fc.integer({ max: 29 }),
    fc.integer({ min: 3601 }),
    nonInt(30, 3600),
    fc.string(),
  ),
  alert_cooldown: fc.oneof(fc.integer({ max: 59 }), fc.integer({ min: 7201 }), nonInt(60, 7200)),
  auto_resolution: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
};

const VALID = { alert_name: 'probe', metric_type: 'cpu', threshold_value: 50 };

let h: Harness;
beforeAll(async () => {
  h = await connectInMemory();
});
afterAll(async () => h.close());

describe('km_set_performance_alerts under hostile input', () => {
  it('rejects every invalid parameter by name and leaves existing rules intact', async () => {
    const alerts = new AlertStore(h.ctx.store.db);
    const keep = await h.client.callTool({
      name: 'km_set_performance_alerts',
      arguments: { alert_name: 'keep-me', metric_type: 'memory', threshold_value: 90 },
    });
    expect(keep.isError).toBeFalsy();
    const before = JSON.stringify(alerts.listRules());

    const invalidCase = fc
      .subarray(PARAMS, { minLength: 1, maxLength: 3 })
      .chain((bad) =>
        fc
          .record(Object.fromEntries(bad.map((p) => [p, INVALID[p] as fc.Arbitrary<unknown>])))
          .map((values) => ({ bad, values })),
      );
    await fc.assert(
      fc.asyncProperty(
        invalidCase,
        fc.constantFrom('probe', 'keep-me'),
        async ({ bad, values }, name) => {
          // Aimed at the existing rule too: a rejected update must not touch it.
          const args = { ...VALID, alert_name: name, ...values };
          const r = await h.client.callTool({ name: 'km_set_performance_alerts', arguments: args });
          expect(r.isError, JSON.stringify(args)).toBe(true);
          const msg = text(r);
          expect(
            bad.some((p) => msg.includes(p)),
            `${msg} should name one of ${bad.join(', ')}`,
          ).toBe(true);
        },
      ),
      { numRuns: 200 },
    );

    const unknownKey = fc
      .string({ minLength: 1, maxLength: 20 })
      .filter((k) => !PARAMS.includes(k) && k !== '__proto__');
    await fc.assert(
      fc.asyncProperty(unknownKey, fc.jsonValue(), async (key, value) => {
        const r = await h.client.callTool({
          name: 'km_set_performance_alerts',
          arguments: { ...VALID, alert_name: 'keep-me', [key]: value },
        });
        expect(r.isError).toBe(true);
        expect(text(r)).toContain('unknown parameter');
        expect(text(r)).toContain(key);
      }),
      { numRuns: 40 },
    );

    // Passes the schema, not the rule model: named clearly too.
    const semantic: [Record<string, unknown>, RegExp][] = [
      [{ monitoring_scope: 'automation' }, /target_id: is required with monitoring_scope/],
      [{ target_id: 'x' }, /target_id: is not used with monitoring_scope 'system'/],
      [
        { monitoring_scope: 'macro', target_id: 'x', metric_type: 'cpu_percent' },
        /metric_type: 'cpu_percent' is a system metric/,
      ],
      [{ metric_type: 'process_rss_bytes' }, /process metrics cannot be alerted on yet/],
    ];
    for (const [over, re] of semantic) {
      const r = await h.client.callTool({
        name: 'km_set_performance_alerts',
        arguments: { ...VALID, alert_name: 'keep-me', ...over },
      });
      expect(r.isError, JSON.stringify(over)).toBe(true);
      expect(text(r)).toMatch(re);
    }

    expect(JSON.stringify(alerts.listRules())).toBe(before);
    expect(alerts.getRule('probe')).toBeNull();
    expect(h.ctx.store.audit.verify().ok).toBe(true);
    expect(h.ctx.store.db.pragma('integrity_check', { simple: true })).toBe('ok');
  });
});
