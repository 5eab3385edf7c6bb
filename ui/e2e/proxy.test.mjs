// The room behind a real reverse proxy (Debian's nginx) under a path prefix, reached by a
// LAN-like name over plain http: links carry the public URL, the page finds its sockets
// relative to itself, and the proxy's log (a format without query strings) never holds a
// token.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { artifactsDir, CHROMIUM_ARGS, cli, startServer, testCatalog } from './helpers.mjs';

let server;
let nginx;
let browser;
let room;
let dir;
let proxyPort;

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

before(async () => {
  proxyPort = await freePort();
  const publicUrl = `http://lan.test:${proxyPort}/team`;
  server = await startServer({
    args: ['--catalog', testCatalog(), '--path-prefix', '/team', '--public-url', publicUrl],
  });
  const upstream = new URL(server.url);
  dir = mkdtempSync(join(tmpdir(), 'ip-nginx-'));
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
error_log ${dir}/error.log;
pid ${dir}/nginx.pid;
events {}
http {
  # Paths only: room tokens travel in the query string of the sockets.
  log_format noquery '$remote_addr [$time_local] "$request_method $uri $server_protocol" $status';
  access_log ${dir}/access.log noquery;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:${proxyPort};
    location /team/ {
      proxy_pass http://${upstream.host};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_read_timeout 1h;
    }
  }
}
`,
  );
  nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let nginxErr = '';
  nginx.stderr.on('data', (d) => (nginxErr += d));
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    try {
      const r = await fetch(`http://127.0.0.1:${proxyPort}/team/healthz`);
      if (r.ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.ok(Date.now() < end, `nginx did not start: ${nginxErr}`);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP lan.test 127.0.0.1'],
  });
  room = cli(server.dataDir, ['rooms', 'create', '--name', 'Behind nginx', '--language', 'bash']);
});

after(async () => {
  await browser?.close();
  nginx?.kill();
  if (room) cli(server.dataDir, ['rooms', 'delete', room.id]);
  await server?.stop();
});

async function joinAs(url, name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(url);
  await page.getByTestId('name').fill(name);
  await page.getByTestId('name').press('Enter');
  await page.locator('.cm-content').waitFor({ timeout: 30_000 });
  return { page, context };
}

test('the room works through nginx under a prefix on a LAN name over http', async () => {
  assert.match(room.links.candidate, new RegExp(`^http://lan\\.test:${proxyPort}/team/r/`));
  const ada = await joinAs(room.links.interviewer, 'Ada');
  const bob = await joinAs(room.links.candidate, 'Bob');
  assert.equal(await bob.page.evaluate(() => window.isSecureContext), false, 'plain http');
  await bob.page.locator('.cm-content').click();
  await bob.page.keyboard.press('Control+End');
  await bob.page.keyboard.type('echo through-the-proxy\n');
  const end = Date.now() + 30_000;
  let seen = '';
  while (Date.now() < end && !seen.includes('through-the-proxy')) {
    seen = await ada.page.locator('.cm-content').innerText();
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(seen, /through-the-proxy/);
  await bob.page.locator('.xterm').click();
  await bob.page.keyboard.type('echo term-$((6+6))\n');
  const tEnd = Date.now() + 30_000;
  let term = '';
  while (Date.now() < tEnd && !term.includes('term-12')) {
    term = await ada.page.locator('.xterm-rows').innerText();
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(term, /term-12/);
  await bob.page.screenshot({ path: join(artifactsDir(), 'room-behind-nginx.png') });
  await ada.context.close();
  await bob.context.close();

  const log = readFileSync(join(dir, 'access.log'), 'utf8');
  assert.match(log, /GET \/team\/yjs\//, 'the document socket went through the proxy');
  assert.match(log, /GET \/team\/room\//, 'the room channel went through the proxy');
  assert.doesNotMatch(log, /token/, 'no token in the proxy log');
});
