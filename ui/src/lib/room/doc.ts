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

export function openDocument(
  base: string,
  room: string,
  token: string,
  stealth: boolean,
  onRefused: (closure: Closure) => void,
): RoomDocument {
  const doc = new Y.Doc();
  const params: Record<string, string> = stealth ? { token, stealth: '1' } : { token };
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

/** A participant's colour with transparency, for selections. */
export function lighten(hex: string): string {
  return /^#[0-9a-f]{6}$/i.test(hex) ? `${hex}33` : hex;
}
