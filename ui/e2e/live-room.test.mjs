// Two people in one room, in Debian's Chromium, against the headless server and the real
// engine: the join screen, typing into one file at once, cursors, the shared terminal, a
// late joiner, activity for the interviewer, a server restart, and every bad link's page.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { artifactsDir, CHROMIUM_ARGS, cli, startServer, testCatalog } from './helpers.mjs';

let server;
let browser;
let room;
const catalog = testCatalog();

before(async () => {
  server = await startServer({ args: ['--catalog', catalog] });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
  room = cli(server.dataDir, ['rooms', 'create', '--name', 'Pairing', '--language', 'bash']);
});

after(async () => {
  await browser?.close();
  if (room) cli(server.dataDir, ['rooms', 'delete', room.id]);
  await server?.stop();
});

const shot = (page, name) => page.screenshot({ path: join(artifactsDir(), `${name}.png`) });

/** Opens `url` in a fresh browser context (its own storage) and joins as `name`. */
async function joinAs(url, name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(url);
  await page.getByTestId('join').waitFor();
  await page.getByTestId('name').fill(name);
  await page.getByTestId('name').press('Enter');
  await page.getByTestId('room').waitFor();
  await page.locator('.cm-content').waitFor({ timeout: 30_000 });
  return { page, problems, context };
}

// The editor's text, without the remote cursors' name labels.
const editorText = (page) =>
  page.evaluate(() =>
    [...document.querySelectorAll('.cm-content .cm-line')]
      .map((line) => {
        const copy = line.cloneNode(true);
        copy.querySelectorAll('.cm-ySelectionCaret').forEach((c) => c.remove());
        return copy.textContent;
      })
      .join('\n'),
  );
const terminalText = (page) => page.locator('.xterm-rows').innerText();

async function until(what, check, timeout = 30_000) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    last = await check();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`never: ${what} (last: ${JSON.stringify(last)})`);
}

test('an interviewer and a candidate share the editor and the terminal', async () => {
  // The join screen: name first, the notice, Enter submits.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const first = await context.newPage();
  await first.goto(room.links.candidate);
  await first.getByTestId('join').waitFor();
  assert.match(await first.getByTestId('notice').textContent(), /paste, copy or leave this tab/);
  assert.match(await first.getByTestId('notice').textContent(), /recorded/);
  const firstInput = await first.evaluate(() => document.activeElement?.id);
  assert.equal(firstInput, 'name', 'the name field has the focus');
  await shot(first, 'room-join');
  await context.close();

  const ada = await joinAs(room.links.interviewer, 'Ada');
  const bob = await joinAs(room.links.candidate, 'Bob');
  // Everyone opens the same default file, with the starter content.
  for (const p of [ada.page, bob.page]) {
    assert.equal(await p.getByTestId('current-file').textContent(), 'main.sh');
    await until('starter text', async () => (await editorText(p)).includes('hello from main'));
  }
  // Both type at once at different places; both end with the same text.
  await ada.page.locator('.cm-content').click();
  await ada.page.keyboard.press('Control+Home');
  await bob.page.locator('.cm-content').click();
  await bob.page.keyboard.press('Control+End');
  await Promise.all([
    ada.page.keyboard.type('# ada was here\n', { delay: 15 }),
    bob.page.keyboard.type('echo bob-$((40+2))\n', { delay: 15 }),
  ]);
  const converged = await until('both edits on both sides', async () => {
    const [a, b] = await Promise.all([editorText(ada.page), editorText(bob.page)]);
    return a === b && a.includes('# ada was here') && a.includes('echo bob-$((40+2))') && a;
  });
  assert.match(converged, /hello from main/);
  // Each sees the other's cursor, with a name.
  await until('a remote cursor on each side', async () => {
    const [a, b] = await Promise.all(
      [ada.page, bob.page].map((p) => p.locator('.cm-ySelectionCaret').count()),
    );
    return a > 0 && b > 0;
  });
  // Participants: each sees the other.
  await until('participants', async () => {
    const t = await ada.page.getByTestId('participants').innerText();
    return t.includes('Bob') && t.includes('Ada');
  });

  // Stealthy: the candidate loses the interviewer's name and cursor at once, on the document
  // socket already open; the interviewer's edits still reach them.
  const docSockets = [];
  ada.page.on('websocket', (ws) => ws.url().includes('/yjs/') && docSockets.push(ws.url()));
  const carets = (page) => page.locator('.cm-ySelectionCaret').count();
  await ada.page.getByLabel('Stealthy').check();
  await until('the interviewer gone for the candidate', async () => {
    const people = await bob.page.getByTestId('participants').innerText();
    return !people.includes('Ada') && (await carets(bob.page)) === 0;
  });
  await ada.page.locator('.cm-content').click();
  await ada.page.keyboard.type('# unseen hand\n', { delay: 15 });
  await until('a stealthy edit at the candidate', async () =>
    (await editorText(bob.page)).includes('# unseen hand'),
  );
  assert.equal(await carets(bob.page), 0, 'no cursor of a stealthy interviewer');
  assert.ok((await carets(ada.page)) > 0, "the interviewer still sees the candidate's cursor");
  await shot(bob.page, 'room-stealthy-interviewer');
  await ada.page.getByLabel('Stealthy').uncheck();
  await until('the interviewer back for the candidate', async () => {
    const people = await bob.page.getByTestId('participants').innerText();
    return people.includes('Ada') && (await carets(bob.page)) > 0;
  });
  assert.deepEqual(docSockets, [], 'the document socket was not reopened');

  // The terminal both ways; the Run button runs the file everyone edits.
  await bob.page.locator('.xterm').click();
  await bob.page.keyboard.type('echo from-bob-$((2+3))\n');
  await until('candidate output at the interviewer', async () =>
    (await terminalText(ada.page)).includes('from-bob-5'),
  );
  await ada.page.locator('.xterm').click();
  await ada.page.keyboard.type('echo from-ada-$((3+4))\n');
  await until('interviewer output at the candidate', async () =>
    (await terminalText(bob.page)).includes('from-ada-7'),
  );
  await ada.page.getByTestId('run').click();
  await until('the run command ran the edited file', async () =>
    (await terminalText(bob.page)).includes('bob-42'),
  );

  // A paste in the candidate's page reaches the interviewer's activity feed.
  await bob.page.evaluate(() => {
    const dt = new DataTransfer();
    dt.setData('text/plain', 'x'.repeat(42));
    document
      .querySelector('.cm-content')
      .dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true }));
  });
  await until('the paste in the activity feed', async () =>
    /Bob pasted 42 characters/.test(await ada.page.getByTestId('activity').innerText()),
  );
  assert.equal(await bob.page.getByTestId('activity-panel').count(), 0, 'not for candidates');

  // A late joiner sees the screen and the text; an observer cannot type.
  const observer = cli(server.dataDir, ['rooms', 'link', room.id, '--role', 'observer']);
  const olga = await joinAs(observer.url, 'Olga');
  await until('the screen for a late joiner', async () =>
    (await terminalText(olga.page)).includes('from-ada-7'),
  );
  // (The paste above went into the editor too.)
  await until('the same text for the late joiner', async () => {
    const [o, a] = await Promise.all([editorText(olga.page), editorText(ada.page)]);
    return o === a && o.includes('x'.repeat(42));
  });
  assert.equal(await olga.page.getByTestId('terminal-readonly').count(), 1);
  const bobSees = await bob.page.getByTestId('participants').innerText();
  assert.doesNotMatch(bobSees, /Olga/, 'the candidate does not see the observer');

  await shot(ada.page, 'room-interviewer');
  await shot(bob.page, 'room-candidate');
  await shot(olga.page, 'room-observer');

  // The server restarts: the pages reconnect by themselves, and an edit made meanwhile
  // (offline) is merged.
  const port = new URL(server.url).port;
  await server.stop();
  await until(
    'the reconnecting notice',
    async () => (await bob.page.getByTestId('reconnecting').count()) > 0,
  );
  await shot(bob.page, 'room-reconnecting');
  await bob.page.locator('.cm-content').click();
  await bob.page.keyboard.press('Control+End');
  await bob.page.keyboard.type('# typed while away\n');
  server = await startServer({
    dataDir: server.dataDir,
    listen: `127.0.0.1:${port}`,
    args: ['--catalog', catalog],
  });
  await until(
    'the offline edit at the interviewer',
    async () => (await editorText(ada.page)).includes('# typed while away'),
    60_000,
  );
  await until(
    'the terminal again',
    async () => {
      await ada.page.locator('.xterm').click();
      await ada.page.keyboard.type('echo back-$((4+5))\n');
      await new Promise((r) => setTimeout(r, 500));
      return (await terminalText(bob.page)).includes('back-9');
    },
    60_000,
  );
  for (const p of [ada, bob, olga]) {
    assert.deepEqual(p.problems, [], 'no page errors');
    await p.context.close();
  }
});

test('each bad link shows its own page', async () => {
  const expectPage = async (url, title) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(url);
    // Said before anyone types a name.
    await page.getByTestId('closed').waitFor({ timeout: 30_000 });
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), title);
    await shot(page, `room-closed-${title.replace(/\W+/g, '-').toLowerCase()}`);
    await context.close();
  };
  const [base, token] = room.links.candidate.split('#');
  // Forged: one character of the signature changed.
  const forged = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
  await expectPage(`${base}#${forged}`, 'This link is not valid');
  // A link for another room.
  const other = cli(server.dataDir, ['rooms', 'create', '--name', 'Other', '--language', 'bash']);
  await expectPage(
    `${other.links.candidate.split('#')[0]}#${token}`,
    'This link is for another room',
  );
  // Revoked.
  const revoked = cli(server.dataDir, ['rooms', 'link', room.id, '--role', 'candidate']);
  cli(server.dataDir, ['rooms', 'revoke', room.id, '--link', revoked.id]);
  await expectPage(revoked.url, 'This link has expired');
  // Expired.
  const short = cli(server.dataDir, [
    'rooms',
    'link',
    room.id,
    '--role',
    'candidate',
    '--expires',
    '1s',
  ]);
  await new Promise((r) => setTimeout(r, 1500));
  await expectPage(short.url, 'This link has expired');
  // A room that stops while someone is in it says so, and so does its link afterwards.
  const inside = await joinAs(other.links.candidate, 'Bob');
  cli(server.dataDir, ['rooms', 'stop', other.id]);
  await inside.page.getByTestId('closed').waitFor({ timeout: 30_000 });
  assert.equal(
    await inside.page.getByRole('heading', { level: 1 }).textContent(),
    'This interview room is closed',
  );
  await inside.context.close();
  await expectPage(other.links.candidate, 'This interview room is closed');
  cli(server.dataDir, ['rooms', 'delete', other.id]);
});

test('files are created, renamed, uploaded and deleted from the tree; following someone', async () => {
  const files = cli(server.dataDir, ['rooms', 'create', '--name', 'Files', '--language', 'bash']);
  try {
    const ada = await joinAs(files.links.interviewer, 'Ada');
    const bob = await joinAs(files.links.candidate, 'Bob');
    const rowNames = (p) => p.getByTestId('file-row').allInnerTexts();

    // New file: it opens, and the other side sees it.
    await ada.page.getByTestId('new-file').click();
    await ada.page.getByTestId('new-path').fill('src/util.sh');
    await ada.page.getByTestId('new-path').press('Enter');
    await until(
      'the new file is open',
      async () => (await ada.page.getByTestId('current-file').textContent()) === 'src/util.sh',
    );
    await ada.page.locator('.cm-content').click();
    await ada.page.keyboard.type('echo util\n');
    await until('the new file at the candidate', async () =>
      (await rowNames(bob.page)).some((n) => n.trim() === 'util.sh'),
    );

    // Following: the candidate follows Ada, who opens main.sh.
    await bob.page.getByTestId('participant').filter({ hasText: 'Ada' }).click();
    await ada.page.getByTestId('file-row').filter({ hasText: 'main.sh' }).click();
    await until(
      'the follower opens what Ada opens',
      async () => (await bob.page.getByTestId('current-file').textContent()) === 'main.sh',
    );
    await ada.page.getByTestId('file-row').filter({ hasText: 'util.sh' }).click();
    await until(
      'and follows again',
      async () => (await bob.page.getByTestId('current-file').textContent()) === 'src/util.sh',
    );

    // Rename (a prompt) and upload a binary file.
    ada.page.once('dialog', (d) => d.accept('src/helpers.sh'));
    await ada.page.getByRole('button', { name: 'Rename src/util.sh' }).click({ force: true });
    await until('the renamed file on both sides', async () => {
      const [a, b] = await Promise.all([rowNames(ada.page), rowNames(bob.page)]);
      return (
        a.some((n) => n.trim() === 'helpers.sh') &&
        b.some((n) => n.trim() === 'helpers.sh') &&
        !a.some((n) => n.trim() === 'util.sh')
      );
    });
    await bob.page.locator('input[type=file]').setInputFiles({
      name: 'data.bin',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from([0, 1, 2, 3, 255]),
    });
    await until('the upload in the tree', async () =>
      (await rowNames(ada.page)).some((n) => n.trim() === 'data.bin'),
    );

    // Delete (a confirmation).
    ada.page.once('dialog', (d) => d.accept());
    await ada.page.getByRole('button', { name: 'Delete src/helpers.sh' }).click({ force: true });
    await until('the deleted file gone on both sides', async () => {
      const [a, b] = await Promise.all([rowNames(ada.page), rowNames(bob.page)]);
      return !a.some((n) => n.trim() === 'helpers.sh') && !b.some((n) => n.trim() === 'helpers.sh');
    });
    await shot(ada.page, 'room-files');
    await ada.context.close();
    await bob.context.close();
  } finally {
    cli(server.dataDir, ['rooms', 'delete', files.id]);
  }
});
