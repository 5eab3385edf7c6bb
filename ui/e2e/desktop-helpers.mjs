// Shared pieces of the tests of the desktop app: ports, tauri-driver, the app's processes.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { createServer } from 'node:net';
import { WebDriver } from './webdriver.mjs';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export async function waitForDriver(base) {
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

/** Whether a running app owns the single-instance name on the session bus. */
export function instanceNameTaken() {
  const out = execFileSync('dbus-send', [
    '--session',
    '--dest=org.freedesktop.DBus',
    '--print-reply',
    '/org/freedesktop/DBus',
    'org.freedesktop.DBus.NameHasOwner',
    'string:app.interviewplatform.desktop.SingleInstance',
  ]).toString();
  return /boolean true/.test(out);
}

/** Kills every process started with `dir` as its data dir. */
export function killAppsOn(dir) {
  for (const pid of processesOn(dir)) process.kill(pid, 'SIGKILL');
}

/** Processes started with `dir` as their data dir (of the program `exe` only, when given). */
export function processesOn(dir, exe) {
  const wanted = exe && realpathSync(exe);
  const found = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (!env.includes(`INTERVIEW_PLATFORM_DATA_DIR=${dir}`)) continue;
      if (Number(pid) === process.pid) continue;
      if (wanted && readlinkSync(`/proc/${pid}/exe`) !== wanted) continue;
      found.push(Number(pid));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/**
 * A new WebDriver session (through the tauri-driver at `base`) starting `app` once the
 * previous app on `dataDir` has ended: an app still going away holds the single-instance
 * name, a new one would hand over to it and end, and the session would wait for a window
 * that never comes.
 */
export async function openApp(base, app, dataDir) {
  const deadline = Date.now() + 30_000;
  while (processesOn(dataDir, app).length > 0 || instanceNameTaken()) {
    if (Date.now() > deadline) throw new Error('the previous app did not end within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const driver = new WebDriver(base);
  await driver.open({ browserName: 'wry', 'tauri:options': { application: app } });
  return driver;
}
