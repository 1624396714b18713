// chatd web client: a plain-JavaScript client of the chat protocol
// (docs/protocol.md). No framework, no build step.
//
// Safety: names and content arrive HTML-escaped, with "<br />" before line
// breaks (the original page inserted them as HTML). They are turned back into
// plain text by serverText() and only ever inserted with textContent; CSS
// white-space: pre-wrap shows the line breaks. Nothing received is parsed as
// HTML.
(function () {
  'use strict';

  var config = window.CHATD || {};
  var chatPort = Number(config.chatPort) || 7272;

  // Reconnect delays: exponential from 1 s, capped at 30 s, with "equal
  // jitter" (a random point in the upper half), so a crowd of clients dropped
  // together does not come back together and no client ever loops tightly.
  var backoffBase = 1000;
  var backoffCap = 30000;
  // A connection that lived this long resets the backoff.
  var stableAfter = 10000;
  // A handshake that has not completed by then is abandoned and retried.
  var connectTimeout = 10000;
  var maxMessages = 1000;
  // Says asked of the room's history when joining it (the server caps it).
  var historyCount = 50;

  var errorText = {
    bad_json: 'The server could not read a message.',
    unknown_type: 'The server did not understand a message.',
    not_logged_in: 'You are not logged in.',
    bad_name: 'That nickname is not allowed (1 to 32 characters).',
    bad_content: 'Empty messages are not sent.',
    too_long: 'Message too long.',
    no_such_user: 'That user is no longer online.',
    rate_limited: 'You are sending too fast; slow down.'
  };

  var state = {
    name: '',          // nickname as typed, trimmed
    room: '',          // '' is the default room
    ws: null,          // current WebSocket, or null
    uid: null,         // own uid (string) in the current session
    wantOnline: false, // the user has joined and not been refused
    awaitingList: false,
    openedAt: 0,
    attempt: 0,
    retryTimer: 0,
    countdownTimer: 0,
    retryAt: 0,
    openTimer: 0,
    joinedOnce: false,
    lastId: '',        // id of the last room event seen in state.lastRoom
    lastRoom: null,    // the room lastId belongs to
    resuming: false,   // the current login asked for the says after lastId
    users: new Map(),  // uid -> name, in join order: the current room
    names: new Map(),  // uid -> name: everyone seen this session
    target: 'all',     // 'all' or a uid
    unread: 0
  };

  function $(id) { return document.getElementById(id); }

  var el = {
    app: $('app'),
    roomName: $('room-name'),
    roomSwitch: $('room-switch'),
    roomForm: $('room-form'),
    roomInput: $('room-input'),
    roomCancel: $('room-cancel'),
    me: $('me'),
    meName: $('me-name'),
    status: $('status'),
    statusText: $('status-text'),
    retryNow: $('retry-now'),
    usersToggle: $('users-toggle'),
    users: $('users'),
    userCount: $('user-count'),
    messages: $('messages'),
    composer: $('composer'),
    target: $('target'),
    targetName: $('target-name'),
    targetClear: $('target-clear'),
    input: $('input'),
    send: $('send'),
    overlay: $('login-overlay'),
    loginForm: $('login-form'),
    nameInput: $('name'),
    loginRoom: $('login-room'),
    loginError: $('login-error')
  };

  // ---- Text ----

  var entities = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'", '&#039;': "'", '&apos;': "'" };

  // serverText turns an escaped name or content from the server back into the
  // text the user typed: "<br />" (with the line break after it, if any)
  // becomes a line break, then the entities are decoded in one pass, so
  // "&amp;lt;" correctly stays "&lt;". Any other "<" left is shown literally.
  function serverText(s) {
    if (s === undefined || s === null) return '';
    return String(s)
      .replace(/<br\s*\/?>(\r?\n)?/gi, '\n')
      .replace(/&(?:amp|lt|gt|quot|apos|#0?39);/g, function (m) { return entities[m]; });
  }

  // parseFrame parses one server message. Integer ids too large for a double
  // are kept exactly by quoting them first; ids are strings inside the page.
  function parseFrame(raw) {
    if (typeof raw !== 'string') return null;
    raw = raw.replace(/("(?:uid|from_uid|to_uid)":\s*)(-?\d{16,})/g, '$1"$2"');
    try {
      var msg = JSON.parse(raw);
      return msg && typeof msg === 'object' && !Array.isArray(msg) ? msg : null;
    } catch (e) {
      return null;
    }
  }

  function uidKey(uid) { return uid === undefined || uid === null ? '' : String(uid); }

  function wireUid(uid) {
    var n = Number(uid);
    return Number.isSafeInteger(n) ? n : String(uid);
  }

  function roomLabel(room) { return room === '' ? 'default' : room; }

  function nameOf(uid) {
    var n = state.names.get(uidKey(uid));
    return n === undefined ? 'user ' + uid : n;
  }

  // ---- Time ----

  function pad2(n) { return (n < 10 ? '0' : '') + n; }

  // clock returns [short label, full label] for a server time
  // "YYYY-MM-DD HH:MM:SS", or for now when the server gave none.
  function clock(serverTime) {
    var m = /^(\d{4}-\d{2}-\d{2}) (\d{2}):(\d{2})(?::(\d{2}))?$/.exec(serverTime || '');
    if (m) return [m[2] + ':' + m[3], serverTime];
    var d = new Date();
    var full = d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) + ' ' +
      pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
    return [pad2(d.getHours()) + ':' + pad2(d.getMinutes()), full];
  }

  function timeElement(serverTime) {
    var c = clock(serverTime);
    var t = document.createElement('time');
    t.textContent = c[0];
    t.title = c[1];
    t.dateTime = c[1].replace(' ', 'T');
    return t;
  }

  // ---- Message list ----

  function nearBottom() {
    var m = el.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
  }

  function append(li) {
    var stick = nearBottom();
    el.messages.appendChild(li);
    while (el.messages.childElementCount > maxMessages) el.messages.removeChild(el.messages.firstElementChild);
    if (stick) el.messages.scrollTop = el.messages.scrollHeight;
    if (document.hidden) {
      state.unread++;
      document.title = '(' + state.unread + ') chatd';
    }
  }

  function notice(text, kind, serverTime) {
    var li = document.createElement('li');
    li.className = 'notice' + (kind ? ' ' + kind : '');
    li.textContent = text;
    if (kind !== 'divider') li.appendChild(timeElement(serverTime));
    append(li);
    return li;
  }

  function span(cls, text) {
    var s = document.createElement('span');
    s.className = cls;
    s.textContent = text;
    return s;
  }

  // showSay shows a say; earlier marks one from the room's history, said
  // before this page joined.
  function showSay(msg, earlier) {
    var from = uidKey(msg.from_uid);
    var to = uidKey(msg.to_uid);
    var own = from !== '' && from === state.uid;
    var priv = to !== '' && to !== 'all';
    seen(msg);
    var li = document.createElement('li');
    li.className = 'msg' + (own ? ' own' : '') + (priv ? ' private' : '') + (earlier === true ? ' earlier' : '');
    li.dataset.from = from;
    var meta = document.createElement('div');
    meta.className = 'meta';
    meta.appendChild(span('from', sayLabel(from, to, own, priv)));
    if (priv) meta.appendChild(span('tag', 'private'));
    if (earlier === true) meta.appendChild(span('tag earlier-tag', 'earlier'));
    meta.appendChild(timeElement(msg.time));
    var body = span('body', serverText(msg.content));
    li.appendChild(meta);
    li.appendChild(body);
    append(li);
  }

  function sayLabel(from, to, own, priv) {
    if (!priv) return own ? 'You' : nameOf(from);
    if (own) return 'You \u2192 ' + (to === state.uid ? 'yourself' : nameOf(to));
    return nameOf(from) + ' \u2192 you';
  }

  // ---- Users ----

  function hue(text) {
    var h = 0;
    for (var i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) % 360;
    return h;
  }

  function userItem(uid, name) {
    var li = document.createElement('li');
    li.className = 'user' + (uid === state.uid ? ' self' : '');
    li.dataset.uid = uid;
    li.tabIndex = 0;
    li.setAttribute('role', 'button');
    li.title = uid === state.uid ? name + ' (you)' : 'Send a private message to ' + name;
    var avatar = span('avatar', (Array.from(name.trim())[0] || '?').toUpperCase());
    avatar.setAttribute('aria-hidden', 'true');
    avatar.style.setProperty('--hue', String(hue(name)));
    li.appendChild(avatar);
    li.appendChild(span('user-name', name));
    return li;
  }

  function renderUsers() {
    var everyone = el.users.querySelector('.everyone');
    while (el.users.lastChild !== everyone) el.users.removeChild(el.users.lastChild);
    state.users.forEach(function (name, uid) { el.users.appendChild(userItem(uid, name)); });
    el.userCount.textContent = String(state.users.size);
    markTarget();
  }

  function addUser(uid, name) {
    state.names.set(uid, name);
    var had = state.users.has(uid);
    state.users.set(uid, name);
    if (!had) renderUsers();
  }

  function removeUser(uid) {
    if (!state.users.delete(uid)) return;
    if (state.target === uid) setTarget('all');
    renderUsers();
  }

  // ---- Private target ----

  function setTarget(uid) {
    if (uid !== 'all' && (uid === state.uid || !state.users.has(uid))) uid = 'all';
    state.target = uid;
    var priv = uid !== 'all';
    el.targetName.textContent = priv ? state.users.get(uid) : 'Everyone';
    el.target.classList.toggle('private', priv);
    el.targetClear.hidden = !priv;
    setPlaceholder();
    markTarget();
  }

  // A phone (a narrow or touch-first screen) gets a short placeholder: the
  // desktop one wraps in a 390px-wide composer and is cut in half, and a
  // phone keyboard has no Shift+Enter. The target line above already names
  // the recipient.
  var compact = window.matchMedia('(max-width: 720px), (hover: none) and (pointer: coarse)');

  function setPlaceholder() {
    var priv = state.target !== 'all';
    if (compact.matches) {
      el.input.placeholder = priv ? 'Private message' : 'Message';
      return;
    }
    el.input.placeholder = priv
      ? 'Private message to ' + state.users.get(state.target) + '. Enter sends, Shift+Enter adds a line.'
      : 'Write a message. Enter sends, Shift+Enter adds a line.';
  }

  function markTarget() {
    var items = el.users.querySelectorAll('.user');
    for (var i = 0; i < items.length; i++) {
      var on = items[i].dataset.uid === state.target;
      items[i].classList.toggle('selected', on);
      items[i].classList.toggle('private-target', on && state.target !== 'all');
      items[i].setAttribute('aria-pressed', on ? 'true' : 'false');
    }
  }

  function pickUser(item) {
    if (!item) return;
    var uid = item.dataset.uid;
    setTarget(uid === state.target ? 'all' : uid);
    el.app.classList.remove('show-users');
    el.usersToggle.setAttribute('aria-expanded', 'false');
    el.input.focus();
  }

  // ---- Connection state ----

  function setStatus(s, text) {
    el.status.dataset.state = s;
    el.statusText.textContent = text || s;
    el.retryNow.hidden = s !== 'reconnecting';
    var online = s === 'online';
    el.input.disabled = !online;
    el.send.disabled = !online;
    el.users.classList.toggle('stale', !online);
  }

  function chatURL() {
    var scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return scheme + '//' + (location.hostname || '127.0.0.1') + ':' + chatPort + '/';
  }

  function connect() {
    clearRetry();
    if (state.ws) return;
    setStatus('connecting', 'connecting\u2026');
    var ws;
    try {
      ws = new WebSocket(chatURL());
    } catch (e) {
      notice('Cannot connect: ' + e.message, 'error');
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    state.openedAt = 0;
    state.openTimer = setTimeout(function () { abandon(ws); }, connectTimeout);
    ws.onopen = function () {
      if (ws !== state.ws) return;
      clearTimeout(state.openTimer);
      state.openedAt = Date.now();
      sendLogin();
    };
    ws.onmessage = function (ev) { if (ws === state.ws) handle(parseFrame(ev.data)); };
    ws.onclose = function (ev) { if (ws === state.ws) disconnected(ev); };
    ws.onerror = function () { /* a close event follows */ };
  }

  // abandon gives up on a handshake that hangs. Browsers do not always fire
  // close for a socket that never opened (a blocked one, for instance), so the
  // page does not wait for it.
  function abandon(ws) {
    if (ws !== state.ws || ws.readyState === WebSocket.OPEN) return;
    try { ws.close(); } catch (e) { /* already closing */ }
    disconnected({ code: 0 });
  }

  function send(obj) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
    state.ws.send(JSON.stringify(obj));
    return true;
  }

  // sendLogin logs in; back in the room of the last event it saw, the
  // page asks for every say after it (since), otherwise for the room's
  // last says (history).
  function sendLogin() {
    var msg = { type: 'login', name: state.name };
    if (state.room !== '') msg.room_id = state.room;
    state.resuming = state.lastId !== '' && state.lastRoom === state.room;
    if (state.resuming) msg.since = state.lastId;
    else msg.history = historyCount;
    state.awaitingList = true;
    state.uid = null;
    send(msg);
  }

  function disconnected(ev) {
    var lived = state.openedAt ? Date.now() - state.openedAt : 0;
    var wasOnline = state.uid !== null;
    clearTimeout(state.openTimer);
    state.ws = null;
    state.uid = null;
    state.awaitingList = false;
    if (lived >= stableAfter) state.attempt = 0;
    if (wasOnline) notice('Disconnected' + (ev && ev.code ? ' (code ' + ev.code + ')' : '') + '.', 'error');
    if (state.wantOnline) scheduleReconnect();
    else setStatus('offline');
  }

  function backoff(attempt) {
    var ceiling = Math.min(backoffCap, backoffBase * Math.pow(2, Math.min(attempt, 16)));
    return ceiling / 2 + Math.random() * ceiling / 2;
  }

  function scheduleReconnect() {
    clearRetry();
    if (navigator.onLine === false) {
      setStatus('offline', 'offline \u2014 waiting for the network');
      return; // the window's online event reconnects
    }
    state.retryAt = Date.now() + backoff(state.attempt++);
    state.retryTimer = setTimeout(connect, state.retryAt - Date.now());
    state.countdownTimer = setInterval(showCountdown, 250);
    showCountdown();
  }

  function showCountdown() {
    var s = Math.max(1, Math.ceil((state.retryAt - Date.now()) / 1000));
    setStatus('reconnecting', 'reconnecting in ' + s + 's');
  }

  function clearRetry() {
    clearTimeout(state.retryTimer);
    clearInterval(state.countdownTimer);
    state.retryTimer = 0;
    state.countdownTimer = 0;
  }

  // ---- Incoming ----

  var handlers = {
    user_list: onUserList,
    login: onLogin,
    logout: onLogout,
    say: showSay,
    history: onHistory,
    error: onError,
    ping: function () { send({ type: 'pong' }); }
  };

  function handle(msg) {
    if (!msg) return;
    var h = Object.prototype.hasOwnProperty.call(handlers, msg.type) ? handlers[msg.type] : null;
    if (h) h(msg); // unknown types are ignored, as the protocol asks
  }

  function onUserList(msg) {
    var list = Array.isArray(msg.user_list) ? msg.user_list : [];
    state.users = new Map();
    list.forEach(function (u) {
      var uid = uidKey(u && u.uid);
      if (uid === '') return;
      state.users.set(uid, serverText(u.name));
      state.names.set(uid, serverText(u.name));
    });
    if (state.awaitingList && list.length) {
      // The new member is the last to have joined.
      state.uid = uidKey(list[list.length - 1].uid);
      state.awaitingList = false;
      loggedIn();
    }
    renderUsers();
    setTarget(state.users.has(state.target) ? state.target : 'all');
  }

  // seen records the id of a room event of the current login.
  function seen(msg) {
    if (typeof msg.id !== 'string' || state.uid === null) return;
    state.lastId = msg.id;
    state.lastRoom = state.room;
  }

  // onHistory shows the says of the room the page missed (resuming) or
  // the room's last says (joining, marked as earlier).
  function onHistory(msg) {
    var list = Array.isArray(msg.messages) ? msg.messages : [];
    if (!state.resuming && list.length) notice('Earlier messages', 'divider');
    if (msg.complete === false) {
      notice(state.resuming ? 'Some messages may be missing while you were away.' : 'Earlier messages may be missing.', 'gap');
    }
    list.forEach(function (m) {
      if (m && m.type === 'say') showSay(m, !state.resuming);
    });
    if (!state.resuming && list.length) notice('Now', 'divider');
  }

  function loggedIn() {
    el.overlay.hidden = true;
    el.me.hidden = false;
    el.meName.textContent = state.name;
    setStatus('online');
    el.input.focus();
  }

  function onLogin(msg) {
    var uid = uidKey(msg.uid);
    if (uid === '') return;
    seen(msg);
    var name = serverText(msg.name);
    addUser(uid, name);
    if (uid === state.uid) {
      notice((state.joinedOnce ? 'Reconnected: you' : 'You') + ' joined #' + roomLabel(state.room) + ' as ' + name + '.', 'self', msg.time);
      state.joinedOnce = true;
      el.meName.textContent = name;
    } else {
      notice(name + ' joined.', 'join', msg.time);
    }
  }

  function onLogout(msg) {
    var uid = uidKey(msg.uid);
    seen(msg);
    if (uid === '' || uid === state.uid || !state.users.has(uid)) return;
    var name = state.users.get(uid);
    removeUser(uid);
    notice(name + ' left.', 'leave', msg.time);
  }

  function onError(msg) {
    var code = String(msg.code || 'error');
    var text = errorText[code] || 'Error';
    var reason = msg.reason ? serverText(msg.reason) : '';
    if (state.awaitingList && code === 'bad_name') {
      refuseLogin(reason || text);
      return;
    }
    notice(text + (reason && reason !== text ? ' (' + reason + ')' : '') + ' [' + code + ']', 'error');
  }

  // refuseLogin stops reconnecting and asks for another name.
  function refuseLogin(reason) {
    state.wantOnline = false;
    var ws = state.ws;
    state.ws = null;
    state.awaitingList = false;
    clearTimeout(state.openTimer);
    if (ws) ws.close(1000);
    clearRetry();
    setStatus('offline');
    showLogin(reason);
  }

  // ---- Outgoing ----

  function submitMessage() {
    var text = el.input.value;
    if (text.trim() === '') return;
    var to = state.target === 'all' ? 'all' : wireUid(state.target);
    if (!send({ type: 'say', to_uid: to, content: text })) return;
    el.input.value = '';
    autosize();
  }

  function autosize() {
    el.input.style.height = 'auto';
    el.input.style.height = el.input.scrollHeight + 2 + 'px';
  }

  // ---- Login and rooms ----

  function showLogin(error) {
    el.overlay.hidden = false;
    el.loginError.hidden = !error;
    el.loginError.textContent = error || '';
    el.nameInput.value = el.nameInput.value || state.name;
    el.loginRoom.value = state.room;
    el.nameInput.focus();
  }

  function join(ev) {
    ev.preventDefault();
    var name = el.nameInput.value.trim();
    var len = Array.from(name).length;
    if (len < 1 || len > 32) {
      showLogin('Choose a nickname of 1 to 32 characters.');
      return;
    }
    state.name = name;
    try { localStorage.setItem('chatd.name', name); } catch (e) { /* storage may be off */ }
    setRoom(el.loginRoom.value.trim());
    el.overlay.hidden = true;
    state.wantOnline = true;
    state.attempt = 0;
    if (state.ws) sendLogin();
    else connect();
  }

  function setRoom(room) {
    state.room = room;
    el.roomName.textContent = roomLabel(room);
    document.title = 'chatd #' + roomLabel(room);
    var url = new URL(location.href);
    if (room === '') url.searchParams.delete('room_id');
    else url.searchParams.set('room_id', room);
    if (url.href !== location.href) history.replaceState(null, '', url.href);
  }

  function switchRoom(ev) {
    ev.preventDefault();
    var room = el.roomInput.value.trim();
    el.roomForm.hidden = true;
    el.roomSwitch.hidden = false;
    if (room === state.room) return;
    setRoom(room);
    if (!state.wantOnline) {
      el.loginRoom.value = room;
      return;
    }
    notice('#' + roomLabel(room), 'divider');
    state.users = new Map();
    renderUsers();
    setTarget('all');
    if (state.uid !== null) sendLogin(); // a second login moves the connection
  }

  function openRoomForm() {
    el.roomForm.hidden = false;
    el.roomSwitch.hidden = true;
    el.roomInput.value = state.room;
    el.roomInput.focus();
    el.roomInput.select();
  }

  function closeRoomForm() {
    el.roomForm.hidden = true;
    el.roomSwitch.hidden = false;
  }

  // ---- Wiring ----

  function onInputKey(ev) {
    if (ev.key !== 'Enter' || ev.shiftKey || ev.isComposing || ev.keyCode === 229) return;
    ev.preventDefault();
    submitMessage();
  }

  function onUserKey(ev) {
    if (ev.key !== 'Enter' && ev.key !== ' ') return;
    ev.preventDefault();
    pickUser(ev.target.closest('.user'));
  }

  function toggleUsers() {
    var open = el.app.classList.toggle('show-users');
    el.usersToggle.setAttribute('aria-expanded', open ? 'true' : 'false');
  }

  function closeUsers() {
    if (!el.app.classList.contains('show-users')) return;
    el.app.classList.remove('show-users');
    el.usersToggle.setAttribute('aria-expanded', 'false');
  }

  function init() {
    var params = new URLSearchParams(location.search);
    setRoom((params.get('room_id') || '').trim());
    try { el.nameInput.value = localStorage.getItem('chatd.name') || ''; } catch (e) { /* ignore */ }
    el.loginRoom.value = state.room;
    el.loginForm.addEventListener('submit', join);
    el.composer.addEventListener('submit', function (ev) { ev.preventDefault(); submitMessage(); });
    el.input.addEventListener('keydown', onInputKey);
    el.input.addEventListener('input', autosize);
    el.users.addEventListener('click', function (ev) { pickUser(ev.target.closest('.user')); });
    el.users.addEventListener('keydown', onUserKey);
    el.targetClear.addEventListener('click', function () { setTarget('all'); el.input.focus(); });
    el.usersToggle.addEventListener('click', toggleUsers);
    if (compact.addEventListener) compact.addEventListener('change', setPlaceholder);
    else compact.addListener(setPlaceholder); // Safari before 14
    el.composer.parentNode.addEventListener('click', closeUsers); // a tap beside the drawer closes it
    el.roomSwitch.addEventListener('click', openRoomForm);
    el.roomCancel.addEventListener('click', closeRoomForm);
    el.roomForm.addEventListener('submit', switchRoom);
    el.retryNow.addEventListener('click', function () { if (state.wantOnline && !state.ws) connect(); });
    window.addEventListener('online', function () { if (state.wantOnline && !state.ws) connect(); });
    document.addEventListener('visibilitychange', function () {
      if (document.hidden) return;
      state.unread = 0;
      document.title = 'chatd #' + roomLabel(state.room);
    });
    setPlaceholder();
    setStatus('offline');
    showLogin('');
  }

  init();
}());
