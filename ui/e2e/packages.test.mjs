// The packages built by the test command: the .deb installed with dpkg, the installed app
// started under Xvfb (through tauri-driver) and updated through its updater from a local
// server, the .rpm's contents, and the headless server's tar.gz run as shipped.
//
// Needs root, DISPLAY (xvfb-run) and a session bus (dbus-run-session), a Docker engine, and
// INTERVIEW_PLATFORM_PACKAGES: a folder holding, as scripts/bundle.sh names them, the 0.1.0
// .deb and .rpm and a newer .deb, each signed with the test key their config trusts
// (src-tauri/tests/updater), and the server's tar.gz. INTERVIEW_PLATFORM_SERVER (the CLI)
// drives the app's rooms.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebDriver } from './webdriver.mjs';
import {
  freePort,
  openApp as openSession,
  killAppsOn,
  processesOn,
  waitForDriver,
} from './desktop-helpers.mjs';
import { artifactsDir, cli, startServer, testCatalog } from './helpers.mjs';

const root = join(import.meta.dirname, '..', '..');
const packages = process.env.INTERVIEW_PLATFORM_PACKAGES;
const tauri = join(root, 'ui', 'node_modules', '.bin', 'tauri');
const APP = '/usr/bin/interview-platform';
const PACKAGE = 'interview-platform';
const dataDir = mkdtempSync(join(tmpdir(), 'ip-pkg-'));
const home = mkdtempSync(join(tmpdir(), 'ip-pkg-home-'));
const work = mkdtempSync(join(tmpdir(), 'ip-pkg-work-'));
// The installed app must find the agent it carries, not a developer's build.
// A stand-in for the administrator prompt, first on the app's PATH: while `refuseFile` exists
// it refuses, as a cancelled password prompt would; otherwise it runs the real sudo.
const standIns = mkdtempSync(join(tmpdir(), 'ip-pkg-bin-'));
const refuseFile = join(standIns, 'refuse');
writeFileSync(
  join(standIns, 'sudo'),
  `#!/bin/sh\nif [ -e '${refuseFile}' ]; then echo 'sudo: a password is required' >&2; exit 1; fi\nexec /usr/bin/sudo "$@"\n`,
  { mode: 0o755 },
);
const appEnv = {
  ...process.env,
  INTERVIEW_PLATFORM_DATA_DIR: dataDir,
  HOME: home,
  PATH: `${standIns}:${process.env.PATH}`,
};
delete appEnv.INTERVIEW_PLATFORM_INSIDER;

let current; // the version the packages were built as
let newer;
let driverProcess;
let driver;
let updateServer;
let updateBase;
let roomId = null;
/** What the local update server answers: the manifest, and the files by name. */
const served = { manifest: null, files: new Map() };

const pkg = (version, ext) => join(packages, `${PACKAGE}_${version}_x86_64.${ext}`);
const installedVersion = () => {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', PACKAGE], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return null;
  }
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The manifest scripts/update-manifest.mjs writes for the packages in `dir`. */
function manifestFor(dir, version) {
  return JSON.parse(
    execFileSync(
      'node',
      [
        join(root, 'scripts', 'update-manifest.mjs'),
        '--version',
        version,
        '--base-url',
        `${updateBase}/pkg`,
        '--notes',
        `What changed in ${version}:\n- faster rooms\n- clearer errors`,
        dir,
      ],
      { encoding: 'utf8' },
    ),
  );
}

/** A folder holding `file` under the name of `version`, with `sig` as its signature. */
function release(name, version, file, sig) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const target = join(dir, `${PACKAGE}_${version}_x86_64.deb`);
  copyFileSync(file, target);
  writeFileSync(`${target}.sig`, sig);
  return { dir, file: target, name: `${PACKAGE}_${version}_x86_64.deb` };
}

/** Serves a release: its manifest, and its file (or `bytes` in its place). */
function serve(rel, version, bytes) {
  served.manifest = manifestFor(rel.dir, version);
  served.files.set(rel.name, bytes ?? readFileSync(rel.file));
}

async function openApp() {
  driver = await openSession(driver.base, APP, dataDir);
  await driver.waitFor('[data-testid="nav-home"]');
}

async function shot(name) {
  await sleep(700);
  writeFileSync(join(artifactsDir(), `package-${name}.png`), await driver.screenshot());
}

const text = async (css) => driver.text(await driver.find(css));

async function setUpdateAddress(url) {
  await driver.clickOn('[data-testid="nav-settings"]');
  await driver.fill('[data-testid="setting-update-endpoint"]', url);
  // Saving clears the last status at once; the new one comes with the answer.
  await driver.clickOn('[data-testid="save-settings"]');
  assert.match(await driver.waitForText('[data-testid="settings-status"]'), /Saved/);
}

async function checkForUpdates() {
  await driver.clickOn('[data-testid="nav-settings"]');
  await driver.clickOn('[data-testid="update-check"]');
  await driver.until('the check to end', async () =>
    driver.execute(
      `return !!document.querySelector('[data-testid="update-none"], [data-testid="update-headline"], [data-testid="update-error"]')
        && !document.querySelector('[data-testid="update-check"]').disabled`,
    ),
  );
}

before(async () => {
  assert.ok(packages, 'set INTERVIEW_PLATFORM_PACKAGES to the folder of built packages');
  assert.ok(process.env.DISPLAY, 'run under a display (xvfb-run)');
  assert.equal(process.getuid(), 0, 'installing packages needs root');
  const debs = readdirSync(packages)
    .map((f) => f.match(/^interview-platform_(\d+\.\d+\.\d+)_x86_64\.deb$/)?.[1])
    .filter(Boolean)
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  assert.ok(debs.length >= 2, `two versions of the .deb in ${packages}: ${debs}`);
  [current, newer] = [debs[0], debs.at(-1)];

  // Whatever an earlier run left installed goes first.
  if (installedVersion()) execFileSync('dpkg', ['--purge', PACKAGE], { stdio: 'ignore' });
  copyFileSync(testCatalog(), join(dataDir, 'catalog.toml'));

  updateServer = createServer(async (req, res) => {
    if (req.url === '/latest.json' && served.manifest) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(served.manifest));
      return;
    }
    const body = req.url.startsWith('/pkg/')
      ? served.files.get(decodeURIComponent(req.url.slice(5)))
      : null;
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    // Sent in a hundred pieces over about two seconds, so the progress can be seen.
    res.writeHead(200, { 'content-length': body.length });
    const piece = Math.ceil(body.length / 100);
    for (let at = 0; at < body.length; at += piece) {
      if (!res.write(body.subarray(at, at + piece))) {
        await new Promise((r) => res.once('drain', r));
      }
      await sleep(20);
    }
    res.end();
  });
  await new Promise((r) => updateServer.listen(0, '127.0.0.1', r));
  updateBase = `http://127.0.0.1:${updateServer.address().port}`;

  const port = await freePort();
  const nativePort = await freePort();
  driverProcess = spawn(
    'tauri-driver',
    ['--port', String(port), '--native-port', String(nativePort)],
    { stdio: ['ignore', 'inherit', 'inherit'], env: appEnv },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitForDriver(base);
  driver = new WebDriver(base);
});

after(async () => {
  await driver?.close().catch(() => {});
  driverProcess?.kill('SIGTERM');
  updateServer?.close();
  killAppsOn(dataDir);
  if (roomId) {
    await sleep(1000);
    const server = await startServer({ dataDir });
    try {
      cli(dataDir, ['rooms', 'delete', roomId]);
    } catch {
      // already gone
    } finally {
      await server.stop();
    }
  }
  if (installedVersion()) execFileSync('dpkg', ['--purge', PACKAGE], { stdio: 'ignore' });
});

test('the .deb installs with dpkg and carries the app, its icon, its launcher and the room agent', () => {
  execFileSync('dpkg', ['-i', pkg(current, 'deb')], { stdio: 'inherit' });
  assert.equal(installedVersion(), current);
  const files = execFileSync('dpkg', ['-L', PACKAGE], { encoding: 'utf8' }).split('\n');
  for (const f of [
    APP,
    '/usr/lib/Interview Platform/agents/insider-x86_64',
    '/usr/share/applications/Interview Platform.desktop',
    '/usr/share/icons/hicolor/128x128/apps/interview-platform.png',
  ]) {
    assert.ok(files.includes(f), `${f} installed: ${files.join(' ')}`);
  }
  const control = execFileSync('dpkg', ['-s', PACKAGE], { encoding: 'utf8' });
  assert.match(control, /^Homepage: https:\/\//m);
  assert.match(control, /^Description: Technical interviews/m);
  const agent = readFileSync('/usr/lib/Interview Platform/agents/insider-x86_64');
  assert.equal(agent.readUInt16LE(18), 62, 'the agent is an x86_64 executable');
});

test('the installed app starts, shows its home, and rooms get the agent it carries', async () => {
  await openApp();
  assert.match(await driver.title(), /Interview Platform/);
  await driver.waitFor('[data-testid="rooms-table"], [data-testid="rooms-empty"]');
  await shot('installed-home');
  await driver.clickOn('[data-testid="nav-diagnostics"]');
  await driver.waitFor('[data-testid="agent"]');
  const agent = await text('[data-testid="agent"]');
  assert.match(agent, /\/usr\/lib\/Interview Platform\/agents\/insider-x86_64/);
  assert.match(agent, /x86_64/);
  // A room made through the app's admin socket runs that agent.
  const room = cli(dataDir, ['rooms', 'create', '--name', 'Installed', '--language', 'bash']);
  roomId = room.id;
  assert.equal(room.status, 'ready');
});

test('an update server that does not answer is said so; an equal or lower version is no update', async () => {
  const sameVersion = release(
    'same',
    current,
    pkg(current, 'deb'),
    readFileSync(`${pkg(current, 'deb')}.sig`),
  );
  serve(sameVersion, current);
  // Nothing answers: the check says so.
  const closed = await freePort();
  await setUpdateAddress(`http://127.0.0.1:${closed}/latest.json`);
  await checkForUpdates();
  const offline = await text('[data-testid="update-error"]');
  assert.match(offline, new RegExp(`127\\.0\\.0\\.1:${closed}.* could not be reached`));
  assert.match(offline, /Check the network connection or the update address/);
  await shot('update-offline');

  await setUpdateAddress(`${updateBase}/latest.json`);
  await checkForUpdates();
  assert.match(await text('[data-testid="update-none"]'), /newest version/);

  const lower = release(
    'lower',
    '0.0.1',
    pkg(current, 'deb'),
    readFileSync(`${pkg(current, 'deb')}.sig`),
  );
  serve(lower, '0.0.1');
  await checkForUpdates();
  assert.match(await text('[data-testid="update-none"]'), /newest version/);
  await shot('update-none');
});

test('a tampered package and one signed with another key are refused; nothing is installed', async () => {
  const good = release('good', newer, pkg(newer, 'deb'), readFileSync(`${pkg(newer, 'deb')}.sig`));
  const tampered = Buffer.from(readFileSync(good.file));
  tampered[tampered.length >> 1] ^= 0xff;
  serve(good, newer, tampered);
  await checkForUpdates();
  assert.match(
    await text('[data-testid="update-headline"]'),
    new RegExp(`Version ${newer} is available`),
  );
  assert.match(await text('[data-testid="update-card"]'), /faster rooms/);
  await driver.clickOn('[data-testid="update-card"] [data-testid="update-install"]');
  const altered = await driver.waitForText('[data-testid="update-error"]', 60_000);
  assert.match(altered, /altered or damaged/);
  assert.match(altered, /not installed/);
  await shot('update-tampered');
  assert.equal(installedVersion(), current, 'nothing installed');

  // Signed by a key the app does not trust.
  const keyDir = mkdtempSync(join(tmpdir(), 'ip-other-key-'));
  execFileSync(tauri, ['signer', 'generate', '-w', join(keyDir, 'other.key'), '--ci', '-p', ''], {
    stdio: 'ignore',
  });
  const copy = join(keyDir, 'package.deb');
  copyFileSync(good.file, copy);
  execFileSync(tauri, ['signer', 'sign', '-f', join(keyDir, 'other.key'), '-p', '', copy], {
    stdio: 'ignore',
  });
  const foreign = release('foreign', newer, copy, readFileSync(`${copy}.sig`));
  serve(foreign, newer);
  await checkForUpdates();
  await driver.clickOn('[data-testid="update-card"] [data-testid="update-install"]');
  await driver.until('the foreign signature refused', async () =>
    /key this app does not trust/.test(
      (await driver.execute(
        `return document.querySelector('[data-testid="update-error"]')?.textContent ?? ''`,
      )) ?? '',
    ),
  );
  assert.equal(installedVersion(), current, 'nothing installed');
});

test('found at start; with a room live the install waits, is offered when it stops, and the app restarts updated', async () => {
  const good = release('good', newer, pkg(newer, 'deb'), readFileSync(`${pkg(newer, 'deb')}.sig`));
  serve(good, newer);
  // A new start checks by itself.
  await driver.close();
  await openApp();
  await driver.waitFor('[data-testid="update-banner"]');
  assert.match(
    await text('[data-testid="update-banner"]'),
    new RegExp(`Version ${newer} is available`),
  );
  await shot('update-banner');

  // The room made earlier is live: downloading is fine, installing waits.
  assert.equal(cli(dataDir, ['rooms', 'list'])[0].status, 'ready');
  await driver.clickOn('[data-testid="update-banner"] [data-testid="update-install"]');
  await driver.waitFor('[data-testid="update-progress"]');
  await shot('update-downloading');
  await driver.waitFor('[data-testid="update-deferred"]', 60_000);
  assert.match(await text('[data-testid="update-deferred"]'), /A room is live/);
  await shot('update-deferred');
  await sleep(1000);
  assert.equal(installedVersion(), current, 'not installed while a room is live');

  // The room stops: the app offers the update.
  cli(dataDir, ['rooms', 'stop', roomId]);
  await driver.waitFor('[data-testid="update-offer"]');
  await shot('update-offer');
  // The administrator prompt is refused: the app says so and nothing changes.
  writeFileSync(refuseFile, '');
  await driver.clickOn('[data-testid="update-offer-install"]');
  const denied = await driver.waitForText(
    '[data-testid="update-banner"] [data-testid="update-error"]',
  );
  assert.match(denied, /administrator rights/);
  assert.match(denied, /Nothing was changed/);
  await shot('update-denied');
  assert.equal(installedVersion(), current, 'nothing installed');
  assert.equal(processesOn(dataDir, APP).length, 1, 'the app still runs');

  // Allowed this time. The app restarts: the click is made from the page, the answer never
  // comes.
  rmSync(refuseFile);
  await driver.waitFor('[data-testid="update-banner"] [data-testid="update-install"]');
  await driver.execute(
    `const b = document.querySelector('[data-testid="update-banner"] [data-testid="update-install"]');
     setTimeout(() => b.click(), 50); return true;`,
  );
  const deadline = Date.now() + 120_000;
  while (installedVersion() !== newer) {
    assert.ok(Date.now() < deadline, `dpkg shows ${installedVersion()}, not ${newer}`);
    await sleep(250);
  }
  // The restarted app is the new version and serves the CLI again.
  let status = null;
  while (!status || status.version !== newer) {
    assert.ok(
      Date.now() < deadline,
      `the app did not come back as ${newer}: ${JSON.stringify(status)}`,
    );
    await sleep(500);
    try {
      status = cli(dataDir, ['status']);
    } catch {
      // restarting
    }
  }
  assert.equal(processesOn(dataDir, APP).length, 1, 'one app runs after the restart');
});

test('the .rpm carries the app and the room agent, with its metadata', () => {
  const rpm = pkg(current, 'rpm');
  assert.ok(existsSync(`${rpm}.sig`), 'the .rpm is signed for the updater');
  const info = execFileSync('rpm', ['-qpi', rpm], { encoding: 'utf8' });
  assert.match(info, new RegExp(`^Version\\s*: ${current.replace(/\./g, '\\.')}`, 'm'));
  assert.match(info, /^License\s*: MIT/m);
  const files = execFileSync('rpm', ['-qpl', rpm], { encoding: 'utf8' }).split('\n');
  assert.ok(files.includes(APP), files.join(' '));
  assert.ok(files.includes('/usr/lib/Interview Platform/agents/insider-x86_64'), files.join(' '));
});

test('the headless server tar.gz runs as shipped: rooms get the agent beside it', async () => {
  const tarball = readdirSync(packages).find((f) =>
    /^interview-platform-server-.*-linux-x86_64\.tar\.gz$/.test(f),
  );
  assert.ok(tarball, `the server tar.gz in ${packages}`);
  const dir = mkdtempSync(join(tmpdir(), 'ip-server-pkg-'));
  execFileSync('tar', ['-xzf', join(packages, tarball), '-C', dir]);
  const [top] = readdirSync(dir);
  const bin = join(dir, top, 'interview-platform-server');
  assert.deepEqual(readdirSync(join(dir, top)).sort(), [
    'LICENSE',
    'README.txt',
    'agents',
    'interview-platform-server',
  ]);
  assert.match(execFileSync(bin, ['--version'], { encoding: 'utf8' }), /\d+\.\d+\.\d+/);
  const env = { ...process.env };
  delete env.INTERVIEW_PLATFORM_INSIDER;
  const serverData = mkdtempSync(join(tmpdir(), 'ip-server-pkg-data-'));
  copyFileSync(testCatalog(), join(serverData, 'catalog.toml'));
  const server = await startServer({ dataDir: serverData, bin, env });
  try {
    const room = cli(serverData, ['rooms', 'create', '--name', 'Shipped', '--language', 'bash'], {
      bin,
      env,
    });
    assert.equal(room.status, 'ready');
    cli(serverData, ['rooms', 'delete', room.id], { bin, env });
  } finally {
    await server.stop();
  }
});
