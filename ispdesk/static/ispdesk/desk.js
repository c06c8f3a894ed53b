// The agent console (/desk/): live list, live chat, composer, sound and title badge.
//
// realtime.js owns the websocket and re-dispatches each server event on <body> as
// "ispdesk:<type>". Here, after every connection's "hello" we say {"type":"console:hello"}
// (presence) and join the groups we need: area.<id> for the operator's areas and
// conversation.<id> for the open chat. Events are small; the page refetches its fragments:
//   conversation:*  → the list (at most once per 300 ms), the open chat if it changed;
//   message:new     → the open chat's new lines only (?after=<last id>), which marks them read;
//   message:status  → that bubble's ticks, drawn here from the status;
//   resync          → everything (pushes may have been lost while disconnected).
// A chat opens on its newest lines; scrolling to its top fetches the page before the oldest
// shown (?before=<its id>).
// Message text never passes through JavaScript as HTML: lines arrive rendered and escaped by
// the server, and what we draw ourselves uses textContent.
(function () {
  "use strict";

  // htmx runs the scripts of a page it restores from history; the listeners below are
  // delegated from the document and survive, so one copy is enough.
  if (window.ispdeskDesk) return;
  if (!document.querySelector("[data-desk]")) return;

  var LIST_COALESCE_MS = 300;
  var CHAT_COALESCE_MS = 150;
  var WAITING_REFRESH_MS = 60000;
  var BEEP_AGAIN_AFTER_MS = 5000;
  var MUTE_KEY = "ispdesk.desk.muted";
  var TICKS = { pending: "◷", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "!" };

  var baseTitle = document.title.replace(/^\(\d+\) /, "");
  var joinedChat = null; // the conversation.<id> group we asked for
  var drafts = {}; // unsent text per conversation id, kept across chat switches and refetches
  var listTimer = null;
  var chatTimer = null;
  var fetching = false;
  var fetchAgain = false;
  var seenEvents = [];
  var lastBeepFor = {};
  var audio = null;
  var beeps = 0;

  function root() {
    return document.querySelector("[data-desk]");
  }

  function pane() {
    return document.querySelector("#desk-chat [data-chat]");
  }

  function openChatId() {
    var chat = pane();
    return chat ? chat.getAttribute("data-chat") : null;
  }

  function text(value) {
    return value === null || value === undefined ? "" : String(value);
  }

  // The websocket -------------------------------------------------------------------------

  function send(frame) {
    var realtime = window.ispdeskRealtime;
    var ws = realtime && realtime.socket();
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  function isSupervisor() {
    return root().getAttribute("data-supervisor") === "1";
  }

  function myAreas() {
    var raw = root().getAttribute("data-areas") || "";
    return raw ? raw.split(",") : [];
  }

  function myOperator() {
    return root().getAttribute("data-operator") || "";
  }

  // Supervisors hear every conversation through their role group; operators join their
  // areas and the chat they have open.
  function joinChat(id) {
    var group = id ? "conversation." + id : null;
    if (group === joinedChat) return;
    if (joinedChat) send({ type: "unsubscribe", group: joinedChat });
    joinedChat = group;
    if (group && !isSupervisor()) send({ type: "subscribe", group: group });
  }

  function hello() {
    if (myOperator()) send({ type: "console:hello" });
    if (!isSupervisor()) {
      myAreas().forEach(function (area) {
        send({ type: "subscribe", group: "area." + area });
      });
      // The general queue (chats without an area) is every operator's.
      if (myOperator()) send({ type: "subscribe", group: "area.general" });
    }
    var id = openChatId();
    joinedChat = id ? "conversation." + id : null;
    if (joinedChat && !isSupervisor()) send({ type: "subscribe", group: joinedChat });
  }

  // One event reaches us once per group we share with it (area, user, conversation).
  function seen(key) {
    if (seenEvents.indexOf(key) !== -1) return true;
    seenEvents.push(key);
    if (seenEvents.length > 200) seenEvents.shift();
    return false;
  }

  // The list ------------------------------------------------------------------------------

  function listQuery() {
    var form = document.getElementById("desk-filters");
    var params = new URLSearchParams(form ? new FormData(form) : undefined);
    return root().getAttribute("data-list-url") + "?" + params.toString();
  }

  function refreshList() {
    window.clearTimeout(listTimer);
    listTimer = null;
    if (!document.getElementById("desk-list")) return;
    window.htmx.ajax("GET", listQuery(), { target: "#desk-list", swap: "innerHTML" });
  }

  function scheduleListRefresh() {
    if (listTimer !== null) return;
    listTimer = window.setTimeout(refreshList, LIST_COALESCE_MS);
  }

  function updateTitle() {
    var marker = document.querySelector("[data-desk-attention]");
    var count = marker ? parseInt(marker.getAttribute("data-desk-attention"), 10) || 0 : 0;
    document.title = count > 0 ? "(" + count + ") " + baseTitle : baseTitle;
  }

  function markSelected(id) {
    var input = document.querySelector("[data-desk-selected]");
    if (input) input.value = id || "";
    var rows = document.querySelectorAll(".desk-row[data-conversation]");
    for (var i = 0; i < rows.length; i++) {
      var selected = rows[i].getAttribute("data-conversation") === id;
      rows[i].classList.toggle("is-selected", selected);
      if (selected) rows[i].setAttribute("aria-current", "true");
      else rows[i].removeAttribute("aria-current");
    }
  }

  // The chat ------------------------------------------------------------------------------

  function thread() {
    return document.getElementById("desk-thread");
  }

  function scrollToEnd() {
    var list = thread();
    if (list) list.scrollTop = list.scrollHeight;
  }

  function composerText() {
    return document.querySelector("[data-desk-composer] textarea");
  }

  function grow(textarea) {
    textarea.style.height = "auto";
    textarea.style.height = Math.min(textarea.scrollHeight, 160) + "px";
  }

  function chatShown() {
    var id = openChatId();
    var desk = root();
    desk.classList.toggle("desk-has-chat", Boolean(id));
    markSelected(id);
    joinChat(id);
    scrollToEnd();
    fillThread();
    var textarea = composerText();
    if (textarea && id) {
      textarea.value = drafts[id] || "";
      grow(textarea);
      if (window.matchMedia("(min-width: 721px)").matches) textarea.focus();
    }
  }

  function reloadChat() {
    window.clearTimeout(chatTimer);
    chatTimer = null;
    var chat = pane();
    if (!chat) return;
    window.htmx.ajax("GET", chat.getAttribute("data-chat-url"), {
      target: "#desk-chat",
      swap: "innerHTML",
    });
  }

  function scheduleChatReload() {
    if (chatTimer !== null) return;
    chatTimer = window.setTimeout(reloadChat, CHAT_COALESCE_MS);
  }

  // Append rendered lines the thread does not show yet (an event may arrive twice, and the
  // answer to our own send races the message:new it causes).
  function appendLines(html, chat, response) {
    var list = thread();
    if (!list || pane() !== chat) return;
    var nearEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
    var template = document.createElement("template");
    template.innerHTML = html;
    var items = template.content.querySelectorAll("li[data-message], li[data-event]");
    for (var i = 0; i < items.length; i++) {
      var item = items[i];
      var key = item.hasAttribute("data-message")
        ? '[data-message="' + item.getAttribute("data-message") + '"]'
        : '[data-event="' + item.getAttribute("data-event") + '"]';
      if (!list.querySelector(key)) list.appendChild(item);
    }
    var lastMessage = parseInt(response.headers.get("X-Desk-Last-Message"), 10) || 0;
    var lastEvent = parseInt(response.headers.get("X-Desk-Last-Event"), 10) || 0;
    if (lastMessage > (parseInt(chat.getAttribute("data-last-message"), 10) || 0)) {
      chat.setAttribute("data-last-message", String(lastMessage));
    }
    if (lastEvent > (parseInt(chat.getAttribute("data-last-event"), 10) || 0)) {
      chat.setAttribute("data-last-event", String(lastEvent));
    }
    if (nearEnd) scrollToEnd();
  }

  function request(url, options) {
    options = options || {};
    options.headers = Object.assign({ "HX-Request": "true" }, options.headers || {});
    options.credentials = "same-origin";
    return window.fetch(url, options);
  }

  function fetchNew() {
    var chat = pane();
    if (!chat) return;
    if (fetching) {
      fetchAgain = true;
      return;
    }
    fetching = true;
    var url =
      chat.getAttribute("data-messages-url") +
      "?after=" +
      encodeURIComponent(chat.getAttribute("data-last-message") || "0") +
      "&after_event=" +
      encodeURIComponent(chat.getAttribute("data-last-event") || "0");
    request(url)
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text().then(function (html) {
          appendLines(html, chat, response);
        });
      })
      .catch(function () {
        // The next event or the reconnect's resync fetches again.
      })
      .then(function () {
        fetching = false;
        if (fetchAgain) {
          fetchAgain = false;
          fetchNew();
        }
      });
  }

  // A chat opens on its newest lines; scrolling to the top (or the button there) fetches the
  // page before them, keeping the reader's place.
  var loadingOlder = false;

  function loadOlder() {
    var list = thread();
    var chat = pane();
    var marker = list && list.querySelector("[data-desk-older]");
    if (!marker || loadingOlder) return;
    loadingOlder = true;
    request(marker.getAttribute("data-desk-older"))
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        if (thread() !== list || pane() !== chat || !list.contains(marker)) return;
        var fromEnd = list.scrollHeight - list.scrollTop;
        var template = document.createElement("template");
        template.innerHTML = html; // rendered and escaped by the server
        var items = template.content.querySelectorAll("li[data-message], li[data-event]");
        for (var i = 0; i < items.length; i++) {
          var key = items[i].hasAttribute("data-message")
            ? '[data-message="' + items[i].getAttribute("data-message") + '"]'
            : '[data-event="' + items[i].getAttribute("data-event") + '"]';
          if (list.querySelector(key)) items[i].remove();
        }
        marker.replaceWith(template.content);
        list.scrollTop = list.scrollHeight - fromEnd;
      })
      .catch(function () {
        // The button stays: the next scroll or click tries again.
      })
      .then(function () {
        loadingOlder = false;
        fillThread();
      });
  }

  // A thread too short to scroll cannot be scrolled to its top: fetch until it fills.
  function fillThread() {
    var list = thread();
    if (list && list.scrollHeight <= list.clientHeight) loadOlder();
  }

  // A change of status, area or assignee changes the header and the actions: refetch the
  // pane. Anything else (a history line) only adds lines.
  function chatEvent(event) {
    var chat = pane();
    if (!chat || chat.getAttribute("data-chat") !== text(event.conversation)) return;
    var changed =
      chat.getAttribute("data-status") !== text(event.status) ||
      chat.getAttribute("data-area") !== text(event.area) ||
      chat.getAttribute("data-assignee") !== text(event.assignee);
    if (changed) scheduleChatReload();
    else fetchNew();
  }

  function showError(slot, node) {
    if (!slot) return;
    slot.textContent = "";
    slot.appendChild(node);
  }

  function sendMessage(form) {
    var textarea = form.querySelector("textarea");
    var chat = pane();
    if (!textarea || !chat || !textarea.value.trim() || form.hasAttribute("data-sending")) return;
    form.querySelector("[name=after]").value = chat.getAttribute("data-last-message") || "0";
    form.querySelector("[name=after_event]").value = chat.getAttribute("data-last-event") || "0";
    var slot = chat.querySelector("[data-desk-error-slot]");
    var body = new FormData(form);
    var id = chat.getAttribute("data-chat");
    form.setAttribute("data-sending", "");
    request(form.action, { method: "POST", body: body })
      .then(function (response) {
        return response.text().then(function (html) {
          if (response.ok) {
            if (slot) slot.textContent = "";
            delete drafts[id];
            textarea.value = "";
            grow(textarea);
            appendLines(html, chat, response);
            scrollToEnd();
            return;
          }
          if (response.status === 422) {
            var template = document.createElement("template");
            template.innerHTML = html; // rendered and escaped by the server
            showError(slot, template.content);
            return;
          }
          throw new Error("HTTP " + response.status);
        });
      })
      .catch(function () {
        var alert = document.createElement("p");
        alert.className = "alert alert-error desk-error";
        alert.setAttribute("role", "alert");
        alert.textContent = root().getAttribute("data-label-send-failed");
        showError(slot, alert);
      })
      .then(function () {
        form.removeAttribute("data-sending");
      });
  }

  function setTicks(outboundId, status) {
    var state = status === "queued" || status === "sending" ? "pending" : status;
    if (!(state in TICKS)) return;
    var line = document.querySelector('#desk-thread [data-outbound="' + outboundId + '"]');
    var ticks = line && line.querySelector(".desk-ticks");
    if (!ticks) return;
    var label = root().getAttribute("data-label-" + state) || state;
    ticks.setAttribute("data-ticks", state);
    ticks.setAttribute("title", label);
    ticks.setAttribute("aria-label", label);
    ticks.textContent = TICKS[state];
  }

  function showList() {
    joinChat(null);
    var target = document.getElementById("desk-chat");
    var empty = document.getElementById("desk-no-chat");
    if (target && empty) target.innerHTML = empty.innerHTML; // our own static markup
    root().classList.remove("desk-has-chat");
    markSelected(null);
  }

  // Sound, title and presence -------------------------------------------------------------

  function muted() {
    try {
      return window.localStorage.getItem(MUTE_KEY) === "1";
    } catch (error) {
      return false;
    }
  }

  function showMute() {
    var button = document.querySelector("[data-desk-mute]");
    if (!button) return;
    var isMuted = muted();
    var label = button.getAttribute(isMuted ? "data-label-muted" : "data-label-unmuted");
    button.setAttribute("aria-pressed", isMuted ? "true" : "false");
    button.title = label;
    var span = button.querySelector("[data-desk-mute-label]");
    if (span) span.textContent = label;
  }

  function audioContext() {
    if (audio) return audio;
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    try {
      audio = new Context();
    } catch (error) {
      audio = null;
    }
    return audio;
  }

  // Two short rising notes, made here: no sound file to ship or fetch.
  function beep() {
    beeps += 1;
    root().setAttribute("data-beeps", String(beeps));
    var context = audioContext();
    if (!context) return;
    if (context.state === "suspended") context.resume().catch(function () {});
    var start = context.currentTime + 0.01;
    [660, 880].forEach(function (frequency, index) {
      var at = start + index * 0.14;
      var oscillator = context.createOscillator();
      var gain = context.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.12);
      oscillator.connect(gain);
      gain.connect(context.destination);
      oscillator.start(at);
      oscillator.stop(at + 0.13);
    });
  }

  // A chat that reached me or one of my queues; the drain's assignment right after the
  // queueing is the same news, so one sound per chat within a few seconds.
  function notifyIncoming(event) {
    var operator = myOperator();
    var mine = operator !== "" && text(event.assignee) === operator;
    var area = text(event.area);
    var queued =
      event.status === "pending" &&
      !event.assignee &&
      operator !== "" &&
      (area === "" || myAreas().indexOf(area) !== -1);
    if (!mine && !queued) return;
    var now = Date.now();
    var key = text(event.conversation);
    if (lastBeepFor[key] && now - lastBeepFor[key] < BEEP_AGAIN_AFTER_MS) return;
    lastBeepFor[key] = now;
    if (!muted()) beep();
  }

  function setPresence(state) {
    var form = document.getElementById("desk-presence");
    if (!form || !state) return;
    form.setAttribute("data-presence", state);
    var label = form.querySelector("[data-presence-label]");
    var words = form.getAttribute("data-label-" + state);
    if (label && words) label.textContent = words;
  }

  // Wiring --------------------------------------------------------------------------------

  var body = document.body;

  body.addEventListener("ispdesk:hello", hello);

  body.addEventListener("ispdesk:resync", function () {
    refreshList();
    reloadChat();
  });

  ["conversation:incoming", "conversation:update", "conversation:closed"].forEach(function (type) {
    body.addEventListener("ispdesk:" + type, function (domEvent) {
      var event = domEvent.detail || {};
      if (seen(type + ":" + event.conversation + ":" + event.version)) return;
      scheduleListRefresh();
      chatEvent(event);
      if (type === "conversation:incoming") notifyIncoming(event);
    });
  });

  body.addEventListener("ispdesk:message:new", function (domEvent) {
    var event = domEvent.detail || {};
    if (seen("message:" + event.message)) return;
    if (text(event.conversation) === openChatId()) fetchNew();
  });

  body.addEventListener("ispdesk:message:status", function (domEvent) {
    var event = domEvent.detail || {};
    setTicks(text(event.message), text(event.status));
  });

  body.addEventListener("ispdesk:presence", function (domEvent) {
    setPresence((domEvent.detail || {}).presence);
  });

  body.addEventListener("ispdesk:presence:update", function (domEvent) {
    var event = domEvent.detail || {};
    if (text(event.operator) === myOperator()) setPresence(event.presence);
  });

  body.addEventListener("htmx:afterSwap", function (domEvent) {
    var target = domEvent.detail && domEvent.detail.target;
    if (!target) return;
    if (target.id === "desk-list") {
      updateTitle();
      markSelected(openChatId());
    } else if (target.id === "desk-chat") {
      chatShown();
    }
  });

  // Refusals (422) come with a readable explanation in the pane: show it.
  body.addEventListener("htmx:beforeSwap", function (domEvent) {
    var detail = domEvent.detail;
    if (detail.xhr && detail.xhr.status === 422 && root().contains(detail.target)) {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });

  body.addEventListener("htmx:historyRestore", function () {
    updateTitle();
    showMute();
    hello();
    chatShown();
  });

  document.addEventListener("input", function (domEvent) {
    var textarea = domEvent.target;
    if (!textarea.matches || !textarea.matches("[data-desk-composer] textarea")) return;
    var id = openChatId();
    if (id) drafts[id] = textarea.value;
    grow(textarea);
  });

  document.addEventListener("keydown", function (domEvent) {
    var textarea = domEvent.target;
    if (!textarea.matches || !textarea.matches("[data-desk-composer] textarea")) return;
    if (domEvent.key === "Enter" && !domEvent.shiftKey && !domEvent.isComposing) {
      domEvent.preventDefault();
      sendMessage(textarea.form);
    }
  });

  document.addEventListener("submit", function (domEvent) {
    var form = domEvent.target;
    if (!form.matches || !form.matches("[data-desk-composer]")) return;
    domEvent.preventDefault();
    sendMessage(form);
  });

  document.addEventListener("click", function (domEvent) {
    var target = domEvent.target;
    if (!target.closest) return;
    // Browsers start audio only after a gesture: this click is one.
    if (audio && audio.state === "suspended") audio.resume().catch(function () {});
    var opener = target.closest("[data-dialog-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
      if (dialog && dialog.showModal) {
        dialog.showModal();
        // Its options load now (hx-trigger="dialog-opened from:closest dialog").
        dialog.dispatchEvent(new CustomEvent("dialog-opened"));
      }
      return;
    }
    var closer = target.closest("[data-dialog-close]");
    if (closer) {
      closer.closest("dialog").close();
      return;
    }
    var mute = target.closest("[data-desk-mute]");
    if (mute) {
      try {
        window.localStorage.setItem(MUTE_KEY, muted() ? "0" : "1");
      } catch (error) {
        // private mode without storage: the toggle cannot stick
      }
      if (!muted()) audioContext();
      showMute();
      return;
    }
    if (target.closest("[data-desk-older] button")) {
      loadOlder();
      return;
    }
    var more = target.closest("[data-desk-more]");
    if (more) {
      domEvent.preventDefault();
      var limit = document.querySelector("[data-desk-limit]");
      if (limit) limit.value = more.getAttribute("data-desk-more");
      refreshList();
      return;
    }
    if (target.closest("[data-desk-back]")) {
      domEvent.preventDefault();
      showList();
      window.history.pushState({ desk: "list" }, "", root().getAttribute("data-desk-url"));
    }
  });

  // Scroll events do not bubble: listen in the capture phase.
  document.addEventListener(
    "scroll",
    function (domEvent) {
      var list = domEvent.target;
      if (list && list.id === "desk-thread" && list.scrollTop < 200) loadOlder();
    },
    true
  );

  window.addEventListener("popstate", function (domEvent) {
    if (domEvent.state && domEvent.state.desk === "list") showList();
  });

  // Waiting times in the queue are words ("5 minutes") written by the server: refresh them.
  window.setInterval(function () {
    if (document.querySelector("#desk-list [data-since]")) scheduleListRefresh();
  }, WAITING_REFRESH_MS);

  window.ispdeskDesk = {
    beeps: function () {
      return beeps;
    },
    refreshList: refreshList,
  };

  showMute();
  updateTitle();
  chatShown();
  if (window.ispdeskRealtime && window.ispdeskRealtime.state() === "connected") hello();
})();
