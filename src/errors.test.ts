import { describe, expect, it } from 'vitest';
import { InputError, LimitError, errorMessage } from './errors.js';

describe('errors', () => {
  it('names the field in an InputError and keeps its cause', () => {
    const cause = new Error('ENOENT');
    const err = new InputError('target_id', 'no running process with PID 7', { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('InputError');
    expect(err.field).toBe('target_id');
    expect(err.message).toBe('target_id: no running process with PID 7');
    expect(err.cause).toBe(cause);
  });

  it('has a LimitError with its own name', () => {
    const err = new LimitError('at most 4 sessions at once');
    expect(err.name).toBe('LimitError');
    expect(err.message).toBe('at most 4 sessions at once');
  });

  it.each<[unknown, string]>([
    [new TypeError('bad type'), 'bad type'],
    [new InputError('f', 'wrong'), 'f: wrong'],
    ['just a string', 'just a string'],
    [42, '42'],
    [null, 'null'],
    [undefined, 'undefined'],
    [{ code: 'E' }, '[object Object]'],
  ])('errorMessage(%j) is %j', (err, message) => {
    expect(errorMessage(err)).toBe(message);
  });
});
