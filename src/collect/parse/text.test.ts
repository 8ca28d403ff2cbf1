import { describe, expect, it } from 'vitest';
import { lineKeyEnd, numberAfterKey, numberAt, toNumber, tokens } from './text.js';

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
