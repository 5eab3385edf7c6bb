/**
 * The room server's WebSocket base for a page at `{base}/r/{room}`: the same host, `ws:` or
 * `wss:` after the page's own scheme, and the path prefix the page was served under (a
 * tunnel, a reverse proxy). Relative to where the page is, so it works behind any of them.
 */
export function wsBase(href: string): string {
  const url = new URL(href);
  const scheme = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const segments = url.pathname.split('/');
  const marker = segments.lastIndexOf('r');
  const prefix = marker > 0 ? segments.slice(0, marker).join('/') : '';
  return `${scheme}//${url.host}${prefix}`;
}
