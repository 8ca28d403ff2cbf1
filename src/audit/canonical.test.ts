import { describe, expect, it } from 'vitest';
import { canonicalArgs, canonicalJson } from './canonical.js';

describe('canonicalJson', () => {
  it('sorts keys at every depth, independent of insertion order', () => {
    const a = canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } });
    const b = canonicalJson({ a: { c: 'x', d: [3, { y: 2, z: 1 }] }, b: 1 });
    expect(a).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
    expect(b).toBe(a);
  });

  it('orders integer-like keys as strings, not the way JS objects enumerate them', () => {
    expect(canonicalJson({ 9: 'a', 10: 'b', b: 'c' })).toBe('{"10":"b","9":"a","b":"c"}');
  });

  it('follows JSON for values JSON cannot hold', () => {
    const value = {
      u: undefined,
      f: () => 1,
      s: Symbol('s'),
      n: Number.NaN,
      inf: Infinity,
      list: [undefined, () => 1, 1],
      big: 12345678901234567890n,
      when: new Date(0),
      nothing: null,
      yes: true,
    };
    expect(canonicalJson(value)).toBe(
      '{"big":"12345678901234567890","inf":null,"list":[null,null,1],"n":null,"nothing":null,' +
        '"when":"1970-01-01T00:00:00.000Z","yes":true}',
    );
    expect(canonicalJson(undefined)).toBe('null');
  });

  it('writes cycles as a marker instead of failing, but repeats shared objects', () => {
    const shared = { k: 1 };
    const cyclic: Record<string, unknown> = { shared, again: shared };
    cyclic.self = cyclic;
    expect(canonicalJson(cyclic)).toBe('{"again":{"k":1},"self":"[circular]","shared":{"k":1}}');
  });
});

describe('canonicalArgs', () => {
  it('redacts credential-like keys at any depth and keeps everything else', () => {
    const args = {
      name: 'backup',
      token: 'abc',
      headers: { Authorization: 'Bearer x', accept: 'json' },
      list: [{ password: 'p', user: 'u' }, { apiKey: 'k' }, { api_key: 'k' }],
      client_secret: { nested: 'object' },
      sessionCookie: 'c',
      credentials: ['a'],
      passphrase: 'pp',
      absent: undefined,
      tokenless: undefined,
    };
    expect(JSON.parse(canonicalArgs(args))).toEqual({
      name: 'backup',
      token: '[redacted]',
      headers: { Authorization: '[redacted]', accept: 'json' },
      list: [
        { password: '[redacted]', user: 'u' },
        { apiKey: '[redacted]' },
        { api_key: '[redacted]' },
      ],
      client_secret: '[redacted]',
      sessionCookie: '[redacted]',
      credentials: '[redacted]',
      passphrase: '[redacted]',
    });
  });

  it('leaves plain values alone', () => {
    expect(canonicalArgs('token')).toBe('"token"');
    expect(canonicalArgs(undefined)).toBe('null');
  });
});
