import { describe, expect, it } from 'vitest';
import { describeInvalidLink, parseRoomLink } from './roomLink';

const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJyb29tIjoiYWJjIn0.c2lnbmF0dXJl';

describe('parseRoomLink', () => {
  it('reads room and token', () => {
    expect(parseRoomLink('/r/abc123', `#${TOKEN}`)).toEqual({
      kind: 'ok',
      room: 'abc123',
      token: TOKEN,
    });
  });

  it('works under a path prefix', () => {
    expect(parseRoomLink('/proxy/interviews/r/Room_1', `#${TOKEN}`)).toMatchObject({
      kind: 'ok',
      room: 'Room_1',
    });
  });

  it('refuses a missing or damaged token', () => {
    expect(parseRoomLink('/r/abc', '')).toEqual({
      kind: 'invalid',
      reason: 'no_token',
      room: 'abc',
    });
    expect(parseRoomLink('/r/abc', '#')).toMatchObject({ reason: 'no_token' });
    expect(parseRoomLink('/r/abc', '#not-a-token')).toMatchObject({ reason: 'malformed_token' });
    expect(parseRoomLink('/r/abc', '#a.b')).toMatchObject({ reason: 'malformed_token' });
  });

  it('refuses a path without a room', () => {
    expect(parseRoomLink('/', `#${TOKEN}`)).toMatchObject({ reason: 'no_room' });
    expect(parseRoomLink('/r/', `#${TOKEN}`)).toMatchObject({ reason: 'no_room' });
    expect(parseRoomLink('/r/bad%20id', `#${TOKEN}`)).toMatchObject({ reason: 'no_room' });
  });

  it('has words for every reason', () => {
    for (const reason of ['no_room', 'no_token', 'malformed_token'] as const) {
      expect(describeInvalidLink(reason).length).toBeGreaterThan(20);
    }
  });
});
