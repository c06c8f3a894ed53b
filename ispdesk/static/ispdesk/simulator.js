// The WhatsApp simulator page plays a customer's phone.
//
// - What the person types is POSTed to the simulator connection's webhook URL, as a gateway
//   would: {"type":"message","id","from","name","text","timestamp"}. The id is made here, so a
//   retry of a failed send is the same message (the webhook stores it once).
// - The page joins the realtime group simulator.<digits> (sent {"type":"subscribe"} after every
//   connect) and shows each "simulator:message" ispdesk sends to the number.
// - Like a phone, it answers with receipts to the webhook: "delivered" when a message arrives,
//   "read" once it is shown in a visible tab. A receipt can beat the sender's write of the
//   message id, so one that changed nothing is retried a few times.
(function () {
  "use strict";

  var root = document.querySelector("[data-sim]");
  if (!root) return;
  var thread = root.querySelector(".sim-thread");
  var compose = root.querySelector("[data-sim-compose]");
  var input = compose.querySelector("textarea");
  var live = root.querySelector("[data-sim-live]");
  var webhookUrl = root.dataset.webhookUrl;
  var group = root.dataset.group;
  var RECEIPT_RETRIES = 5;
  var RECEIPT_RETRY_MS = 400;
  var timeFormat;
  try {
    timeFormat = new Intl.DateTimeFormat(root.dataset.lang || undefined, {
      hour: "2-digit",
      minute: "2-digit",
      hour12: false,
      timeZone: root.dataset.timeZone || undefined,
    });
  } catch (error) {
    timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) {
      return "sim-in-" + window.crypto.randomUUID().replace(/-/g, "");
    }
    return "sim-in-" + Date.now().toString(16) + Math.random().toString(16).slice(2);
  }

  function setState(state, text) {
    root.setAttribute("data-state", state);
    if (text !== undefined) live.textContent = text;
  }

  function postToWebhook(payload) {
    return window
      .fetch(webhookUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(payload),
        credentials: "omit",
      })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      });
  }

  // Bubbles ---------------------------------------------------------------------------------

  function scrollToEnd() {
    thread.scrollTop = thread.scrollHeight;
  }

  function find(id) {
    var bubbles = thread.querySelectorAll(".sim-bubble");
    for (var i = 0; i < bubbles.length; i++) {
      if (bubbles[i].getAttribute("data-id") === id) return bubbles[i];
    }
    return null;
  }

  function bubble(id, mine, text, mediaUrl, when) {
    var empty = thread.querySelector("[data-sim-empty]");
    if (empty) empty.remove();
    var item = document.createElement("li");
    item.className = "sim-bubble " + (mine ? "sim-mine" : "sim-theirs");
    item.setAttribute("data-id", id);
    if (mediaUrl && /^https?:\/\//.test(mediaUrl)) {
      var link = document.createElement("a");
      link.className = "sim-media";
      link.href = mediaUrl;
      link.rel = "noopener noreferrer";
      link.target = "_blank";
      link.textContent = mediaUrl.split("/").pop() || mediaUrl;
      item.appendChild(link);
    }
    if (text) {
      var body = document.createElement("p");
      body.className = "sim-text";
      body.textContent = text;
      item.appendChild(body);
    }
    var meta = document.createElement("span");
    meta.className = "sim-meta";
    var time = document.createElement("time");
    time.dateTime = when.toISOString();
    time.textContent = timeFormat.format(when);
    meta.appendChild(time);
    item.appendChild(meta);
    thread.appendChild(item);
    scrollToEnd();
    return item;
  }

  var TICKS = { pending: "🕓", delivered: "✓✓", failed: "!" };

  function setTicks(item, status) {
    var meta = item.querySelector(".sim-meta");
    var ticks = meta.querySelector(".sim-ticks");
    if (!ticks) {
      ticks = document.createElement("span");
      ticks.className = "sim-ticks";
      meta.appendChild(document.createTextNode(" "));
      meta.appendChild(ticks);
    }
    var label = root.getAttribute("data-label-" + status) || status;
    ticks.setAttribute("data-status", status);
    ticks.setAttribute("title", label);
    ticks.setAttribute("aria-label", label);
    ticks.textContent = TICKS[status] || "";
    item.classList.toggle("sim-failed", status === "failed");
  }

  // The customer writes ---------------------------------------------------------------------

  function send(item, payload) {
    setTicks(item, "pending");
    postToWebhook(payload).then(
      function () {
        setTicks(item, "delivered");
      },
      function () {
        setTicks(item, "failed");
        item.onclick = function () {
          item.onclick = null;
          send(item, payload); // the same id: stored once however many times it is retried
        };
      }
    );
  }

  compose.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    var now = new Date();
    var payload = {
      type: "message",
      id: newId(),
      from: root.dataset.phone,
      name: root.dataset.name || "",
      text: text,
      timestamp: Math.floor(now.getTime() / 1000),
    };
    input.value = "";
    input.focus();
    send(bubble(payload.id, true, text, "", now), payload);
  });

  input.addEventListener("keydown", function (event) {
    // Enter sends, as on WhatsApp Web; Shift+Enter starts a new line.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      compose.requestSubmit ? compose.requestSubmit() : compose.dispatchEvent(new Event("submit"));
    }
  });

  // The phone answers with receipts ---------------------------------------------------------

  function receipt(id, status, attempt) {
    return postToWebhook({ type: "receipt", id: id, status: status }).then(
      function (answer) {
        if (answer && answer.stored === 0 && attempt < RECEIPT_RETRIES) {
          return new Promise(function (resolve) {
            window.setTimeout(resolve, RECEIPT_RETRY_MS * (attempt + 1));
          }).then(function () {
            return receipt(id, status, attempt + 1);
          });
        }
        return answer;
      },
      function () {
        return null; // the next visit's resync acknowledges it again
      }
    );
  }

  function acknowledge(item) {
    var id = item.getAttribute("data-id");
    if (!id || item.getAttribute("data-ack") === "done" || item.getAttribute("data-ack") === "busy") {
      return;
    }
    if (document.visibilityState !== "visible") {
      if (item.getAttribute("data-ack") !== "delivered") {
        item.setAttribute("data-ack", "busy");
        receipt(id, "delivered", 0).then(function () {
          item.setAttribute("data-ack", "delivered");
        });
      }
      return;
    }
    var delivered = item.getAttribute("data-ack") === "delivered";
    item.setAttribute("data-ack", "busy");
    (delivered ? Promise.resolve() : receipt(id, "delivered", 0))
      .then(function () {
        return receipt(id, "read", 0);
      })
      .then(function () {
        item.setAttribute("data-ack", "done");
      });
  }

  function acknowledgeAll() {
    var pending = thread.querySelectorAll(".sim-theirs[data-ack]");
    for (var i = 0; i < pending.length; i++) acknowledge(pending[i]);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") acknowledgeAll();
  });

  document.body.addEventListener("ispdesk:simulator:message", function (event) {
    var message = event.detail || {};
    if (typeof message.id !== "string" || message.to !== root.dataset.digits || find(message.id)) {
      return;
    }
    var when = new Date(message.timestamp);
    if (isNaN(when.getTime())) when = new Date();
    var item = bubble(message.id, false, message.text || "", message.media_url || "", when);
    item.setAttribute("data-ack", "pending");
    acknowledge(item);
  });

  // Joining the number's group, after every (re)connect -------------------------------------

  function subscribe() {
    var realtime = window.ispdeskRealtime;
    var socket = realtime && realtime.socket();
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "subscribe", group: group }));
    }
  }

  document.body.addEventListener("ispdesk:hello", subscribe);
  document.body.addEventListener("ispdesk:subscribed", function (event) {
    if (event.detail && event.detail.group === group) {
      setState("live", root.getAttribute("data-label-online"));
    }
  });
  document.body.addEventListener("ispdesk:subscribe:denied", function (event) {
    if (event.detail && event.detail.group === group) {
      setState("denied", root.getAttribute("data-label-denied"));
    }
  });
  new MutationObserver(function () {
    var state = document.body.getAttribute("data-realtime-state");
    if (state !== "connected" && root.getAttribute("data-state") === "live") {
      setState("connecting", root.getAttribute("data-label-connecting"));
    }
  }).observe(document.body, { attributes: true, attributeFilter: ["data-realtime-state"] });

  // After a resync the thread is fresh from the server: acknowledge what is new in it.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.target === thread) {
      scrollToEnd();
      acknowledgeAll();
    }
  });

  subscribe(); // in case the socket opened before this script ran
  scrollToEnd();
  acknowledgeAll(); // the phone "comes online": what arrived while away is delivered now
})();
