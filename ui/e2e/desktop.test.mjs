// The desktop window, built in release, under Xvfb, driven through tauri-driver and
// WebKitWebDriver, with a candidate in Chromium. Needs DISPLAY (run under xvfb-run), a Docker
// engine, INTERVIEW_PLATFORM_APP (the app) and INTERVIEW_PLATFORM_SERVER (its CLI, for
// cleaning up).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { WebDriver } from './webdriver.mjs';
import { freePort, openApp as openSession, killAppsOn, waitForDriver } from './desktop-helpers.mjs';
import { artifactsDir, cli, CHROMIUM_ARGS, startServer, testCatalog } from './helpers.mjs';

const app = process.env.INTERVIEW_PLATFORM_APP;
const dataDir = mkdtempSync(join(tmpdir(), 'ip-desktop-'));
// The app's own home: its window state and exports stay out of the real one.
const home = mkdtempSync(join(tmpdir(), 'ip-desktop-home-'));
let driverProcess;
let driver;
let browser;
let roomId = null;
let serverPort;
let recorder;
const notificationsFile = join(mkdtempSync(join(tmpdir(), 'ip-notes-')), 'notifications.jsonl');

/** What the app asked the desktop to notify, as the stand-in service recorded it. */
const notifications = () =>
  existsSync(notificationsFile)
    ? readFileSync(notificationsFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];

/** Starts the app (a new WebDriver session) on the test's data dir. */
async function openApp() {
  driver = await openSession(driver.base, app, dataDir);
}

/** Ends the app the way a crash or a kill would: rooms keep running. */
async function closeApp() {
  await driver.close();
}

async function shot(name) {
  // The DOM can run ahead of the painted frame: let the window paint first.
  await new Promise((r) => setTimeout(r, 700));
  writeFileSync(join(artifactsDir(), `desktop-${name}.png`), await driver.screenshot());
}

/** Does to the window what a window manager would (see x11-window.py). */
const x11 = (command) =>
  execFileSync('/usr/bin/python3', [
    join(import.meta.dirname, 'x11-window.py'),
    command,
    'Interview Platform',
  ])
    .toString()
    .trim();

/**
 * Clicks a button that hides the window or ends the app. The click is made from the page,
 * after the command has returned: a WebDriver click may wait for an answer that never comes.
 */
async function clickFromPage(testid) {
  await driver.waitFor(`[data-testid="${testid}"]`);
  await driver.execute(
    'const b = document.querySelector(arguments[0]); setTimeout(() => b.click(), 50); return true;',
    [`[data-testid="${testid}"]`],
  );
}

/** Chooses a language in the new-room form once the catalog is there. */
async function pickLanguage(id) {
  await driver.until(`the language ${id} chosen`, async () =>
    driver.execute(
      `const s = document.querySelector('[data-testid="language"]');
       if (!s || ![...s.options].some((o) => o.value === arguments[0])) return false;
       s.value = arguments[0];
       s.dispatchEvent(new Event('change', { bubbles: true }));
       return true;`,
      [id],
    ),
  );
}

/**
 * Asks the window to close until it shows its dialog: a window just shown again may not have
 * taken the first request yet. Asking twice only shows the same dialog.
 */
async function askToClose() {
  await driver.until('the close dialog', async () => {
    x11('close');
    for (let i = 0; i < 10; i++) {
      try {
        await driver.find('[data-testid="close-dialog"]');
        return true;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    return false;
  });
}

/** Starts the app a second time; resolves with its exit code. */
function secondStart() {
  const child = spawn(app, [], {
    stdio: 'ignore',
    env: { ...process.env, INTERVIEW_PLATFORM_DATA_DIR: dataDir, HOME: home },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('a second start did not end: single instance is not enforced'));
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

const text = async (css) => driver.text(await driver.find(css));
const value = (css) =>
  driver.execute('return document.querySelector(arguments[0])?.value ?? null', [css]);

before(async () => {
  assert.ok(app, 'set INTERVIEW_PLATFORM_APP to the built desktop app');
  assert.ok(process.env.DISPLAY, 'run under a display (xvfb-run)');
  // The app applies `catalog.toml` of its data dir: bash rooms run the offline test image.
  copyFileSync(testCatalog(), join(dataDir, 'catalog.toml'));
  const port = await freePort();
  const nativePort = await freePort();
  driverProcess = spawn(
    'tauri-driver',
    ['--port', String(port), '--native-port', String(nativePort)],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, INTERVIEW_PLATFORM_DATA_DIR: dataDir, HOME: home },
    },
  );
  // No notification service runs under Xvfb: a stand-in on the session bus records them.
  recorder = spawn(
    '/usr/bin/python3',
    [join(import.meta.dirname, 'notification-recorder.py'), notificationsFile],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise((resolve, reject) => {
    recorder.stdout.once('data', resolve);
    recorder.once('exit', (code) => reject(new Error(`the notification stand-in ended (${code})`)));
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForDriver(base);
  driver = new WebDriver(base);
  await openApp();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});

after(async () => {
  try {
    await browser?.close();
    await driver?.close().catch(() => {});
  } finally {
    driverProcess?.kill('SIGTERM');
    recorder?.kill('SIGTERM');
    // A test that failed midway may leave an app behind (hidden in the tray, say).
    killAppsOn(dataDir);
    if (roomId) {
      // The app is gone: the headless server on the same data dir removes the room.
      await new Promise((r) => setTimeout(r, 1000));
      const server = await startServer({ dataDir });
      try {
        cli(dataDir, ['rooms', 'delete', roomId]);
      } finally {
        await server.stop();
      }
    }
  }
});

test('the window is titled and its home shows the real engine version', async () => {
  assert.match(await driver.title(), /Interview Platform/);
  const want = execFileSync('docker', ['version', '--format', '{{.Server.Version}}'])
    .toString()
    .trim();
  // The engine is fine: the home shows the rooms, the version is on the Engine screen.
  const empty = await driver.waitForText('[data-testid="rooms-empty"]');
  assert.match(empty, /No interview rooms yet/);
  const server = await driver.waitForText('[data-testid="room-server"]');
  assert.match(server, /Room server/);
  await shot('home');
  execFileSync('import', ['-window', 'root', join(artifactsDir(), 'desktop-home-screen.png')]);
  await driver.clickOn('[data-testid="nav-diagnostics"]');
  assert.equal(await driver.waitForText('[data-testid="engine-version"]'), want);
  await driver.until('the images listed', async () =>
    /Present/.test(await text('[data-testid="images"]')),
  );
  await shot('engine');
});

test('settings are saved, applied at once, and move the room server', async () => {
  serverPort = await freePort();
  await driver.clickOn('[data-testid="nav-settings"]');
  await driver.fill('[data-testid="setting-port"]', serverPort);
  await driver.fill('[data-testid="setting-name"]', 'Iris');
  await driver.fill('[data-testid="setting-retention"]', 14);
  await driver.clickOn('[data-testid="save-settings"]');
  assert.match(await driver.waitForText('[data-testid="settings-status"]'), /Saved/);
  await driver.until('the room server on the new port', async () =>
    (await text('[data-testid="room-server"]')).includes(`127.0.0.1:${serverPort}`),
  );
  await shot('settings');
  // A bad value is refused with the backend's words, and nothing changes.
  await driver.fill('[data-testid="setting-public-url"]', 'ftp://files.example.org');
  await driver.clickOn('[data-testid="save-settings"]');
  await driver.until('the refusal', async () =>
    /must start with http:\/\/ or https:\/\//.test(await text('[data-testid="settings-status"]')),
  );
  await driver.fill('[data-testid="setting-public-url"]', '');
});

test('a room made in the window: a candidate joins by the copied link, types and pastes', async () => {
  await driver.clickOn('[data-testid="nav-new"]');
  await driver.fill('[data-testid="room-name-input"]', 'Pairing with Ada');
  // Go's image is not on this machine and no registry is reachable: the form says so and
  // nothing is left of the room.
  await pickLanguage('go');
  await driver.clickOn('[data-testid="create"]');
  const failure = await driver.waitForText('[data-testid="create-error"]', 60_000);
  assert.match(failure, /is not on this machine and no registry could provide it/);
  await shot('new-room-failed');
  assert.deepEqual(cli(dataDir, ['rooms', 'list']), [], 'nothing half-made');
  await pickLanguage('bash');
  await shot('new-room');
  await driver.clickOn('[data-testid="create"]');
  await driver.waitFor('[data-testid="room"]', 60_000);
  await driver.waitFor('.cm-content', 30_000);
  // The CLI drives the running app through its admin socket: it sees the window's room.
  const listed = cli(dataDir, ['rooms', 'list']);
  assert.equal(listed.length, 1);
  assert.equal(listed[0].name, 'Pairing with Ada');
  assert.equal(listed[0].status, 'ready');
  roomId = listed[0].id;

  // Copy the candidate link: it lands on the system clipboard.
  await driver.clickOn('[data-testid="copy-candidate"]');
  assert.match(await driver.waitForText('[data-testid="room-message"]'), /link copied/);
  const link = execFileSync('xclip', ['-o', '-selection', 'clipboard']).toString().trim();
  assert.match(link, new RegExp(`^http://127\\.0\\.0\\.1:${serverPort}/r/${roomId}#ey`));

  // The candidate opens it in Chromium, joins and types.
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(link);
  await page.getByTestId('name').fill('Ada');
  await page.getByTestId('name').press('Enter');
  await page.locator('.cm-content').waitFor({ timeout: 30_000 });
  await page.locator('.cm-content').click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type('\necho typed-by-ada\n', { delay: 10 });

  await driver.until('the candidate among the participants', async () =>
    /Ada/.test(await text('[data-testid="participants"]')),
  );
  await driver.until('a notification that the candidate joined', async () =>
    notifications().some((n) => n.summary === 'Ada joined' && n.body === 'Room: Pairing with Ada'),
  );
  await driver.until('the candidate’s text in the window’s editor', async () =>
    /typed-by-ada/.test(await text('.cm-content')),
  );

  // A paste in the candidate's page appears in the window's activity feed.
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.setData('text/plain', 'y'.repeat(42));
    document
      .querySelector('.cm-content')
      .dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true }));
  });
  await driver.until('the paste in the activity feed', async () =>
    /Ada pasted 42 characters/.test(await text('[data-testid="activity"]')),
  );
  await page.screenshot({ path: join(artifactsDir(), 'desktop-candidate.png') });

  // Private notes, autosaved.
  const notes = await driver.waitFor('[data-testid="notes"]');
  await driver.sendKeys(notes, 'Strong on shell basics.');
  await driver.until('the notes saved', async () =>
    /Saved at/.test(await text('[data-testid="notes-status"]')),
  );
  // Extend: the time left grows by a quarter of an hour.
  const before = await text('[data-testid="time-left"]');
  assert.match(before, /^59 min left/);
  await driver.clickOn('[data-testid="extend"]');
  await driver.until('the room extended', async () =>
    /^1 h 14 min left/.test(await text('[data-testid="time-left"]')),
  );
  await shot('room');

  // Restart: a fresh container over the same files; the candidate's text is still there.
  await driver.clickOn('[data-testid="restart"]');
  await driver.until(
    'the room restarted',
    async () => /restarted/.test(await text('[data-testid="room-message"]')),
    60_000,
  );
  await driver.until('the terminal back after the restart', async () =>
    /\/interview \$/.test(await text('.xterm-rows')),
  );
  assert.match(await text('.cm-content'), /typed-by-ada/);

  // Revoking the candidate's link puts the candidate out at once, with a page that says why.
  await driver.clickOn('[data-testid="revoke-link"]');
  await page.getByTestId('closed').waitFor({ timeout: 15_000 });
  assert.match(await page.getByTestId('closed').innerText(), /expired|revoked/i);
  await page.screenshot({ path: join(artifactsDir(), 'desktop-candidate-revoked.png') });
  await driver.until('a notification that the candidate left', async () =>
    notifications().some((n) => n.summary === 'Ada left'),
  );
  await page.close();
});

test('notes and settings survive a restart; the rooms are re-attached', async () => {
  await closeApp();
  await openApp();
  await driver.until('the room back in the list', async () =>
    /ready/.test(await text('[data-testid="room-status"]')),
  );
  await driver.clickOn('[data-testid="open-room"]');
  await driver.until(
    'the notes back',
    async () => (await value('[data-testid="notes"]')) === 'Strong on shell basics.',
  );
  await driver.until('the window joined under the saved name', async () =>
    /Iris \(you\)/.test(await text('[data-testid="participants"]')),
  );
  await driver.clickOn('button[aria-label="Back"]');
  await driver.clickOn('[data-testid="nav-settings"]');
  assert.equal(Number(await value('[data-testid="setting-port"]')), serverPort);
  assert.equal(Number(await value('[data-testid="setting-retention"]')), 14);
});

test('a second start shows the running window; closing with a live room asks what to do', async () => {
  assert.ok(process.env.DBUS_SESSION_BUS_ADDRESS, 'run under a D-Bus session (dbus-run-session)');
  // A second start hands over to the running app and ends.
  assert.equal(await secondStart(), 0);
  assert.match(await driver.title(), /Interview Platform/, 'the first one runs on');

  // Closing the window while the room runs asks; "keep in the tray" hides the window only.
  await askToClose();
  await shot('close-dialog');
  await clickFromPage('close-keep_in_tray');
  await driver.until('the window hidden', async () => x11('state') === 'hidden');
  assert.equal(cli(dataDir, ['rooms', 'list'])[0].status, 'ready', 'the app still serves');
  // Starting the app again brings the window back.
  assert.equal(await secondStart(), 0);
  await driver.until('the window shown again', async () => x11('state') === 'shown');

  // "Quit and keep the rooms": the room's container runs on; the next start re-attaches it,
  // in a window of the size it had.
  await driver.setRect({ width: 1100, height: 720 });
  await askToClose();
  await clickFromPage('close-quit_keep_rooms');
  await driver.until('the app gone', async () => x11('state') === 'gone', 30_000);
  const running = execFileSync('docker', [
    'inspect',
    '-f',
    '{{.State.Running}}',
    `interview-platform-room-${roomId}`,
  ]);
  assert.equal(running.toString().trim(), 'true');
  await driver.close().catch(() => {});
  await openApp();
  const rect = await driver.rect();
  assert.deepEqual([rect.width, rect.height], [1100, 720], 'the window size is remembered');
  await driver.until('the room re-attached', async () =>
    /ready/.test(await text('[data-testid="room-status"]')),
  );

  // "Stop the rooms and quit": the app ends, the room is stopped with its files kept.
  await askToClose();
  await clickFromPage('close-stop_rooms_and_quit');
  await driver.until('the app gone', async () => x11('state') === 'gone', 60_000);
  const server = await startServer({ dataDir });
  try {
    assert.equal(cli(dataDir, ['rooms', 'list'])[0].status, 'stopped');
  } finally {
    await server.stop();
  }
  // The app is gone; its WebDriver session is not.
  await driver.close().catch(() => {});
  await openApp();
});

test('an engine endpoint that points nowhere leads to the diagnostics', async () => {
  await driver.clickOn('[data-testid="nav-settings"]');
  const nowhere = `tcp://127.0.0.1:${await freePort()}`;
  await driver.fill('[data-testid="setting-engine"]', nowhere);
  await driver.clickOn('[data-testid="save-settings"]');
  assert.match(await driver.waitForText('[data-testid="settings-status"]'), /Saved/);
  await closeApp();
  await openApp();
  await driver.waitFor('[data-testid="diagnostics"]');
  const problem = await driver.waitForText('[data-testid="engine-problem"]');
  assert.match(problem, new RegExp(nowhere.replace(/[.:/]/g, '\\$&')));
  await shot('diagnostics');
  // Put the engine back, so cleaning up can reach it.
  await driver.clickOn('[data-testid="nav-settings"]');
  await driver.fill('[data-testid="setting-engine"]', '');
  await driver.clickOn('[data-testid="save-settings"]');
  assert.match(await driver.waitForText('[data-testid="settings-status"]'), /Saved/);
});

test('the home exports a room with its notes and deletes it after asking', async () => {
  await driver.clickOn('[data-testid="nav-home"]');
  await driver.waitFor('[data-testid="room-row"]');
  await shot('home-rooms');
  await driver.clickOn('[data-testid="export-room"]');
  const saved = await driver.waitForText('[data-testid="rooms-notice"]', 30_000);
  const zip = saved.replace(/^Saved /, '');
  assert.ok(zip.startsWith(home), `saved under the home folder: ${saved}`);
  const listing = execFileSync('unzip', ['-l', zip]).toString();
  assert.match(listing, /INTERVIEW-NOTES\.md/);
  assert.match(listing, /main\.sh/);

  await driver.clickOn('[data-testid="delete-room"]');
  await driver.waitFor('[data-testid="confirm-delete"]');
  await shot('delete');
  await driver.clickOn('[data-testid="confirm-delete"]');
  await driver.waitForText('[data-testid="rooms-empty"]', 30_000);
  const left = execFileSync('docker', [
    'ps',
    '-aq',
    '--filter',
    `label=app.interview-platform.room=${roomId}`,
  ]);
  assert.equal(left.toString().trim(), '', 'the container is gone');
  roomId = null;

  // With no room running, closing the window just quits (asked again every few seconds: one
  // run in several here lost the first request under a bare X server).
  let asked = 0;
  await driver.until(
    'the app gone',
    async () => {
      if (asked++ % 12 === 0) x11('close');
      return x11('state') === 'gone';
    },
    30_000,
  );
  await driver.close().catch(() => {});
});
