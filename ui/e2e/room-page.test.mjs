// The room page served by the headless server, in Debian's Chromium.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { artifactsDir, CHROMIUM_ARGS, startServer } from './helpers.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
});

after(async () => {
  await browser?.close();
  if (server) {
    const exit = await server.stop();
    assert.equal(exit.code, 0, 'the server stops cleanly on SIGTERM');
  }
});

async function openPage(path) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  await page.goto(`${server.url}${path}`);
  return { page, problems };
}

test('a room link without its key shows the designed "not valid" page', async () => {
  const { page, problems } = await openPage('/r/9f2c7a41d3b84e6f');
  const card = page.getByTestId('invalid-link');
  await card.waitFor({ state: 'visible', timeout: 10_000 });
  assert.equal(
    await page.getByRole('heading', { level: 1 }).textContent(),
    'This link is not valid',
  );
  assert.match(await card.textContent(), /part after the # sign/);
  assert.match(await card.textContent(), /Ask your interviewer to send you a new link/);
  assert.match(await card.textContent(), /9f2c7a41d3b84e6f/);
  assert.equal(await page.title(), 'Interview room · Interview Platform');
  await page.screenshot({ path: join(artifactsDir(), 'room-invalid-link.png') });
  assert.deepEqual(problems, [], 'no errors in the page (CSP, scripts)');
  await page.close();
});

test('a damaged key is named as such', async () => {
  const { page, problems } = await openPage('/r/9f2c7a41d3b84e6f#not-a-real-key');
  const card = page.getByTestId('invalid-link');
  await card.waitFor({ state: 'visible', timeout: 10_000 });
  assert.match(await card.textContent(), /is damaged/);
  assert.deepEqual(problems, []);
  await page.close();
});

test('the page works on a narrow screen', async () => {
  const page = await browser.newPage({ viewport: { width: 375, height: 667 } });
  await page.goto(`${server.url}/r/9f2c7a41d3b84e6f`);
  const card = page.getByTestId('invalid-link');
  await card.waitFor({ state: 'visible' });
  const box = await card.boundingBox();
  assert.ok(
    box && box.x >= 0 && box.x + box.width <= 375,
    `card fits the screen: ${JSON.stringify(box)}`,
  );
  await page.screenshot({ path: join(artifactsDir(), 'room-invalid-link-phone.png') });
  await page.close();
});
