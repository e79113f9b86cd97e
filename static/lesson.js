// What the lessons' pages share: a socket URL, a clock, a safe log line, and
// the reconnecting socket of lessons 4 and 5. Embedded by the support crate
// (support::SCRIPT) and served at /lesson.js by every lesson with a page.
"use strict";

// The WebSocket lives where this page came from: never a hard-coded port,
// and wss:// when the page came over https://.
function lessonSocketUrl(path) {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
}

// A time of day to the millisecond, 24-hour: 14:03:07.512.
function clockTime(date) {
  return date.toLocaleTimeString([], { hour12: false }) + "." + String(date.getMilliseconds()).padStart(3, "0");
}

// Appends a line to a log list: `cells` is [[class, text], ...], one span
// each, `data` goes to the line's data-* attributes. Every piece of text
// goes in with textContent: whatever a server or a person sends is shown as
// text, never parsed as HTML. The log follows new lines unless the reader
// has scrolled up to read old ones, and keeps at most `max` lines.
function appendLine(log, kind, cells, data, max) {
  const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 30;
  const li = document.createElement("li");
  li.className = kind;
  for (const [cls, text] of cells) {
    const span = document.createElement("span");
    span.className = cls;
    span.textContent = text;
    li.appendChild(span);
  }
  Object.assign(li.dataset, data || {});
  log.appendChild(li);
  while (max && log.children.length > max) log.firstElementChild.remove();
  if (stick) log.scrollTop = log.scrollHeight;
}

// ANCHOR: policy
// How the pages reconnect (lessons 4 and 5): exponential backoff with full
// jitter. Attempt n waits a random time between 0 and
// min(MAX_DELAY_MS, BASE_DELAY_MS * 2^n), so a thousand pages that lost the
// same server do not all knock at once.
const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 30000;
// A connection that stays open this long was a success: the next loss
// starts the backoff from the beginning again.
const STABLE_MS = 10000;
// A handshake that has not finished by then is given up (a frozen server
// accepts TCP connections in its kernel, and never answers).
const OPEN_TIMEOUT_MS = 10000;
// ANCHOR_END: policy

// ANCHOR: api
// Keeps one WebSocket open, with the policy above: when it is lost, opens
// another after the backoff. What a page does with each event is its own,
// in `hooks`:
//
//   open()            makes the next socket: `new WebSocket(url)`, or a
//                     promise of one (lesson 5 fetches a ticket first). A
//                     throw or a rejection is a failed attempt.
//   onState(name)     "connecting", "open", "reconnecting", "closing" or
//                     "closed": for the page's badge.
//   onOpen(ws)        the server answered 101.
//   onMessage(event)  a message from the current socket.
//   onDown(loss)      the socket is gone (closed, given up, or never made):
//                     loss is { code, detail, wasClean, opened, gaveUp }, code
//                     null when no close came, detail a line for a person.
//                     Return false to stay closed instead of trying again.
//   onRetry(attempt, delay, ceiling)   optional: the next attempt's number,
//                     its random delay and the ceiling it was drawn under (ms).
//
// Returns a handle:
//   start()           connect now, the backoff counted from the beginning
//   stop(code, reason)  close with that code and stay closed
//   giveUp(why)       stop trusting the current socket: close it, reconnect
//   wanted            true from start() until stop() (or an onDown's false)
//   socket, attempt, retryAt   to show: the current WebSocket or null, the
//                     attempt count, performance.now() of the next attempt
//                     or null
// The current socket is also window.ws, for the developer console.
// ANCHOR_END: api
function reconnectingSocket(hooks) {
  let socket = null;      // the WebSocket we listen to, or null
  let opened = false;     // whether that socket ever opened
  let wanted = false;     // true from start() until stop()
  let attempt = 0;        // reconnects since the last stable connection
  let tries = 0;          // bumped by each connect() and stop(): a stale open() is dropped
  let retryTimer = null, retryAt = null;
  let openTimer = null, stableTimer = null;

  // ANCHOR: connect
  async function connect() {
    clearTimeout(retryTimer);
    retryTimer = retryAt = null;
    hooks.onState(attempt > 0 ? "reconnecting" : "connecting");
    const mine = ++tries;
    let ws;
    try {
      ws = await hooks.open();
    } catch (error) {
      if (mine === tries) lost({ code: null, detail: String(error.message || error), wasClean: false, opened: false, gaveUp: false });
      return;
    }
    if (mine !== tries) { ws.close(); return; }  // stop() came first
    socket = ws;
    opened = false;
    window.ws = ws;
    openTimer = setTimeout(() => giveUpOn(ws, "no answer within " + OPEN_TIMEOUT_MS / 1000 + " s"), OPEN_TIMEOUT_MS);

    // Each handler first checks that its socket is still the one we listen
    // to: an old socket's late event must not touch the page (two live
    // sockets is how a page ends up showing everything twice).
    ws.onopen = () => {
      if (socket !== ws) return;
      clearTimeout(openTimer);
      opened = true;
      stableTimer = setTimeout(() => { attempt = 0; }, STABLE_MS);
      hooks.onState("open");
      hooks.onOpen(ws);
    };
    ws.onmessage = (event) => {
      if (socket !== ws) return;
      hooks.onMessage(event);
    };
    ws.onerror = () => {
      // The browser says no more than "something failed", on purpose (a page
      // must not learn why a connection to another host failed); onclose
      // follows with the code.
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      const detail = event.code + (event.reason ? " " + event.reason : "");
      lost({ code: event.code, detail, wasClean: event.wasClean, opened, gaveUp: false });
    };
  }
  // ANCHOR_END: connect

  // ANCHOR: backoff
  // Stops trusting a socket: stop listening to it first, so nothing it does
  // later reaches the page, then close it and carry on as if it had closed.
  function giveUpOn(ws, why) {
    if (!ws || socket !== ws) return;
    ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
    ws.close(4000, "given up");
    lost({ code: null, detail: why, wasClean: false, opened, gaveUp: true });
  }

  function lost(loss) {
    socket = null;
    clearTimeout(openTimer);
    clearTimeout(stableTimer);
    if (hooks.onDown(loss) === false) wanted = false;
    if (!wanted) {
      hooks.onState("closed");
      return;
    }
    const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt);
    const delay = Math.random() * ceiling;
    attempt = Math.min(attempt + 1, 30);
    retryAt = performance.now() + delay;
    hooks.onState("reconnecting");
    if (hooks.onRetry) hooks.onRetry(attempt, delay, ceiling);
    retryTimer = setTimeout(connect, delay);
  }
  // ANCHOR_END: backoff

  // Back online after a network change: try now rather than at the timer.
  window.addEventListener("online", () => {
    if (retryTimer) connect();
  });

  return {
    start() {
      wanted = true;
      attempt = 0;
      connect();
    },
    stop(code, reason) {
      wanted = false;
      tries += 1;
      clearTimeout(retryTimer);
      retryTimer = retryAt = null;
      if (socket) {
        hooks.onState("closing");
        socket.close(code, reason);
      } else {
        hooks.onState("closed");
      }
    },
    giveUp(why) {
      giveUpOn(socket, why);
    },
    get wanted() { return wanted; },
    get socket() { return socket; },
    get attempt() { return attempt; },
    get retryAt() { return retryAt; },
  };
}
