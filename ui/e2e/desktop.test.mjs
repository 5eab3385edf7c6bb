// The desktop window, built in release, under Xvfb, driven through tauri-driver and
// WebKitWebDriver. Needs DISPLAY (run under xvfb-run) and a Docker engine.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebDriver } from './webdriver.mjs';
import { artifactsDir } from './helpers.mjs';

const app = process.env.INTERVIEW_PLATFORM_APP;
let driverProcess;
let driver;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function waitForDriver(base) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/status`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('tauri-driver did not start');
}

before(async () => {
  assert.ok(app, 'set INTERVIEW_PLATFORM_APP to the built desktop app');
  assert.ok(process.env.DISPLAY, 'run under a display (xvfb-run)');
  const port = await freePort();
  const nativePort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'ip-desktop-'));
  driverProcess = spawn(
    'tauri-driver',
    ['--port', String(port), '--native-port', String(nativePort)],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, INTERVIEW_PLATFORM_DATA_DIR: dataDir },
    },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitForDriver(base);
  driver = new WebDriver(base);
  await driver.open({ browserName: 'wry', 'tauri:options': { application: app } });
});

after(async () => {
  try {
    await driver?.close();
  } finally {
    driverProcess?.kill('SIGTERM');
  }
});

test('the window is titled and its home shows the real engine version', async () => {
  assert.match(await driver.title(), /Interview Platform/);
  const want = execFileSync('docker', ['version', '--format', '{{.Server.Version}}'])
    .toString()
    .trim();
  const shown = await driver.waitForText('[data-testid="engine-version"]');
  assert.equal(shown, want);
  // With a fresh data dir there are no rooms: the designed empty state shows.
  const empty = await driver.waitForText('[data-testid="rooms-empty"]');
  assert.match(empty, /No interview rooms yet/);
  const server = await driver.waitForText('[data-testid="room-server"]');
  assert.match(server, /Room server/);
  // The DOM can run ahead of the painted frame: let the window paint before the screenshot.
  await new Promise((r) => setTimeout(r, 1000));
  writeFileSync(join(artifactsDir(), 'desktop-home.png'), await driver.screenshot());
  execFileSync('import', ['-window', 'root', join(artifactsDir(), 'desktop-home-screen.png')]);
});
