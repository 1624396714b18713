// Real-browser test of the chatd web page: Debian's chromium driven by
// playwright-core against a running chatd (see run.sh, which starts one and
// sets CHATD_WEB_URL). Every wait polls with a deadline; nothing sleeps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const baseURL = process.env.CHATD_WEB_URL;
if (!baseURL) throw new Error('CHATD_WEB_URL is not set (run e2e/browser/run.sh)');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const shotDir = process.env.SCREENSHOT_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-e2e-'));
const timeout = 10_000;
const run = Math.random().toString(36).slice(2, 6); // tells this run's users apart

let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath,
    headless: true,
    timeout: 30_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
});

// instrument records every WebSocket the page makes and every frame it sends,
// and can point new sockets at a dead port, to test reconnecting. It runs
// before the page's scripts (injected by the browser, outside the page CSP).
function instrument() {
  const Native = window.WebSocket;
  window.__ws = { sockets: [], opened: [], sent: [], broken: false, via: '' };
  window.WebSocket = function (url, protocols) {
    // A broken socket goes to the chat port of a loopback address nothing
    // listens on (the server under test binds 127.0.0.1): refused at once,
    // and still allowed by the page's connect-src (any host, the chat port).
    // A socket "via" another loopback address goes through the test's
    // proxy on the chat port there (see cutter), which can cut it.
    let target = url;
    if (window.__ws.broken || window.__ws.via) {
      const u = new URL(url);
      u.hostname = window.__ws.broken ? '127.0.0.3' : window.__ws.via;
      target = u.href;
    }
    const ws = protocols === undefined ? new Native(target) : new Native(target, protocols);
    window.__ws.sockets.push(ws);
    window.__ws.opened.push(performance.now());
    const send = ws.send.bind(ws);
    ws.send = (data) => { window.__ws.sent.push(String(data)); send(data); };
    return ws;
  };
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket.prototype = Native.prototype;
}

// open starts a page in its own browser context (own storage, own socket).
// device adds browser context options (a phone: isMobile, hasTouch).
async function open(t, { room, viewport = { width: 1100, height: 720 }, device = {} } = {}) {
  const context = await browser.newContext({ viewport, ...device });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); d.dismiss().catch(() => {}); });
  await page.addInitScript(instrument);
  const url = new URL(baseURL);
  if (room !== undefined) url.searchParams.set('room_id', room);
  await page.goto(url.href, { timeout });
  t.after(() => context.close());
  return { page, context, problems };
}

async function login(client, name) {
  const { page } = client;
  await page.locator('#name').fill(name);
  await page.locator('#login-submit').click();
  await page.locator('#status[data-state="online"]').waitFor({ timeout });
  await page.locator('#login-overlay').waitFor({ state: 'hidden', timeout });
  await waitUntil(page, (n) => [...document.querySelectorAll('#users .user.self .user-name')]
    .some((e) => e.textContent === n), name, `own name ${name} in the user list`);
  client.name = name;
  return client;
}

async function waitUntil(page, fn, arg, what) {
  try {
    await page.waitForFunction(fn, arg, { timeout });
  } catch (e) {
    throw new Error(`timed out waiting for ${what}: ${e.message.split('\n')[0]}`);
  }
}

function hasUser(page, name) {
  return waitUntil(page, (n) => [...document.querySelectorAll('#users .user-name')]
    .some((e) => e.textContent === n), name, `user ${name} in the list`);
}

function lacksUser(page, name) {
  return waitUntil(page, (n) => ![...document.querySelectorAll('#users .user-name')]
    .some((e) => e.textContent === n), name, `user ${name} gone from the list`);
}

// message waits for a chat message whose body is exactly text and returns
// what the page shows for it.
async function message(page, text) {
  await waitUntil(page, (s) => [...document.querySelectorAll('#messages .msg .body')]
    .some((e) => e.textContent === s), text, `message ${JSON.stringify(text.slice(0, 40))}`);
  return page.evaluate((s) => {
    const body = [...document.querySelectorAll('#messages .msg .body')].find((e) => e.textContent === s);
    const li = body.closest('.msg');
    const style = getComputedStyle(body);
    return {
      own: li.classList.contains('own'),
      private: li.classList.contains('private'),
      tag: li.querySelector('.tag')?.textContent ?? '',
      from: li.querySelector('.from').textContent,
      time: li.querySelector('time')?.textContent ?? '',
      elements: body.children.length,
      // Content height (no padding or border) in lines.
      lines: Math.round((body.getBoundingClientRect().height - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom) -
        parseFloat(style.borderTopWidth) - parseFloat(style.borderBottomWidth)) / parseFloat(style.lineHeight)),
      whiteSpace: style.whiteSpace,
    };
  }, text);
}

function noticeWith(page, text) {
  return waitUntil(page, (s) => [...document.querySelectorAll('#messages .notice')]
    .some((e) => e.textContent.includes(s)), text, `notice containing ${JSON.stringify(text)}`);
}

async function say(page, text) {
  const input = page.locator('#input');
  await input.click();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (i > 0) await input.press('Shift+Enter');
    await input.pressSequentially(lines[i]);
  }
  await input.press('Enter');
  await waitUntil(page, () => document.getElementById('input').value === '', null, 'the input to clear');
}

async function pickUser(page, name) {
  await page.locator('#users .user', { has: page.locator('.user-name', { hasText: name }) }).first().click();
  await waitUntil(page, (n) => document.getElementById('target').classList.contains('private') &&
    document.getElementById('target-name').textContent === n, name, `private target ${name}`);
}

function assertClean(...clients) {
  for (const c of clients) assert.deepEqual(c.problems, [], `page of ${c.name} reported problems`);
}

test('two users chat in the default room; private messages; leave', async (t) => {
  const alice = await login(await open(t), `Alice-${run}`);
  const bob = await login(await open(t), `Bob-${run}`);
  await hasUser(alice.page, bob.name);
  await hasUser(bob.page, alice.name);
  await noticeWith(alice.page, `${bob.name} joined`);
  assert.equal(await alice.page.locator('#room-name').textContent(), 'default');

  const hello = `hello from alice ${run}`;
  await say(alice.page, hello);
  const mine = await message(alice.page, hello);
  const theirs = await message(bob.page, hello);
  assert.equal(mine.own, true, 'own message marked as own');
  assert.equal(theirs.own, false);
  assert.equal(theirs.from, alice.name);
  assert.match(theirs.time, /^\d\d:\d\d$/);

  const carol = await login(await open(t), `Carol-${run}`);
  await hasUser(bob.page, carol.name);
  await pickUser(bob.page, alice.name);
  const psst = `psst, only for alice ${run}`;
  await say(bob.page, psst);
  const got = await message(alice.page, psst);
  assert.deepEqual([got.private, got.tag, got.own, got.from], [true, 'private', false, `${bob.name} \u2192 you`]);
  const echo = await message(bob.page, psst);
  assert.deepEqual([echo.private, echo.own, echo.from], [true, true, `You \u2192 ${alice.name}`]);
  // Carol must not get it: her page sees a later public message but not the private one.
  const after = `public after private ${run}`;
  await say(alice.page, after);
  await message(carol.page, after);
  assert.equal(await carol.page.locator('#messages .msg.private').count(), 0, 'private message leaked to Carol');

  await alice.page.screenshot({ path: path.join(shotDir, 'chat-desktop.png') });
  console.log(`# screenshot: ${path.join(shotDir, 'chat-desktop.png')}`);

  await bob.context.close();
  await lacksUser(alice.page, bob.name);
  await noticeWith(alice.page, `${bob.name} left`);
  assert.equal(await alice.page.locator('#target').evaluate((e) => e.classList.contains('private')), false);
  assertClean(alice, bob, carol);
});

test('markup in names and content shows as text and runs nothing', async (t) => {
  const evilName = '<b>Eve</b><script>x()</script>';
  const eve = await login(await open(t), evilName);
  const viewer = await login(await open(t), `Vic-${run}`);
  await hasUser(viewer.page, evilName);
  const evil = `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"><b>bold</b> & "q" &lt;br /&gt; <br /> ${run}`;
  await say(eve.page, evil);
  for (const c of [eve, viewer]) {
    const m = await message(c.page, evil);
    assert.equal(m.elements, 0, 'message body has child elements');
    const state = await c.page.evaluate(() => ({
      pwned: window.__pwned,
      markup: document.querySelectorAll('#messages b, #messages img, #messages script, #users b, #users script').length,
    }));
    assert.deepEqual(state, { pwned: undefined, markup: 0 });
  }
  assert.equal((await message(viewer.page, evil)).from, evilName);
  await viewer.page.screenshot({ path: path.join(shotDir, 'chat-markup.png') });
  assertClean(eve, viewer);
});

test('multi-line content keeps its line break', async (t) => {
  const a = await login(await open(t), `Multi-${run}`);
  const b = await login(await open(t), `Line-${run}`);
  await hasUser(a.page, b.name);
  const text = `first line ${run}\nsecond line`;
  await say(a.page, text);
  const m = await message(b.page, text);
  assert.equal(m.whiteSpace, 'pre-wrap');
  assert.equal(m.lines, 2, 'rendered on two lines');
  assert.equal(m.elements, 0);
  assertClean(a, b);
});

test('a room does not see another room; switching rooms', async (t) => {
  const def = await login(await open(t), `Dora-${run}`);
  const x = await login(await open(t, { room: `x${run}` }), `Xavi-${run}`);
  assert.equal(await x.page.locator('#room-name').textContent(), `x${run}`);
  const outside = `default room only ${run}`;
  await say(def.page, outside);
  await message(def.page, outside);
  // By the time x sees its own later message, the default-room one would have arrived.
  const inside = `room x only ${run}`;
  await say(x.page, inside);
  await message(x.page, inside);
  const xSees = await x.page.evaluate((s) => [...document.querySelectorAll('#messages .body')].some((e) => e.textContent === s), outside);
  assert.equal(xSees, false, 'room x saw default-room traffic');
  await lacksUser(x.page, def.name);
  assert.equal(await x.page.locator('#user-count').textContent(), '1');

  await x.page.locator('#room-switch').click();
  await x.page.locator('#room-input').fill('');
  await x.page.locator('#room-input').press('Enter');
  await hasUser(x.page, def.name);
  await noticeWith(def.page, `${x.name} joined`);
  assert.equal(await x.page.locator('#room-name').textContent(), 'default');
  assert.equal(new URL(x.page.url()).searchParams.has('room_id'), false);
  const afterSwitch = `hello default ${run}`;
  await say(x.page, afterSwitch);
  await message(def.page, afterSwitch);
  assert.equal(await def.page.evaluate((s) => [...document.querySelectorAll('#messages .body')].some((e) => e.textContent === s), inside), false);
  assertClean(def, x);
});

test('server errors are shown; JSON ping gets a pong', async (t) => {
  const a = await login(await open(t), `Err-${run}`);
  await a.page.locator('#input').fill('x'.repeat(5000)); // over the default 4096-byte limit
  await a.page.locator('#input').press('Enter');
  await waitUntil(a.page, () => [...document.querySelectorAll('#messages .notice.error')]
    .some((e) => e.textContent.includes('too_long')), null, 'a too_long error notice');
  await a.page.evaluate(() => {
    const ws = window.__ws.sockets.at(-1);
    ws.dispatchEvent(new MessageEvent('message', { data: '{"type":"ping"}' }));
  });
  await waitUntil(a.page, () => window.__ws.sent.includes('{"type":"pong"}'), null, 'a pong');
  assertClean(a);
});

test('reconnects with backoff and logs in again', async (t) => {
  const a = await login(await open(t, { room: `r${run}` }), `Rita-${run}`);
  const b = await login(await open(t, { room: `r${run}` }), `Ravi-${run}`);
  await hasUser(b.page, a.name);
  // Break the network for new sockets, then drop the current one.
  await a.page.evaluate(() => {
    window.__ws.broken = true;
    window.__ws.closedAt = performance.now();
    window.__ws.sockets.at(-1).close();
  });
  await waitUntil(a.page, () => /^reconnecting in \d+s$/.test(document.getElementById('status-text').textContent),
    null, 'the reconnecting state');
  await lacksUser(b.page, a.name);
  await waitUntil(a.page, () => window.__ws.opened.length >= 3, null, 'two retries');
  const [first, second] = await a.page.evaluate(() => [
    window.__ws.opened[1] - window.__ws.closedAt,
    window.__ws.opened[2] - window.__ws.opened[1],
  ]);
  // backoff(0) is in [0.5 s, 1 s], backoff(1) in [1 s, 2 s].
  assert.ok(first >= 450 && second >= 950, `retry delays ${Math.round(first)} and ${Math.round(second)} ms: want backoff`);
  await a.page.evaluate(() => { window.__ws.broken = false; });
  await a.page.locator('#status[data-state="online"]').waitFor({ timeout });
  await hasUser(b.page, a.name);
  await noticeWith(a.page, 'Reconnected');
  assert.equal(await a.page.locator('#room-name').textContent(), `r${run}`);
  const back = `back again ${run}`;
  await say(a.page, back);
  assert.equal((await message(b.page, back)).from, a.name);
  a.problems = a.problems.filter((p) => !p.includes('ws://127.0.0.3:'));
  assertClean(a, b);
});

test('narrow screen layout', async (t) => {
  const a = await login(await open(t, { viewport: { width: 390, height: 760 } }), `Mobi-${run}`);
  await say(a.page, `hi from a phone ${run}`);
  await message(a.page, `hi from a phone ${run}`);
  assert.equal(await a.page.locator('#sidebar').evaluate((e) => e.getBoundingClientRect().right <= 0), true, 'sidebar hidden');
  await a.page.locator('#users-toggle').click();
  await waitUntil(a.page, () => document.getElementById('sidebar').getBoundingClientRect().left >= 0, null, 'the sidebar to slide in');
  await a.page.screenshot({ path: path.join(shotDir, 'chat-narrow.png') });
  console.log(`# screenshot: ${path.join(shotDir, 'chat-narrow.png')}`);
  await a.page.locator('#messages').click({ position: { x: 370, y: 300 } });
  await waitUntil(a.page, () => document.getElementById('sidebar').getBoundingClientRect().right <= 0, null, 'the sidebar to close');
  assertClean(a);
});

// placeholderFit measures the composer's placeholder in the textarea's font
// against the width its text gets (one line: the textarea is one row high).
function placeholderFit(page) {
  return page.locator('#input').evaluate((el) => {
    const s = getComputedStyle(el);
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
    return {
      placeholder: el.placeholder,
      width: Math.ceil(ctx.measureText(el.placeholder).width),
      room: Math.floor(el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight)),
    };
  });
}

// leftEdgeDeviation screenshots the page and returns how far (0-255, worst
// channel) the pixels of its leftmost 6 columns beside the message list
// differ from the page background: a hidden drawer must leave nothing there
// (its shadow did: a grey strip). The PNG is decoded in a blank page.
async function leftEdgeDeviation(client) {
  const { page, context } = client;
  const area = await page.locator('#messages').evaluate((el) => {
    const r = el.getBoundingClientRect();
    const bg = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number);
    return { top: Math.ceil(r.top) + 4, bottom: Math.floor(r.bottom) - 4, bg };
  });
  const png = (await page.screenshot()).toString('base64');
  client.probe ??= await context.newPage();
  return client.probe.evaluate(async ({ png, area }) => {
    const img = new Image();
    img.src = `data:image/png;base64,${png}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, area.top, 6, area.bottom - area.top).data;
    let worst = 0;
    for (let i = 0; i < d.length; i += 4) {
      for (let k = 0; k < 3; k++) worst = Math.max(worst, Math.abs(d[i + k] - area.bg[k]));
    }
    return worst;
  }, { png, area });
}

async function waitEdgeClean(client, what) {
  let worst;
  for (const end = Date.now() + timeout; Date.now() < end;) {
    if ((worst = await leftEdgeDeviation(client)) <= 3) return;
  }
  assert.fail(`${what}: the left edge differs from the background by ${worst}/255 (the hidden drawer shows)`);
}

test('phone screen 390x844: one-line placeholder without Shift+Enter; the hidden drawer leaves no strip', async (t) => {
  const phone = { viewport: { width: 390, height: 844 }, device: { isMobile: true, hasTouch: true, deviceScaleFactor: 1 } };
  const a = await login(await open(t, phone), `Pho-${run}`);
  const b = await login(await open(t), `${'W'.repeat(26)}-${run}`); // 31 characters, near the 32 limit
  await hasUser(a.page, b.name);
  for (const priv of [false, true]) {
    if (priv) {
      await a.page.locator('#users-toggle').click();
      await pickUser(a.page, b.name);
    }
    const fit = await placeholderFit(a.page);
    assert.ok(fit.width <= fit.room, `placeholder ${JSON.stringify(fit.placeholder)} is ${fit.width}px wide, the textarea line ${fit.room}px`);
    assert.doesNotMatch(fit.placeholder, /shift/i, 'a phone keyboard has no Shift+Enter');
  }
  await waitEdgeClean(a, 'drawer closed after picking a user');
  await a.page.screenshot({ path: path.join(shotDir, 'chat-phone.png') });
  console.log(`# screenshot: ${path.join(shotDir, 'chat-phone.png')}`);
  await a.page.locator('#users-toggle').click();
  await waitUntil(a.page, () => document.getElementById('sidebar').getBoundingClientRect().left >= 0, null, 'the drawer to open');
  await a.page.screenshot({ path: path.join(shotDir, 'chat-phone-drawer.png') });
  await a.page.locator('#messages').click({ position: { x: 370, y: 300 } });
  await waitUntil(a.page, () => document.getElementById('sidebar').getBoundingClientRect().right <= 0, null, 'the drawer to close');
  await waitEdgeClean(a, 'drawer closed by a tap beside it');
  assertClean(a, b);
});

test('desktop placeholder keeps the keyboard hint', async (t) => {
  const a = await login(await open(t), `Desk-${run}`);
  const fit = await placeholderFit(a.page);
  assert.match(fit.placeholder, /Shift\+Enter/);
  assert.ok(fit.width <= fit.room, `desktop placeholder ${fit.width}px in ${fit.room}px`);
  assertClean(a);
});

// cutter is a TCP proxy on 127.0.0.2 at the chat port, in front of chatd
// on 127.0.0.1: pages sent "via" it reach chatd through it, and cut()
// destroys their connections at the server's end (no close frame, as a
// node restart or a network switch would).
async function cutter(t) {
  const cfg = await (await fetch(new URL('config.js', baseURL))).text();
  const port = Number(/chatPort:\s*(\d+)/.exec(cfg)[1]);
  const socks = new Set();
  const server = net.createServer((down) => {
    const up = net.connect(port, '127.0.0.1');
    socks.add(down);
    down.on('close', () => { socks.delete(down); up.destroy(); });
    up.on('close', () => down.destroy());
    down.on('error', () => {});
    up.on('error', () => {});
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.2', resolve));
  t.after(() => { for (const s of socks) s.destroy(); server.close(); });
  return { cut: () => { const n = socks.size; for (const s of socks) s.destroy(); return n; } };
}

// conversation returns the bodies of the page's chat messages in order.
function conversation(page) {
  return page.evaluate(() => [...document.querySelectorAll('#messages .msg .body')].map((e) => e.textContent));
}

test('history on join; the server cuts the connection mid-conversation and the page resumes with every message once', async (t) => {
  const proxy = await cutter(t);
  const room = `h${run}`;
  const talker = await login(await open(t, { room }), `Tala-${run}`);
  const before = [`before one ${run}`, `before two ${run}`];
  for (const m of before) {
    await say(talker.page, m);
    await message(talker.page, m);
  }
  const reader = await open(t, { room });
  await reader.page.evaluate(() => { window.__ws.via = '127.0.0.2'; });
  await login(reader, `Rea-${run}`);
  // The room's last says, marked as earlier, with their times.
  for (const m of before) {
    const shown = await message(reader.page, m);
    assert.equal(shown.tag, 'earlier', `history say ${m} marked as earlier`);
    assert.match(shown.time, /^\d\d:\d\d$/);
  }
  const live = [];
  const talk = async (n) => {
    for (let i = 0; i < n; i++) {
      const m = `m${live.length} ${run}`;
      live.push(m);
      await say(talker.page, m);
      await message(talker.page, m);
    }
  };
  await talk(3);
  await message(reader.page, live.at(-1));
  assert.ok(proxy.cut() >= 1, 'the reader had a connection to cut');
  await talk(5); // while the reader is cut off and reconnecting
  await noticeWith(reader.page, 'Reconnected');
  await talk(2);
  await message(reader.page, live.at(-1));
  const sent = await reader.page.evaluate(() => window.__ws.sent.map((s) => JSON.parse(s)).filter((m) => m.type === 'login'));
  assert.equal(sent.length, 2, 'two logins');
  assert.equal(sent[0].history, 50);
  assert.match(sent[1].since ?? '', /^[0-9a-z]+-\d+$/, 'the second login resumes with since');
  assert.deepEqual(await conversation(reader.page), [...before, ...live], 'every message exactly once, in order');
  assert.equal(await reader.page.locator('#messages .notice.gap').count(), 0, 'no gap notice');
  // complete:false is said in the conversation.
  await reader.page.evaluate(() => {
    window.__ws.sockets.at(-1).dispatchEvent(new MessageEvent('message', { data: '{"type":"history","messages":[],"complete":false}' }));
  });
  await waitUntil(reader.page, () => [...document.querySelectorAll('#messages .notice.gap')]
    .some((e) => e.textContent.includes('may be missing')), null, 'a notice that messages may be missing');
  await reader.page.screenshot({ path: path.join(shotDir, 'chat-history.png') });
  console.log(`# screenshot: ${path.join(shotDir, 'chat-history.png')}`);
  reader.problems = reader.problems.filter((p) => !p.includes('WebSocket'));
  assertClean(talker, reader);
});
