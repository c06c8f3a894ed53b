// The page's one websocket to /ws/. Each server event {type: "job:run", ...} becomes a DOM
// event on <body>: "ispdesk:job:run" (and the generic "ispdesk:event") with the event as
// `detail`. HTMX fragments listen with hx-trigger="ispdesk:job:run from:body".
//
// Events can be lost while disconnected (and a full channel-layer queue drops them silently),
// so after every reconnect "ispdesk:resync" is dispatched and fragments refetch themselves.
// The connection state is on <body data-realtime-state> and on the header dot:
// connecting | connected | reconnecting | offline.
(function () {
  "use strict";

  var PING_INTERVAL_MS = 25000;
  var PONG_TIMEOUT_MS = 10000;
  var MIN_DELAY_MS = 1000;
  var MAX_DELAY_MS = 30000;
  var CLOSE_UNAUTHENTICATED = 4401; // ispdesk.realtime.consumers.CLOSE_UNAUTHENTICATED

  var socket = null;
  var failures = 0; // connection attempts that failed since the last successful one
  var connectedBefore = false;
  var pingTimer = null;
  var pongTimer = null;
  var retryTimer = null;
  var stopped = false;

  function setState(state) {
    document.body.setAttribute("data-realtime-state", state);
    var dot = document.querySelector("[data-realtime-dot]");
    if (!dot) return;
    dot.setAttribute("data-realtime-state", state);
    var label = dot.getAttribute("data-label-" + (state === "connecting" ? "reconnecting" : state));
    if (label) {
      dot.title = label;
      var text = dot.querySelector(".visually-hidden");
      if (text) text.textContent = label;
    }
  }

  function emit(name, detail) {
    document.body.dispatchEvent(new CustomEvent(name, { detail: detail }));
  }

  function socketUrl() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + "/ws/";
  }

  // Exponential backoff from 1 s to a 30 s cap, with jitter in the upper half of each step so
  // that browsers reconnecting after a server restart do not all arrive in the same second.
  function backoffDelay(attempt) {
    var ceiling = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * Math.pow(2, attempt));
    return Math.max(MIN_DELAY_MS, ceiling * (0.5 + Math.random() * 0.5));
  }

  function stopHeartbeat() {
    window.clearInterval(pingTimer);
    window.clearTimeout(pongTimer);
    pingTimer = null;
    pongTimer = null;
  }

  function startHeartbeat(ws) {
    stopHeartbeat();
    pingTimer = window.setInterval(function () {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(JSON.stringify({ type: "ping" }));
      if (pongTimer === null) {
        // No answer in time: the connection is dead even if the browser has not noticed.
        pongTimer = window.setTimeout(function () {
          abandon(ws);
        }, PONG_TIMEOUT_MS);
      }
    }, PING_INTERVAL_MS);
  }

  function markAlive() {
    window.clearTimeout(pongTimer);
    pongTimer = null;
  }

  function scheduleReconnect() {
    if (stopped || retryTimer !== null) return;
    setState("reconnecting");
    var delay = backoffDelay(failures);
    failures += 1;
    retryTimer = window.setTimeout(function () {
      retryTimer = null;
      connect();
    }, delay);
  }

  // Drop a socket without waiting for its close handshake (which a dead network never finishes).
  function abandon(ws) {
    if (socket === ws) socket = null;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    stopHeartbeat();
    try {
      ws.close();
    } catch (error) {
      // already closed
    }
    scheduleReconnect();
  }

  function connect() {
    if (stopped || socket !== null) return;
    window.clearTimeout(retryTimer);
    retryTimer = null;
    setState(connectedBefore ? "reconnecting" : "connecting");
    var ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (error) {
      scheduleReconnect();
      return;
    }
    socket = ws;

    ws.onopen = function () {
      failures = 0;
      setState("connected");
      startHeartbeat(ws);
      if (connectedBefore) emit("ispdesk:resync", { reconnected: true });
      connectedBefore = true;
    };

    ws.onmessage = function (message) {
      markAlive();
      var event;
      try {
        event = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (!event || typeof event.type !== "string" || event.type === "pong") return;
      // Several events in one frame (the server's bundles): each in order, as if alone.
      var events = event.type === "bundle" && Array.isArray(event.events) ? event.events : [event];
      events.forEach(function (one) {
        if (!one || typeof one.type !== "string") return;
        emit("ispdesk:" + one.type, one);
        emit("ispdesk:event", one);
      });
    };

    ws.onclose = function (closeEvent) {
      if (socket === ws) socket = null;
      stopHeartbeat();
      if (closeEvent.code === CLOSE_UNAUTHENTICATED) {
        // Logged out (here or in another tab): retrying cannot help until the next login.
        setState("offline");
        return;
      }
      scheduleReconnect();
    };
  }

  // Reconnect at once when the network or the tab comes back, rather than after the backoff.
  function reconnectNow() {
    if (stopped || socket !== null) return;
    failures = 0;
    connect();
  }

  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") reconnectNow();
  });
  window.addEventListener("pagehide", function () {
    stopped = true;
    window.clearTimeout(retryTimer);
    retryTimer = null;
    if (socket) {
      var ws = socket;
      socket = null;
      ws.onclose = null;
      stopHeartbeat();
      ws.close(1000);
    }
  });
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    // Back from the back/forward cache: the page may be stale, so treat it as a reconnect.
    stopped = false;
    connectedBefore = true;
    reconnectNow();
  });

  // For the console and for browser tests: read the state, reach the socket, tune nothing.
  window.ispdeskRealtime = {
    state: function () {
      return document.body.getAttribute("data-realtime-state");
    },
    socket: function () {
      return socket;
    },
    backoffDelay: backoffDelay,
  };

  connect();
})();
