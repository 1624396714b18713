// Package web serves the chat page: a plain HTML/CSS/JavaScript client of the
// chat protocol (docs/protocol.md), embedded in the binary so that it works on
// a machine without internet access (no CDN, no external fonts).
//
// The page is static. The only per-server value, the TCP port of the
// WebSocket chat endpoint, reaches it through a tiny script, /config.js
// (window.CHATD = {chatPort: N}), generated once when the Handler is built;
// the page then connects to ws://<the host it was loaded from>:<port>/.
//
// Every response carries a Content-Security-Policy that allows scripts and
// styles from the page's own origin only (no inline script) and WebSocket
// connections only to the chat port. Names and message content arrive
// HTML-escaped by the server, with "<br />" before line breaks, because the
// original workerman-chat page inserted them as HTML; this page turns them
// back into plain text and inserts them with textContent, so markup typed by
// a user is shown, never executed.
//
// The page logs in with a nickname into the room named by ?room_id=, shows
// the online users, the session's messages and join/leave notices, sends to
// everyone or privately to a user picked from the list, shows the server's
// error replies and the connection state, and reconnects by itself with
// exponential backoff and jitter, logging in again with the same name and
// room.
package web
