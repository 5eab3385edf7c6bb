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
    case 4429:
      return {
        final: true,
        title: 'This interview room is full',
        message: 'Too many windows are open on this room. Close one of yours, then try again.',
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

/**
 * Checks a link before anyone types a name: the document socket answers a valid link at
 * once and closes a refused one with its code. Resolves with the refusal, or null.
 */
export function probeLink(url: string, timeoutMs = 15_000): Promise<Closure | null> {
  return new Promise((resolve) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch {
      resolve(null);
      return;
    }
    const done = (result: Closure | null) => {
      clearTimeout(timer);
      ws.onmessage = null;
      ws.onclose = null;
      if (ws.readyState <= WebSocket.OPEN) ws.close(1000);
      resolve(result);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    ws.onmessage = () => done(null);
    ws.onclose = (event) => done(describeClose(event.code));
  });
}
