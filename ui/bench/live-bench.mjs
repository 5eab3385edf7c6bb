// The live room's benchmark: figures, side by side with a baseline measured in the same run.
//   - an edit in one client visible in another (p50 / p99), against y-websocket's reference
//     server (@y/websocket-server);
//   - terminal keystroke echo (p50 / p99) and bulk output (MB/s) to a WebSocket client,
//     against terminado (Jupyter's terminal server) on this machine, running the same shell
//     and programs as the room (busybox's), so the two differ only in the terminal server.
// Needs INTERVIEW_PLATFORM_SERVER (the server binary), the offline busybox image, and
// TERMINADO_PYTHON (a python with terminado). scripts/bench-live.sh provides all three.
import { spawn } from 'node:child_process';
import { WebSocket } from 'ws';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { WebsocketProvider } from 'y-websocket';
import { cli, startServer, testCatalog } from '../e2e/helpers.mjs';

const EDITS = Number(process.env.EDITS ?? 1000);
// Edits and keystrokes made before measuring, on every server alike: the figures are those of
// a server that has been running (its code compiled, its caches warm), as in an interview.
const WARMUP = Number(process.env.WARMUP ?? 200);
const ECHOES = Number(process.env.ECHOES ?? 1000);
const BULK_BYTES = Number(process.env.BULK_BYTES ?? 20_000_000);
// Rounds, each measuring the room and its baseline one after the other (the order swapped
// every round), so drift on the machine weighs on both alike.
const ROUNDS = Number(process.env.ROUNDS ?? 5);
// `edit` or `terminal`: measure one part only.
const ONLY = process.env.ONLY ?? '';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => `${x.toFixed(2)} ms`;

function freePort() {
  return new Promise((resolve) => {
    import('node:net').then(({ createServer }) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const { port } = srv.address();
        srv.close(() => resolve(port));
      });
    });
  });
}

async function waitFor(check, what, timeout = 30_000) {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    if (check()) return;
    await sleep(5);
  }
  throw new Error(`timed out: ${what}`);
}

/** Edit propagation between two y-websocket clients on `base` (ws URL) and `room`. */
async function editLatency(base, room, params) {
  const mk = () => {
    const doc = new Y.Doc();
    const provider = new WebsocketProvider(base, room, doc, {
      WebSocketPolyfill: WebSocket,
      params,
      disableBc: true,
    });
    return { doc, provider, text: doc.getMap('files') };
  };
  const a = mk();
  const b = mk();
  await waitFor(() => a.provider.synced && b.provider.synced, 'sync');
  const path = `bench-${Date.now()}.txt`;
  a.doc.transact(() => a.text.set(path, new Y.Text()));
  await waitFor(() => b.text.get(path) instanceof Y.Text, 'file');
  const ta = a.text.get(path);
  const tb = b.text.get(path);
  const samples = [];
  for (let i = 0; i < WARMUP + EDITS; i++) {
    const before = tb.length;
    const t0 = performance.now();
    ta.insert(ta.length, 'x');
    await new Promise((resolve) => {
      const seen = () => {
        if (tb.length > before) {
          tb.unobserve(seen);
          resolve();
        }
      };
      tb.observe(seen);
    });
    if (i >= WARMUP) samples.push(performance.now() - t0);
    await sleep(2);
  }
  a.provider.destroy();
  b.provider.destroy();
  return samples;
}

/**
 * Edit propagation seen on the wire: the same updates a client makes (one character each),
 * encoded beforehand and sent by a plain WebSocket; the time until the other plain WebSocket
 * receives an update message. No Yjs work on either side of the measure: what is left is the
 * server and the network stack.
 */
async function relayLatency(base, room, params) {
  const url = `${base}/${room}${params.token ? `?token=${params.token}` : ''}`;
  const sync = (sub, payload) => {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0);
    encoding.writeVarUint(e, sub);
    encoding.writeVarUint8Array(e, payload);
    return encoding.toUint8Array(e);
  };
  const open = async () => {
    const ws = new WebSocket(url);
    ws.binaryType = 'nodebuffer';
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    // What a stock client says first: its (empty) state.
    ws.send(sync(0, Y.encodeStateVector(new Y.Doc())));
    return ws;
  };
  // The edits, made on a local document beforehand: the first creates the file.
  const doc = new Y.Doc();
  const updates = [];
  doc.on('update', (u) => updates.push(sync(2, u)));
  const path = `relay-${Date.now()}.txt`;
  doc.getMap('files').set(path, new Y.Text());
  const text = doc.getMap('files').get(path);
  for (let i = 0; i < WARMUP + EDITS; i++) text.insert(text.length, 'x');
  const a = await open();
  const b = await open();
  await sleep(300);
  let waiting = null;
  b.on('message', (data) => {
    // An update message: [0 (sync), 2 (update), ...].
    if (waiting && data[0] === 0 && data[1] === 2) {
      const w = waiting;
      waiting = null;
      w();
    }
  });
  a.send(updates[0]);
  await sleep(100);
  const samples = [];
  for (let i = 1; i < updates.length; i++) {
    const seen = new Promise((resolve) => (waiting = resolve));
    const t0 = performance.now();
    a.send(updates[i]);
    await seen;
    if (i > WARMUP) samples.push(performance.now() - t0);
    await sleep(2);
  }
  a.close();
  b.close();
  return samples;
}

/**
 * A terminal over a WebSocket: `send(text)` types; `until(pred)` resolves as soon as the
 * output received so far satisfies `pred` (checked on every message, no polling).
 */
function terminal(ws, decode, send) {
  const t = { ws, bytes: 0, tail: '', waiter: null, send };
  t.received = (text) => {
    t.bytes += text.length;
    t.tail = (t.tail + text).slice(-4096);
    if (t.waiter && t.waiter.pred(t)) {
      const w = t.waiter;
      t.waiter = null;
      w.resolve();
    }
  };
  t.until = (pred, what, timeout = 30_000) =>
    new Promise((resolve, reject) => {
      if (pred(t)) return resolve();
      const timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), timeout);
      t.waiter = {
        pred,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
    });
  ws.on('message', (data, binary) => {
    const text = decode(data, binary);
    if (text !== null) t.received(text);
  });
  return t;
}

async function ourTerminal(url) {
  const ws = new WebSocket(url);
  await new Promise((r) => ws.on('open', r));
  ws.send(JSON.stringify({ type: 'hello', name: 'bench' }));
  ws.send(JSON.stringify({ type: 'term_resize', cols: 200, rows: 50 }));
  return terminal(
    ws,
    (data, binary) => (binary ? data.subarray(1).toString('latin1') : null),
    (data) => ws.send(JSON.stringify({ type: 'term_input', data })),
  );
}

async function terminadoTerminal(url) {
  const ws = new WebSocket(url);
  await new Promise((r) => ws.on('open', r));
  ws.send(JSON.stringify(['set_size', 50, 200]));
  return terminal(
    ws,
    (data) => {
      const [kind, text] = JSON.parse(data.toString());
      return kind === 'stdout' ? text : null;
    },
    (data) => ws.send(JSON.stringify(['stdin', data])),
  );
}

/** Keystroke echo at the shell prompt, then bulk output. */
async function terminalFigures(t) {
  await sleep(500);
  t.send('echo READY-$((20+1))\r');
  await t.until((x) => x.tail.includes('READY-21'), 'shell ready');
  const echoes = [];
  for (let i = 0; i < WARMUP + ECHOES; i++) {
    if (i % 40 === 0) {
      t.send('\x15');
      await sleep(20);
    }
    const ch = String.fromCharCode(97 + (i % 26));
    t.tail = '';
    const t0 = performance.now();
    t.send(ch);
    await t.until((x) => x.tail.includes(ch), 'echo');
    if (i >= WARMUP) echoes.push(performance.now() - t0);
  }
  t.send('\x15');
  await sleep(100);
  t.tail = '';
  const start = t.bytes;
  const t0 = performance.now();
  t.send(`head -c ${BULK_BYTES} /dev/zero | tr '\\0' 'x'; echo; echo DONE-$((3*3))\r`);
  await t.until((x) => x.tail.includes('DONE-9'), 'bulk output', 300_000);
  const secs = (performance.now() - t0) / 1000;
  const mbps = (t.bytes - start) / 1e6 / secs;
  t.ws.close();
  return { echoes, mbps };
}

async function main() {
  const server = await startServer({ args: ['--catalog', testCatalog()] });
  const room = cli(server.dataDir, ['rooms', 'create', '--name', 'Bench', '--language', 'bash']);
  const token = room.links.interviewer.split('#')[1];
  const wsBase = server.url.replace('http://', 'ws://');

  // The reference y-websocket server.
  const yPort = await freePort();
  const yServer = spawn(
    process.execPath,
    [new URL('../node_modules/@y/websocket-server/src/server.js', import.meta.url).pathname],
    { env: { ...process.env, PORT: String(yPort), HOST: '127.0.0.1' }, stdio: 'ignore' },
  );
  await sleep(800);

  // terminado.
  const tPort = await freePort();
  const python = process.env.TERMINADO_PYTHON ?? 'python3';
  const terminado = spawn(
    python,
    [new URL('./terminado_server.py', import.meta.url).pathname, String(tPort)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise((r) => terminado.stdout.once('data', r));

  try {
    const edits = ONLY !== 'terminal';
    const terms = ONLY !== 'edit';
    const oursEdit = [];
    const refEdit = [];
    const oursRelay = [];
    const refRelay = [];
    const ours = { echoes: [], mbps: [] };
    const base = { echoes: [], mbps: [] };
    const add = (to, f) => {
      to.echoes.push(...f.echoes);
      to.mbps.push(f.mbps);
    };
    for (let round = 0; round < ROUNDS; round++) {
      const swap = round % 2 === 1;
      const measures = [
        async () => {
          if (edits) {
            oursEdit.push(...(await editLatency(`${wsBase}/yjs`, room.id, { token })));
            oursRelay.push(...(await relayLatency(`${wsBase}/yjs`, room.id, { token })));
          }
          if (terms)
            add(
              ours,
              await terminalFigures(await ourTerminal(`${wsBase}/room/${room.id}?token=${token}`)),
            );
        },
        async () => {
          if (edits) {
            refEdit.push(...(await editLatency(`ws://127.0.0.1:${yPort}`, 'bench', {})));
            refRelay.push(...(await relayLatency(`ws://127.0.0.1:${yPort}`, 'bench', {})));
          }
          if (terms)
            add(
              base,
              await terminalFigures(await terminadoTerminal(`ws://127.0.0.1:${tPort}/websocket`)),
            );
        },
      ];
      if (swap) measures.reverse();
      for (const m of measures) await m();
    }
    if (!edits) {
      oursEdit.push(0);
      refEdit.push(1);
      oursRelay.push(0);
      refRelay.push(1);
    }
    if (!terms) {
      ours.echoes.push(0);
      base.echoes.push(0);
    }
    const median = (xs) => (xs.length ? pct(xs, 50) : 0);
    ours.mbps = median(ours.mbps);
    base.mbps = median(base.mbps);
    const n = (xs) => `${xs.length} = ${ROUNDS} × ${xs.length / ROUNDS}`;

    const rows = [
      ['figure', 'room', 'baseline (same run)'],
      [
        `edit seen by another client p50 / p99 (${n(oursEdit)})`,
        `${ms(pct(oursEdit, 50))} / ${ms(pct(oursEdit, 99))}`,
        `y-websocket server ${ms(pct(refEdit, 50))} / ${ms(pct(refEdit, 99))} (p99 ratio ${(pct(oursEdit, 99) / pct(refEdit, 99)).toFixed(2)}x)`,
      ],
      [
        `edit relayed, on the wire p50 / p99 (${n(oursRelay)})`,
        `${ms(pct(oursRelay, 50))} / ${ms(pct(oursRelay, 99))}`,
        `y-websocket server ${ms(pct(refRelay, 50))} / ${ms(pct(refRelay, 99))} (p99 ratio ${(pct(oursRelay, 99) / pct(refRelay, 99)).toFixed(2)}x)`,
      ],
      [
        `keystroke echo p50 / p99 (${n(ours.echoes)})`,
        `${ms(pct(ours.echoes, 50))} / ${ms(pct(ours.echoes, 99))}`,
        `terminado ${ms(pct(base.echoes, 50))} / ${ms(pct(base.echoes, 99))} (p99 ratio ${(pct(ours.echoes, 99) / pct(base.echoes, 99)).toFixed(2)}x)`,
      ],
      [
        `terminal bulk output (${BULK_BYTES / 1e6} MB, median of ${ROUNDS})`,
        `${ours.mbps.toFixed(1)} MB/s`,
        `terminado ${base.mbps.toFixed(1)} MB/s (ratio ${(ours.mbps / base.mbps).toFixed(2)}x)`,
      ],
    ];
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  } finally {
    yServer.kill();
    terminado.kill();
    cli(server.dataDir, ['rooms', 'delete', room.id]);
    await server.stop();
  }
}

await main();
// Client timers (reconnects) must not keep the process alive.
process.exit(0);
