// Real-browser test of the current workerman-chat dialect: Debian's chromium,
// driven by playwright-core, runs current-page.html (a page written for this
// test that speaks the dialect exactly as workerman-chat's current page does)
// against a running chatd (see run.sh, which sets CHATD_CHAT_ADDR and starts
// chatd with a 1 s text ping). The page is served by a static server of this
// file. Every wait polls with a deadline; nothing sleeps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { chromium } from 'playwright-core';

const chatAddr = process.env.CHATD_CHAT_ADDR;
if (!chatAddr) throw new Error('CHATD_CHAT_ADDR is not set (run e2e/browser/run.sh)');
const chatURL = new URL(`ws://${chatAddr}/`);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const timeout = 10_000;
const run = Math.random().toString(36).slice(2, 6);
const room = 1000 + Math.floor(Math.random() * 9000); // the page sends room_id as a bare number
const html = fs.readFileSync(new URL('./current-page.html', import.meta.url));

let browser, server, pageURL;

before(async () => {
  server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise((resolve) => server.listen(0, chatURL.hostname, resolve));
  pageURL = `http://${chatURL.hostname}:${server.address().port}/?chat_port=${chatURL.port}&room_id=${room}`;
  browser = await chromium.launch({
    executablePath,
    headless: true,
    timeout: 30_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

// open loads the page in its own browser context and answers its name
// prompt with name, as a user would.
async function open(t, name) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('dialog', (d) => {
    if (d.type() === 'prompt') return d.accept(name);
    problems.push(`dialog: ${d.message()}`);
    return d.dismiss();
  });
  await page.goto(pageURL, { timeout });
  t.after(() => context.close().catch(() => {}));
  return { page, context, problems, name };
}

async function waitUntil(page, fn, arg, what) {
  try {
    await page.waitForFunction(fn, arg, { timeout });
  } catch (e) {
    throw new Error(`timed out waiting for ${what}: ${e.message.split('\n')[0]}`);
  }
}

function listed(page, name) {
  return waitUntil(page, (n) => [...document.querySelectorAll('#userlist li')].some((li) => li.textContent === n),
    name, `${name} in the user list`);
}

function unlisted(page, name) {
  return waitUntil(page, (n) => ![...document.querySelectorAll('#userlist li')].some((li) => li.textContent === n),
    name, `${name} gone from the user list`);
}

// bubble waits for a message whose text is text and returns how it shows.
async function bubble(page, text) {
  const find = (s) => [...document.querySelectorAll('#dialog .speech_item p')].find((p) => p.textContent === s);
  await waitUntil(page, (s) => [...document.querySelectorAll('#dialog .speech_item p')].some((p) => p.textContent === s),
    text, `message ${JSON.stringify(text)}`);
  return page.evaluate(([s, f]) => {
    const p = new Function(`return (${f})`)()(s);
    return {
      html: p.innerHTML,
      from: p.closest('.speech_item').dataset.from,
      bold: [...p.querySelectorAll('b')].map((b) => b.textContent),
      breaks: p.querySelectorAll('br').length,
    };
  }, [text, find.toString()]);
}

async function say(page, text, toID = 'all') {
  await page.selectOption('#client_list', toID);
  await page.locator('#textarea').fill(text);
  await page.locator('#submit').click();
  await waitUntil(page, () => document.getElementById('textarea').value === '', null, 'the input to clear');
}

test('current dialect: login, list, say, private, ping, logout', async (t) => {
  const alice = await open(t, `Alice<&>-${run}`);
  await listed(alice.page, alice.name);
  const aliceID = await alice.page.evaluate(() => client_id);
  assert.match(aliceID, /^[0-9]+$/, 'client_id is a string of digits');
  // Exactly what the page sent and got (text pings aside): its login, and one login with client_list.
  const first = await alice.page.evaluate(() => ({ sent: sent.slice(), received: received.filter((m) => m !== '{"type":"ping"}') }));
  assert.equal(first.sent[0], `{"type":"login","client_name":"${alice.name}","room_id":${room}}`);
  assert.equal(first.received.length, 1, `one message for the login, got ${JSON.stringify(first.received)}`);
  const login = JSON.parse(first.received[0]);
  // The one extra key of PROTOCOL.md "History": the room event's id, last.
  assert.deepEqual(Object.keys(login), ['type', 'client_id', 'client_name', 'time', 'client_list', 'id']);
  assert.match(login.id, /^[0-9a-z]+-\d+$/);
  assert.deepEqual(login.client_list, { [aliceID]: `Alice&lt;&amp;&gt;-${run}` });
  await bubble(alice.page, '你 加入了聊天室');

  const bob = await open(t, `Bob "q" ${run}`);
  await listed(bob.page, alice.name);
  await listed(bob.page, bob.name);
  await listed(alice.page, bob.name);
  await bubble(alice.page, `${bob.name} 加入了聊天室`);
  const bobID = await bob.page.evaluate(() => client_id);

  const text = `hi <b>all</b> & "you" ${run}\nline 2`;
  await say(alice.page, text);
  for (const c of [alice, bob]) {
    const got = await bubble(c.page, text);
    assert.equal(got.from, aliceID);
    assert.deepEqual([got.bold, got.breaks], [[], 1], `${c.name}: typed markup shows as text, the line break as <br>`);
  }

  await say(bob.page, `psst ${run}`, aliceID);
  const toAlice = await bubble(alice.page, `对你说: psst ${run}`);
  assert.deepEqual([toAlice.from, toAlice.bold], [bobID, ['对你说: ']]);
  const echo = await bubble(bob.page, `你对${alice.name}说: psst ${run}`);
  assert.deepEqual([echo.from, echo.bold], [bobID, [`你对${alice.name}说: `]]);

  // chatd's text ping (every second in this run), answered by the page.
  await waitUntil(alice.page, () => received.includes('{"type":"ping"}') && sent.includes('{"type":"pong"}'),
    null, 'a text ping and the page\'s pong');

  await bob.context.close();
  await unlisted(alice.page, bob.name);
  await bubble(alice.page, `${bob.name} 退出了`);
  assert.deepEqual(alice.problems, []);
  assert.deepEqual(bob.problems, []);
});
