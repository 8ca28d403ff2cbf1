import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { connectInMemory, text, type Harness } from '../../../test/helpers/mcp.js';
import { cpu, proc, snap } from '../../../test/helpers/snapshots.js';
import { InputError } from '../../errors.js';
import type { BottleneckResult } from '../../analyze/bottlenecks/index.js';
import { bottlenecksInput, REPORTS_DIR, resolveRange } from './bottlenecks.js';

const NOW = Date.UTC(2026, 5, 1, 12);
const TOOL = 'km_analyze_bottlenecks';
const iso = (ms: number) => new Date(ms).toISOString();

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

async function connect(): Promise<Harness> {
  h = await connectInMemory();
  h.ctx.clock = () => NOW;
  return h;
}

type Result = BottleneckResult & { report: { path: string; uri: string } | null };
async function call(harness: Harness, args: Record<string, unknown>) {
  const r = await harness.client.callTool({ name: TOOL, arguments: args });
  return { r, out: r.structuredContent as Result };
}

/**
 * 30 one-second snapshots ending at NOW with every core 95 % busy; 'encoder' (pid 4321)
 * uses 60 % of every core, 'helper' (pid 4322) 5 %.
 */
function populate(harness: Harness): void {
  const { cores, clockTicks } = harness.ctx.machine;
  const w = harness.ctx.store.createWriter();
  const boot = (NOW - 3600_000) / 1000;
  for (let i = 0; i <= 30; i++) {
    const busy = 0.95 * clockTicks * i;
    const idle = 0.05 * clockTicks * i;
    w.write(
      snap(
        NOW - 30_000 + i * 1000,
        {
          cpu_user: busy * cores,
          cpu_nice: 0,
          cpu_system: 0,
          cpu_idle: idle * cores,
          cpu_iowait: 0,
          cpu_irq: 0,
          cpu_softirq: 0,
          cpu_steal: 0,
          procs_running: cores,
          mem_total_bytes: 8e9,
          mem_available_bytes: 6e9,
          boot_time: boot,
        },
        {
          cores: Array.from({ length: cores }, () => cpu(busy, idle)),
          processes: [
            proc(4321, { comm: 'encoder', utime: 0.6 * clockTicks * cores * i }),
            proc(4322, { comm: 'helper', utime: 0.05 * clockTicks * cores * i }),
          ],
        },
      ),
    );
  }
}

const reportsIn = (dataDir: string) => {
  const dir = path.join(dataDir, REPORTS_DIR);
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
};

describe('resolveRange', () => {
  const parse = (p: Record<string, unknown>) =>
    bottlenecksInput.parse({ analysis_scope: 'system', ...p });

  it.each([
    ['last_hour', 3600_000],
    ['last_day', 86_400_000],
    ['last_week', 7 * 86_400_000],
  ] as const)('%s ends now', (time_range, span) => {
    expect(resolveRange(parse({ time_range }), NOW)).toEqual({
      from: NOW - span,
      to: NOW,
      label: time_range,
    });
  });

  it('defaults to the last hour', () => {
    expect(resolveRange(parse({}), NOW).label).toBe('last_hour');
  });

  it('accepts a custom range with zones, clamping an end a little in the future to now', () => {
    expect(
      resolveRange(
        parse({
          time_range: 'custom',
          custom_start_time: '2026-06-01T09:00:00+02:00',
          custom_end_time: '2026-06-01T10:30Z',
        }),
        NOW,
      ),
    ).toEqual({ from: NOW - 5 * 3600_000, to: NOW - 1.5 * 3600_000, label: 'custom' });
    const r = resolveRange(
      parse({
        time_range: 'custom',
        custom_start_time: iso(NOW - 60_000),
        custom_end_time: iso(NOW + 4 * 60_000),
      }),
      NOW,
    );
    expect([r.from, r.to]).toEqual([NOW - 60_000, NOW]);
  });

  const custom = (start: string | null, end: string | null) => ({
    time_range: 'custom',
    custom_start_time: start,
    custom_end_time: end,
  });
  const CASES: [string, Record<string, unknown>, string, RegExp][] = [
    ['missing start', custom(null, iso(NOW)), 'custom_start_time', /is required/],
    ['missing end', custom(iso(NOW - 1000), null), 'custom_end_time', /is required/],
    ['unparseable start', custom('yesterday', iso(NOW)), 'custom_start_time', /not an ISO-8601/],
    [
      'impossible date',
      custom('2026-13-45T00:00:00Z', iso(NOW)),
      'custom_start_time',
      /not an ISO-8601 time with a zone/,
    ],
    [
      'end without a zone',
      custom(iso(NOW - 60_000), '2026-06-01T11:00:00'),
      'custom_end_time',
      /with a zone/,
    ],
    ['reversed', custom(iso(NOW - 1000), iso(NOW - 2000)), 'custom_end_time', /must be after/],
    ['empty', custom(iso(NOW - 1000), iso(NOW - 1000)), 'custom_end_time', /must be after/],
    [
      'end beyond 5 min in the future',
      custom(iso(NOW - 1000), iso(NOW + 5 * 60_000 + 1)),
      'custom_end_time',
      /is in the future/,
    ],
    [
      'whole range in the near future',
      custom(iso(NOW + 60_000), iso(NOW + 120_000)),
      'custom_start_time',
      /is in the future/,
    ],
    [
      'more than 2 years',
      custom(iso(NOW - 2 * 366 * 86_400_000 - 1), iso(NOW)),
      'custom_start_time',
      /at most 2 years/,
    ],
    [
      'start with a non-custom range',
      { time_range: 'last_day', custom_start_time: iso(NOW - 1000) },
      'custom_start_time',
      /only used with time_range 'custom' \(time_range is 'last_day'\)/,
    ],
    [
      'end with the default range',
      { custom_end_time: iso(NOW) },
      'custom_end_time',
      /only used with time_range 'custom'/,
    ],
  ];

  it.each(CASES)('rejects %s, naming the field', (_name, p, field, re) => {
    let err: unknown;
    try {
      resolveRange(parse(p), NOW);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).field).toBe(field);
    expect((err as InputError).message).toMatch(re);
    expect((err as InputError).message.startsWith(`${field}: `)).toBe(true);
  });

  it('a two-year range is allowed', () => {
    const p = parse(custom(iso(NOW - 2 * 366 * 86_400_000), iso(NOW)));
    expect(resolveRange(p, NOW).to - resolveRange(p, NOW).from).toBe(2 * 366 * 86_400_000);
  });

  it('the same errors reach an MCP client as tool errors', async () => {
    const harness = await connect();
    for (const [name, p, field, re] of CASES) {
      const { r } = await call(harness, { analysis_scope: 'system', ...p });
      expect(r.isError, name).toBe(true);
      expect(text(r)).toContain(`${field}: `);
      expect(text(r)).toMatch(re);
    }
    expect(reportsIn(harness.dataDir)).toEqual([]);
  });
});

const PARAMS = [
  'analysis_scope',
  'time_range',
  'custom_start_time',
  'custom_end_time',
  'bottleneck_types',
  'severity_threshold',
  'include_recommendations',
  'generate_report',
];
const notIn = (allowed: string[]) => fc.string().filter((s) => !allowed.includes(s));
const TYPES = ['cpu', 'memory', 'io', 'network'];
const badTime = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.string({ minLength: 65, maxLength: 90 }),
  fc.array(fc.string(), { maxLength: 2 }),
);
const badBool = fc.oneof(fc.string(), fc.integer(), fc.constant(null));
const INVALID: Record<string, fc.Arbitrary<unknown>> = {
  analysis_scope: fc.oneof(
    notIn(['system', 'automation', 'workflow']),
    fc.integer(),
    fc.constant(null),
    fc.constant('SYSTEM'),
  ),
  time_range: fc.oneof(
    notIn(['last_hour', 'last_day', 'last_week', 'custom']),
    fc.constant('LAST_HOUR'),
    fc.constant(null),
    fc.integer(),
  ),
  custom_start_time: badTime,
  custom_end_time: badTime,
  bottleneck_types: fc.oneof(
    fc.constant([]),
    fc.array(notIn(TYPES), { minLength: 1, maxLength: 3 }),
    fc.array(fc.constantFrom(...TYPES), { minLength: 5, maxLength: 8 }),
    fc.string(),
    fc.constant(null),
  ),
  severity_threshold: fc.oneof(
    notIn(['low', 'medium', 'high', 'critical']),
    fc.constant('HIGH'),
    fc.integer(),
    fc.constant(null),
  ),
  include_recommendations: badBool,
  generate_report: badBool,
};

describe('km_analyze_bottlenecks under hostile input', () => {
  it('rejects every invalid parameter by name and stays up with the audit chain intact', async () => {
    const harness = await connect();
    const before = harness.ctx.store.query.counts().audit;
    const invalidCase = fc
      .subarray(PARAMS, { minLength: 1, maxLength: 3 })
      .chain((bad) =>
        fc
          .record(Object.fromEntries(bad.map((p) => [p, INVALID[p] as fc.Arbitrary<unknown>])))
          .map((values) => ({ bad, values })),
      );
    await fc.assert(
      fc.asyncProperty(invalidCase, async ({ bad, values }) => {
        const args = { analysis_scope: 'system', ...values };
        const { r } = await call(harness, args);
        expect(r.isError, JSON.stringify(args)).toBe(true);
        const msg = text(r);
        expect(
          bad.some((p) => msg.includes(p)),
          `${msg} should name one of ${bad.join(', ')}`,
        ).toBe(true);
      }),
      { numRuns: 120 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc
          .string({ minLength: 1, maxLength: 20 })
          .filter((k) => !PARAMS.includes(k) && k !== '__proto__'),
        async (key) => {
          const { r } = await call(harness, { analysis_scope: 'system', [key]: 1 });
          expect(r.isError).toBe(true);
          expect(text(r)).toContain('unknown parameter');
          expect(text(r)).toContain('allowed parameters: analysis_scope');
        },
      ),
      { numRuns: 30 },
    );

    const ok = await call(harness, { analysis_scope: 'system', generate_report: false });
    expect(ok.r.isError).toBeFalsy();
    expect(reportsIn(harness.dataDir)).toEqual([]);
    const store = harness.ctx.store;
    expect(store.query.counts().audit).toBeGreaterThanOrEqual(before + 120 + 30 + 1);
    expect(store.audit.verify().ok).toBe(true);
    expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
  });
});

describe('km_analyze_bottlenecks', () => {
  it('on an empty store says the data is insufficient and still answers', async () => {
    const harness = await connect();
    const { r, out } = await call(harness, { analysis_scope: 'system' });
    expect(r.isError).toBeFalsy();
    expect(out.data).toMatchObject({ samples: 0, sufficient: false });
    expect(out.data.message).toMatch(/^only 0 samples in this range \(about 3600 expected\)/);
    expect(out.findings).toEqual([]);
    expect(out.range).toEqual({ start: iso(NOW - 3600_000), end: iso(NOW), label: 'last_hour' });
    expect(text(r)).toContain('0 finding(s) at or above medium for system over last_hour');
    expect(text(r)).toContain('only 0 samples');
    expect(out.report?.uri).toMatch(
      /^kmpm:\/\/reports\/bottlenecks-20260601T120000Z-[0-9a-f]{6}\.md$/,
    );
  });

  it('finds the busy CPU, names the process using it and writes a readable report', async () => {
    const harness = await connect();
    populate(harness);
    const { r, out } = await call(harness, {
      analysis_scope: 'system',
      severity_threshold: 'low',
    });
    expect(r.isError).toBeFalsy();
    expect(out.data).toMatchObject({ samples: 30, resolution_s: 1, sufficient: true });
    const f = out.findings.find((x) => x.id === 'cpu.utilization');
    expect(f?.severity).toBe('high');
    expect(f?.evidence[0]?.observed).toBe(95);
    expect(f?.attribution.processes.map((p) => p.pid)).toEqual([4321, 4322]);
    expect(f?.attribution.processes[0]?.share).toBeCloseTo(0.6 / 0.95, 3);
    expect(out.findings.map((x) => x.id)).toContain('cpu.concentration');
    const rec = out.recommendations.find((x) => x.finding_id === 'cpu.utilization');
    expect(rec?.tool_call?.arguments).toMatchObject({ target_id: '4321' });
    expect(out.overview.cpu_percent?.mean).toBeCloseTo(95, 6);
    expect(out.notes.join('\n')).toMatch(/samples cover about 1 % of the range/);

    expect(out.report).not.toBeNull();
    const report = out.report as { path: string; uri: string };
    expect(path.dirname(report.path)).toBe(path.join(harness.dataDir, REPORTS_DIR));
    const onDisk = fs.readFileSync(report.path, 'utf8');
    expect(onDisk).toContain('### HIGH — CPU busy');
    expect(onDisk).toContain('`encoder` pid 4321');
    const link = (r.content as { type: string; uri?: string }[]).find(
      (c) => c.type === 'resource_link',
    );
    expect(link?.uri).toBe(report.uri);
    const read = await harness.client.readResource({ uri: report.uri });
    expect(read.contents[0]).toMatchObject({ uri: report.uri, mimeType: 'text/markdown' });
    expect((read.contents[0] as { text: string }).text).toBe(onDisk);
    expect(text(r)).toContain(`Report: ${report.uri}`);
  });

  it('a custom range the recorder covered needs no coverage note', async () => {
    const harness = await connect();
    populate(harness);
    const { out } = await call(harness, {
      analysis_scope: 'system',
      time_range: 'custom',
      custom_start_time: iso(NOW - 30_000),
      custom_end_time: iso(NOW),
      generate_report: false,
    });
    expect(out.range).toEqual({ start: iso(NOW - 30_000), end: iso(NOW), label: 'custom' });
    expect(out.data).toEqual({ samples: 30, resolution_s: 1, sufficient: true });
    expect(out.notes).toEqual([]);
    expect(out.findings.map((f) => f.id)).toContain('cpu.utilization');
  });

  it('filters by severity and type, and writes no report when asked not to', async () => {
    const harness = await connect();
    populate(harness);
    const { out } = await call(harness, {
      analysis_scope: 'system',
      bottleneck_types: ['memory', 'io'],
      severity_threshold: 'critical',
      include_recommendations: false,
      generate_report: false,
    });
    expect(out.report).toBeNull();
    expect(reportsIn(harness.dataDir)).toEqual([]);
    expect(out.findings.every((f) => f.severity === 'critical')).toBe(true);
    expect(out.findings.every((f) => f.resource === 'memory' || f.resource === 'io')).toBe(true);
    expect(out.recommendations).toEqual([]);
    const high = await call(harness, {
      analysis_scope: 'system',
      severity_threshold: 'high',
      generate_report: false,
    });
    expect(high.out.findings.map((f) => f.id)).toContain('cpu.utilization');
    expect(high.out.filtered_out).toBeGreaterThan(0);
  });

  it('automation scope reports failing runs with a recommendation', async () => {
    const harness = await connect();
    populate(harness);
    const runs = harness.ctx.store.runs;
    for (const [k, status] of (['ok', 'failed', 'failed'] as const).entries()) {
      const start = NOW - 25_000 + k * 5000;
      const id = runs.start('deploy.prod', 'deploy.sh', 9000 + k, start);
      runs.finish(id, {
        endedAt: start + 2000,
        wallMs: 2000,
        cpuMs: 1900,
        peakRssBytes: 1 << 20,
        exitCode: status === 'ok' ? 0 : 1,
        signal: null,
        status,
      });
    }
    for (const scope of ['automation', 'workflow']) {
      const { r, out } = await call(harness, { analysis_scope: scope, generate_report: false });
      expect(r.isError).toBeFalsy();
      const f = out.findings.find((x) => x.kind === 'failures');
      expect(f?.id).toBe('automation.failures.deploy.prod');
      expect(f?.severity).toBe('critical');
      expect(f?.title).toBe('deploy.prod: 2 of 3 runs failed');
      expect(f?.attribution.processes[0]?.pid).toBe(4321);
      const rec = out.recommendations.find((x) => x.finding_id === f?.id);
      expect(rec?.tool_call).toMatchObject({
        name: 'km_monitor_performance',
        arguments: { target_id: 'deploy.prod' },
      });
      expect(out.overview).toEqual({});
    }
  });

  it('automation scope without runs says how to record them', async () => {
    const harness = await connect();
    const { out } = await call(harness, {
      analysis_scope: 'workflow',
      generate_report: false,
    });
    expect(out.findings).toEqual([]);
    expect(out.notes.join('\n')).toMatch(/no automation runs in this range; record runs with/);
    expect(out.notes.join('\n')).toMatch(/workflow analysis covers every automation run/);
  });
});
