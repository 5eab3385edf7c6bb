// Shared pieces of the end-to-end tests: starting the headless server and saving artifacts.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const artifactsDir = () => {
  const dir = process.env.ARTIFACTS ?? join(process.cwd(), 'artifacts');
  mkdirSync(dir, { recursive: true });
  return dir;
};

function serverBin() {
  const bin = process.env.INTERVIEW_PLATFORM_SERVER;
  if (!bin)
    throw new Error('set INTERVIEW_PLATFORM_SERVER to the interview-platform-server binary');
  return bin;
}

/** A catalog whose `bash` rooms run the offline busybox test image. */
export function testCatalog() {
  const file = join(mkdtempSync(join(tmpdir(), 'ip-e2e-catalog-')), 'catalog.toml');
  writeFileSync(
    file,
    [
      '[languages.bash]',
      'image = "interview-platform-test/busybox:latest"',
      'run = "sh main.sh"',
      'starter = [{ path = "main.sh", content = "echo hello from main\\n" }]',
      '',
    ].join('\n'),
  );
  return file;
}

/** Runs the CLI against the instance on `dataDir`; returns its one JSON value. */
export function cli(dataDir, args, { bin = serverBin(), env = process.env } = {}) {
  const out = execFileSync(bin, ['--data-dir', dataDir, ...args, '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  return JSON.parse(out);
}

/**
 * Starts `interview-platform-server serve` (on a free loopback port unless `listen` says
 * otherwise); resolves with its URL, its data dir and a `stop`.
 */
export async function startServer({
  dataDir = mkdtempSync(join(tmpdir(), 'ip-e2e-')),
  listen = '127.0.0.1:0',
  args = [],
  bin = serverBin(),
  env = process.env,
} = {}) {
  const child = spawn(bin, ['--data-dir', dataDir, 'serve', '--listen', listen, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
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
    dataDir,
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
