import { describe, expect, it } from 'vitest';
import { backoff, describeClose } from './closeCodes';
import { wsBase } from './urls';

describe('close codes', () => {
  it('turns each refusal into plain words that say not to retry', () => {
    for (const code of [4401, 4403, 4410, 4404]) {
      const c = describeClose(code);
      expect(c?.final).toBe(true);
      expect(c?.title.length).toBeGreaterThan(10);
    }
    expect(describeClose(4410)?.title).toContain('expired');
    expect(describeClose(4404)?.title).toContain('closed');
    expect(describeClose(4429)?.title).toContain('full');
  });
  it('leaves other closes to reconnecting', () => {
    expect(describeClose(1006)).toBeNull();
    expect(describeClose(1001)).toBeNull();
  });
  it('backs off from half a second to ten', () => {
    expect(backoff(0, () => 0.5)).toBe(500);
    expect(backoff(3, () => 0.5)).toBe(4000);
    expect(backoff(50, () => 0.5)).toBe(10_000);
    expect(backoff(0, () => 0)).toBe(400);
  });
});

describe('the WebSocket base', () => {
  it('follows the scheme and keeps the path prefix', () => {
    expect(wsBase('http://127.0.0.1:7417/r/abc#tok')).toBe('ws://127.0.0.1:7417');
    expect(wsBase('https://x.example/team/r/abc#tok')).toBe('wss://x.example/team');
    expect(wsBase('http://lan.test:8080/a/b/r/abc')).toBe('ws://lan.test:8080/a/b');
  });
});
