// A stock y-websocket client, as any Yjs application would write it, for the backend's tests:
//   node stock-yjs-client.mjs WS_BASE ROOM TOKEN write PATH TEXT   adds TEXT to files[PATH]
//   node stock-yjs-client.mjs WS_BASE ROOM TOKEN read PATH NEEDLE  waits until files[PATH]
//                                                                  contains NEEDLE
// WS_BASE is `ws://HOST:PORT{prefix}/yjs`. Prints the file's text on success; exits non-zero
// (with the reason) when the socket is refused or nothing arrives within 30 seconds.
import { WebSocket } from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';

const [base, room, token, mode, path, text] = process.argv.slice(2);
const doc = new Y.Doc();
const provider = new WebsocketProvider(base, room, doc, {
  WebSocketPolyfill: WebSocket,
  params: { token },
  disableBc: true,
});
const files = doc.getMap('files');

const fail = (why) => {
  console.error(why);
  process.exit(1);
};
setTimeout(() => fail('timed out'), 30_000);
provider.on('connection-close', (event) => {
  if (event && event.code >= 4000) fail(`refused: ${event.code} ${event.reason}`);
});

provider.on('sync', (synced) => {
  if (!synced) return;
  if (mode === 'write') {
    doc.transact(() => {
      let t = files.get(path);
      if (!(t instanceof Y.Text)) {
        t = new Y.Text();
        files.set(path, t);
      }
      t.insert(t.length, text);
    });
    // The update is on the wire once the socket's buffer drains.
    const done = () => {
      if (provider.ws && provider.ws.bufferedAmount === 0) {
        console.log(files.get(path).toString());
        setTimeout(() => process.exit(0), 200);
      } else setTimeout(done, 10);
    };
    done();
  } else {
    const check = () => {
      const t = files.get(path);
      if (t instanceof Y.Text && t.toString().includes(text)) {
        console.log(t.toString());
        process.exit(0);
      }
    };
    check();
    doc.on('update', check);
  }
});
