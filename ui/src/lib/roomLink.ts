/**
 * Reads a room link: `{base}/r/{room}#{token}`. The base may carry a path prefix (a tunnel or
 * a reverse proxy), so the room is the segment after the last `/r/`. The token travels in the
 * fragment, which browsers never send to a server or put in a Referer header.
 */
export type RoomLink =
  | { kind: 'ok'; room: string; token: string }
  | { kind: 'invalid'; reason: InvalidLinkReason; room: string | null };

/** Why a link cannot open a room, before the server is even asked. */
export type InvalidLinkReason = 'no_room' | 'no_token' | 'malformed_token';

const ROOM_ID = /^[A-Za-z0-9_-]{1,128}$/;
// A JWT: three base64url parts.
const TOKEN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function parseRoomLink(pathname: string, hash: string): RoomLink {
  const segments = pathname.split('/');
  const marker = segments.lastIndexOf('r');
  const rawRoom = marker >= 0 ? segments[marker + 1] : undefined;
  const room = rawRoom !== undefined && ROOM_ID.test(rawRoom) ? rawRoom : null;
  if (room === null) return { kind: 'invalid', reason: 'no_room', room: null };
  const token = decodeFragment(hash);
  if (token.length === 0) return { kind: 'invalid', reason: 'no_token', room };
  if (!TOKEN.test(token)) return { kind: 'invalid', reason: 'malformed_token', room };
  return { kind: 'ok', room, token };
}

function decodeFragment(hash: string): string {
  const raw = hash.startsWith('#') ? hash.slice(1) : hash;
  try {
    return decodeURIComponent(raw).trim();
  } catch {
    return raw.trim();
  }
}

/** Plain words for each reason, shown on the "this link is not valid" page. */
export function describeInvalidLink(reason: InvalidLinkReason): string {
  switch (reason) {
    case 'no_room':
      return 'The address does not name an interview room.';
    case 'no_token':
      return 'The link is incomplete: the part after the # sign, which lets you in, is missing. Links sometimes get cut when they are copied or wrapped in an email.';
    case 'malformed_token':
      return 'The part of the link that lets you in is damaged. Links sometimes get altered when they are copied or wrapped in an email.';
  }
}
