/**
 * The room's shared document over the y-websocket protocol: a root map `files`, path →
 * `Y.Text`. The provider reconnects by itself; a refusal (see closeCodes) stops it.
 */
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { describeClose, type Closure } from './closeCodes';

export interface RoomDocument {
  doc: Y.Doc;
  provider: WebsocketProvider;
  files: Y.Map<Y.Text>;
}

/**
 * An id for this page, given to both its sockets (`tab`): going stealthy on the room channel
 * then hides the page's cursor on its document socket too. Needs no secure context.
 */
export function pageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function openDocument(
  base: string,
  room: string,
  token: string,
  tab: string,
  stealth: boolean,
  onRefused: (closure: Closure) => void,
): RoomDocument {
  const doc = new Y.Doc();
  const params: Record<string, string> = { token, tab };
  if (stealth) params.stealth = '1';
  const provider = new WebsocketProvider(`${base}/yjs`, room, doc, {
    params,
    disableBc: true,
    maxBackoffTime: 10_000,
  });
  provider.on('connection-close', (event: CloseEvent | null) => {
    const closure = event ? describeClose(event.code) : null;
    if (closure?.final) {
      provider.shouldConnect = false;
      onRefused(closure);
    }
  });
  return { doc, provider, files: doc.getMap<Y.Text>('files') };
}

/**
 * Whether the document socket joins hidden when it reconnects. The open socket follows the
 * room channel's stealth already (same page id); nothing is reopened.
 */
export function setDocumentStealth(d: RoomDocument, stealth: boolean) {
  if (stealth) d.provider.params.stealth = '1';
  else delete d.provider.params.stealth;
}

/** A participant's colour with transparency, for selections. */
export function lighten(hex: string): string {
  return /^#[0-9a-f]{6}$/i.test(hex) ? `${hex}33` : hex;
}
