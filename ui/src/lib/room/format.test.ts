import { describe, expect, it } from 'vitest';
import { formatClock, formatElapsed } from './format';

describe('times in the room', () => {
  it('shows elapsed time like a stopwatch', () => {
    expect(formatElapsed(0)).toBe('0:00');
    expect(formatElapsed(65_000)).toBe('1:05');
    expect(formatElapsed(3_909_000)).toBe('1:05:09');
    expect(formatElapsed(-5)).toBe('0:00');
  });
  it('shows clock times with two digits', () => {
    const d = new Date(2026, 0, 1, 9, 5);
    expect(formatClock(d.getTime())).toBe('09:05');
  });
});
