/**
 * What the page says when a room socket is closed: the server's refusal codes (see
 * docs/protocol.md) in plain words, and whether trying again can help.
 */
export interface Closure {
  /** Final: the link itself cannot open the room; reconnecting will not help. */
  final: boolean;
  title: string;
  message: string;
}

export function describeClose(code: number): Closure | null {
  switch (code) {
    case 4401:
      return {
        final: true,
        title: 'This link is not valid',
        message:
          'The room did not recognise this link. It may have been altered when it was copied, or it belongs to another installation.',
      };
    case 4403:
      return {
        final: true,
        title: 'This link is for another room',
        message: 'The link opens a different interview room than the one in the address.',
      };
    case 4410:
      return {
        final: true,
        title: 'This link has expired',
        message: 'The link has expired or was withdrawn by the interviewer.',
      };
    case 4404:
      return {
        final: true,
        title: 'This interview room is closed',
        message: 'The room has been stopped, or it no longer exists.',
      };
    default:
      return null;
  }
}

/** Delay before reconnect attempt `n` (0-based): 0.5 s doubling to 10 s, with jitter. */
export function backoff(n: number, random: () => number = Math.random): number {
  const base = Math.min(10_000, 500 * 2 ** Math.min(n, 5));
  return Math.round(base * (0.8 + 0.4 * random()));
}
