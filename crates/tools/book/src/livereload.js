// Live reload: `cargo run -p book` adds this script to every page it serves.
// The page opens a WebSocket to the server and waits. After each rebuild of
// the book the server sends a message ("reload"), and the page reloads
// itself. When the connection ends (the server stopped), the page tries again
// every second, and reloads once it is back: the book may have changed.
(function connect(reconnecting) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/__livereload`);
  socket.onopen = () => {
    if (reconnecting) location.reload();
  };
  socket.onmessage = () => location.reload();
  socket.onclose = () => setTimeout(() => connect(true), 1000);
})(false);
