import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  lineKeyEnd,
  numberAfterKey,
  numberAt,
  numberIn,
  numbersOnLine,
  skipBlanks,
  tokenEnd,
  toNumber,
  tokens,
} from './text.js';

describe('text helpers', () => {
  it('finds keys only at the start of a line', () => {
    expect(lineKeyEnd('a 1\nb 2\n', 'a ')).toBe(2);
    expect(lineKeyEnd('a 1\nb 2\n', 'b ')).toBe(6);
    expect(lineKeyEnd('xb 1\n', 'b ')).toBe(-1);
  });

  it('reads the number after a key, skipping blanks and tabs', () => {
    expect(numberAfterKey('MemTotal:\t  123 kB\n', 'MemTotal:')).toBe(123);
    expect(numberAfterKey('a 5', 'a ')).toBe(5);
    expect(numberAfterKey('a\n', 'b')).toBeNull();
    expect(numberAt('x  -7\n', 1)).toBe(-7);
    expect(numberAt('x \n', 1)).toBeNull();
  });

  it('turns tokens into numbers or null', () => {
    expect(toNumber('1.5')).toBe(1.5);
    expect(toNumber(undefined)).toBeNull();
    expect(toNumber('')).toBeNull();
    expect(toNumber('abc')).toBeNull();
    expect(tokens('  a  b\tc ')).toEqual(['a', 'b', 'c']);
    expect(tokens('   ')).toEqual([]);
  });
});

describe('allocation-free number scanning', () => {
  const token = fc.oneof(
    fc.nat().map(String),
    fc.bigInt({ min: 0n, max: 2n ** 64n }).map(String),
    fc.stringMatching(/^[-+.0-9a-fx]{1,20}$/),
  );
  const blanks = fc.stringMatching(/^[ \t]{0,3}$/);

  it('reads a token exactly as Number(slice) does', () => {
    fc.assert(
      fc.property(blanks, token, blanks, (before, t, after) => {
        const text = `${before}${t}${after}`;
        const start = before.length;
        expect(numberIn(text, start, start + t.length)).toBe(Number(t));
        expect(numberAt(text, 0)).toBe(toNumber(t));
      }),
    );
  });

  it('reads the numbers of one line as splitting it into tokens does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(blanks, token)),
        fc.nat({ max: 20 }),
        fc.stringMatching(/^(\n[0-9 ]*)?$/),
        (parts, room, rest) => {
          const line = parts.map(([b, t]) => `${b === '' ? ' ' : b}${t}`).join('');
          const out = new Array<number>(room).fill(-1);
          const n = numbersOnLine(line + rest, 0, out);
          const expected = tokens(line).map(Number).slice(0, room);
          expect(n).toBe(expected.length);
          expect(out.slice(0, n)).toEqual(expected);
        },
      ),
    );
  });

  it('finds token boundaries', () => {
    expect(skipBlanks(' \t x', 0)).toBe(3);
    expect(tokenEnd('ab cd', 0)).toBe(2);
    expect(tokenEnd('ab\ncd', 0)).toBe(2);
    expect(tokenEnd('abcd', 1)).toBe(4);
  });
});
