// Shared pieces of the end-to-end tests: starting the headless server and saving artifacts.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const artifactsDir = () => {
  const dir = process.env.ARTIFACTS ?? join(process.cwd(), 'artifacts');
  mkdirSync(dir, { recursive: true });
  return dir;
};

/** Starts `interview-platform-server serve` on a free loopback port; resolves with its URL. */
export async function startServer() {
  const bin = process.env.INTERVIEW_PLATFORM_SERVER;
  if (!bin)
    throw new Error('set INTERVIEW_PLATFORM_SERVER to the interview-platform-server binary');
  const dataDir = mkdtempSync(join(tmpdir(), 'ip-e2e-'));
  const child = spawn(bin, ['--data-dir', dataDir, 'serve', '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 20_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${stderr}`));
    });
  });
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.removeAllListeners('exit');
        child.on('exit', (code, signal) => resolve({ code, signal }));
        child.kill('SIGTERM');
      }),
  };
}

/** Chromium flags that work on a machine without a network, as root. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
