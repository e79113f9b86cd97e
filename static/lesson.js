// What the lessons' pages (echo, push) share: served at /lesson.js by every
// lesson that routes with lesson 3's `route`.
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
