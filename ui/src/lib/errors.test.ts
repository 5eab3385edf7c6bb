import { describe, expect, it } from 'vitest';
import { errorMessage } from './errors';

describe('errorMessage', () => {
  it('reads the message of an error body from the backend', () => {
    expect(errorMessage({ code: 'database', message: 'database error: locked' })).toBe(
      'database error: locked',
    );
  });

  it('never shows [object Object] or undefined', () => {
    expect(errorMessage({ code: 'x' })).toBe('{"code":"x"}');
    expect(errorMessage(undefined)).toBe('Unknown error');
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage('plain')).toBe('plain');
  });
});
