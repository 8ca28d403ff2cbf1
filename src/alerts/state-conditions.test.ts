import { describe, expect, it } from 'vitest';
import { normalizeRule, type AlertRuleInput } from './rule.js';
import { breaches, clears } from './state.js';

const rule = (over: Partial<AlertRuleInput>) => ({
  ...normalizeRule({ alert_name: 'r', metric_type: 'cpu', threshold_value: 80, ...over }),
  id: 1,
});

describe('breaches and clears, per operator (threshold ± tolerance and hysteresis)', () => {
  // [operator, threshold, breaching values, in the hysteresis band, clear values]
  const table: [AlertRuleInput['threshold_operator'], number, number[], number[], number[]][] = [
    ['gt', 80, [80.001, 100], [80, 77, 76.01], [76, 0]],
    ['gte', 80, [80, 81], [79.9, 76], [75.99, -5]],
    ['lt', 20, [19.99, 0], [20, 20.99], [21, 50]],
    ['lte', 20, [20, 3], [20.5, 21], [21.01, 99]],
    ['eq', 50, [50, 50.25, 49.75], [50.26, 52.75, 47.25], [52.76, 47.24, 0]],
    ['eq', 0, [0, 1e-9, -1e-9], [], [1e-8, -1]],
    ['gt', 0, [1e-12, 1], [], [0, -1]],
    ['lt', -10, [-10.6, -20], [-10, -9.6], [-9.5, 0]],
  ];
  for (const [op, t, hot, band, cold] of table) {
    it(`${op} ${t}`, () => {
      const r = rule({ threshold_operator: op, threshold_value: t });
      for (const v of hot) expect([v, breaches(r, v), clears(r, v)]).toEqual([v, true, false]);
      for (const v of band) expect([v, breaches(r, v), clears(r, v)]).toEqual([v, false, false]);
      for (const v of cold) expect([v, breaches(r, v), clears(r, v)]).toEqual([v, false, true]);
    });
  }
});
