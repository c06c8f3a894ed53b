// The bot flow builder: the flow's document lives in memory here, is drawn as nested cards
// (children inside their parent's card), edited in place, saved with PUT /api/flows/<id>
// (POST /api/flows for a new flow), and played in the "Try it" chat through
// POST /api/flows/simulate without saving anything.
//
// Every text a person typed is shown with textContent, never as HTML.
(function () {
  "use strict";

  var root = document.querySelector("[data-flow-builder]");
  if (!root) return;

  function readJson(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }

  var data = readJson("flow-data");
  var areas = readJson("flow-areas");
  var config = readJson("flow-config");
  var t = config.strings;
  var doc = data.definition && Array.isArray(data.definition.nodes)
    ? data.definition
    : { root: "inicio", nodes: [] };
  var flowId = data.id;
  var version = data.version;
  var errors = {}; // "nodes.<id>" / field name -> message, from the last refused save

  var tree = root.querySelector("[data-flow-tree]");
  var alertBox = root.querySelector("[data-flow-alert]");
  var statusLine = root.querySelector("[data-flow-status]");
  var csrfToken = root.querySelector("[name=csrfmiddlewaretoken]").value;
  var TYPES = ["message", "menu", "redirect", "end"];

  // The document ----------------------------------------------------------------------------

  function byId(id) {
    for (var i = 0; i < doc.nodes.length; i++) {
      if (doc.nodes[i].id === id) return doc.nodes[i];
    }
    return null;
  }

  function parentOf(id) {
    for (var i = 0; i < doc.nodes.length; i++) {
      if ((doc.nodes[i].children || []).indexOf(id) !== -1) return doc.nodes[i];
    }
    return null;
  }

  function newId(type) {
    var n = doc.nodes.length + 1;
    while (byId(type + "-" + n)) n++;
    return type + "-" + n;
  }

  function addChild(parent, type) {
    var node = {
      id: newId(type),
      type: type,
      text: "",
      label: "",
      option: null,
      keywords: [],
      area_id: null,
      children: [],
    };
    if (parent.type === "menu") {
      var highest = 0;
      parent.children.forEach(function (childId) {
        var child = byId(childId);
        if (child && child.option > highest) highest = child.option;
      });
      node.option = highest + 1;
    }
    doc.nodes.push(node);
    parent.children.push(node.id);
    return node;
  }

  function removeSubtree(id) {
    var node = byId(id);
    if (!node) return;
    (node.children || []).slice().forEach(removeSubtree);
    doc.nodes = doc.nodes.filter(function (other) {
      return other.id !== id;
    });
    doc.nodes.forEach(function (other) {
      other.children = (other.children || []).filter(function (childId) {
        return childId !== id;
      });
    });
  }

  // Moving an option also swaps the menu numbers, so the menu keeps counting up in order.
  function move(id, delta) {
    var parent = parentOf(id);
    if (!parent) return;
    var index = parent.children.indexOf(id);
    var other = index + delta;
    if (other < 0 || other >= parent.children.length) return;
    var otherId = parent.children[other];
    parent.children[other] = id;
    parent.children[index] = otherId;
    var a = byId(id);
    var b = byId(otherId);
    if (parent.type === "menu" && a && b && a.option != null && b.option != null) {
      var option = a.option;
      a.option = b.option;
      b.option = option;
    }
  }

  // Drawing ---------------------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (match, name) {
      return values[name] === undefined ? match : values[name];
    });
  }

  function field(labelText, input, id) {
    var wrap = el("div", "field flow-field");
    input.id = id;
    var label = el("label", null, labelText);
    label.setAttribute("for", id);
    wrap.appendChild(label);
    wrap.appendChild(input);
    return wrap;
  }

  function textInput(value, onInput, attrs) {
    var input = el("input");
    input.type = (attrs && attrs.type) || "text";
    input.value = value === null || value === undefined ? "" : String(value);
    input.addEventListener("input", function () {
      onInput(input.value);
    });
    return input;
  }

  function areaSelect(node) {
    var select = el("select");
    var placeholder = el("option", null, t.choose_area);
    placeholder.value = "";
    select.appendChild(placeholder);
    areas.forEach(function (area) {
      if (!area.active && area.id !== node.area_id) return;
      var label = area.active ? area.name : format(t.inactive_area, { name: area.name });
      var option = el("option", null, label);
      option.value = String(area.id);
      if (area.id === node.area_id) option.selected = true;
      select.appendChild(option);
    });
    select.addEventListener("change", function () {
      node.area_id = select.value ? parseInt(select.value, 10) : null;
    });
    return select;
  }

  function toolButton(label, action, id, extraClass) {
    var button = el("button", "btn btn-small btn-ghost " + (extraClass || ""), label);
    button.type = "button";
    button.setAttribute("data-action", action);
    button.setAttribute("data-node", id);
    return button;
  }

  function card(node, parent, index, siblings) {
    var article = el("article", "flow-node flow-node-" + node.type);
    article.setAttribute("data-node-id", node.id);
    var head = el("header", "flow-node-head");
    head.appendChild(el("span", "pill flow-node-type", t["type_" + node.type] || node.type));
    head.appendChild(el("code", "flow-node-id", node.id));
    if (node.id === doc.root) head.appendChild(el("span", "pill pill-info", t.root));
    var tools = el("span", "flow-node-tools");
    if (parent) {
      var up = toolButton("↑", "up", node.id);
      up.title = t.move_up;
      up.setAttribute("aria-label", t.move_up);
      up.disabled = index === 0;
      var down = toolButton("↓", "down", node.id);
      down.title = t.move_down;
      down.setAttribute("aria-label", t.move_down);
      down.disabled = index === siblings - 1;
      tools.appendChild(up);
      tools.appendChild(down);
    }
    if (node.id !== doc.root) tools.appendChild(toolButton(t.delete, "delete", node.id, "flow-delete"));
    head.appendChild(tools);
    article.appendChild(head);

    var error = errors["nodes." + node.id];
    var errorLine = el("p", "field-error flow-node-error", error || "");
    errorLine.setAttribute("data-node-error", node.id);
    errorLine.hidden = !error;
    article.appendChild(errorLine);

    var fields = el("div", "flow-node-fields");
    var prefix = "node-" + node.id + "-";
    if (parent && parent.type === "menu") {
      fields.appendChild(
        field(
          t.option,
          textInput(node.option, function (value) {
            var number = parseInt(value, 10);
            node.option = isNaN(number) ? null : number;
          }, { type: "number" }),
          prefix + "option"
        )
      );
      fields.appendChild(
        field(t.label, textInput(node.label, function (value) {
          node.label = value;
        }), prefix + "label")
      );
      fields.appendChild(
        field(t.keywords, textInput((node.keywords || []).join(", "), function (value) {
          node.keywords = value.split(",").map(function (word) {
            return word.trim();
          }).filter(Boolean);
        }), prefix + "keywords")
      );
    }
    var text = el("textarea");
    text.rows = 2;
    text.value = node.text || "";
    text.addEventListener("input", function () {
      node.text = text.value;
    });
    fields.appendChild(field(t.text, text, prefix + "text"));
    if (node.type === "redirect") fields.appendChild(field(t.area, areaSelect(node), prefix + "area"));
    article.appendChild(fields);

    var children = el("div", "flow-node-children");
    (node.children || []).forEach(function (childId, childIndex) {
      var child = byId(childId);
      if (child) children.appendChild(card(child, node, childIndex, node.children.length));
    });
    article.appendChild(children);

    // A menu takes any number of options; a message goes on to one node.
    if (node.type === "menu" || (node.type === "message" && !(node.children || []).length)) {
      var add = el("div", "flow-node-add");
      var typeSelect = el("select");
      typeSelect.id = prefix + "add-type";
      typeSelect.setAttribute("aria-label", t.add_type);
      TYPES.forEach(function (type) {
        var option = el("option", null, t["type_" + type]);
        option.value = type;
        typeSelect.appendChild(option);
      });
      typeSelect.value = node.type === "menu" ? "redirect" : "menu";
      add.appendChild(typeSelect);
      add.appendChild(toolButton(t.add_child, "add", node.id, "flow-add"));
      article.appendChild(add);
    }
    return article;
  }

  function reachable() {
    var seen = {};
    var stack = [doc.root];
    while (stack.length) {
      var id = stack.pop();
      var node = byId(id);
      if (!node || seen[id]) continue;
      seen[id] = true;
      stack.push.apply(stack, node.children || []);
    }
    return seen;
  }

  function render() {
    tree.textContent = "";
    var rootNode = byId(doc.root);
    if (rootNode) tree.appendChild(card(rootNode, null, 0, 1));
    var seen = reachable();
    var loose = doc.nodes.filter(function (node) {
      return !seen[node.id] && !parentOf(node.id);
    });
    if (loose.length) {
      var section = el("section", "flow-unattached");
      section.appendChild(el("h3", null, t.unattached));
      loose.forEach(function (node) {
        section.appendChild(card(node, null, 0, 1));
      });
      tree.appendChild(section);
    }
  }

  tree.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button) return;
    var id = button.getAttribute("data-node");
    var node = byId(id);
    if (!node) return;
    var action = button.getAttribute("data-action");
    var focusId = null;
    if (action === "add") {
      var type = button.parentNode.querySelector("select").value;
      var child = addChild(node, type);
      focusId = "node-" + child.id + "-" + (node.type === "menu" ? "label" : "text");
    } else if (action === "delete") {
      if (!window.confirm(t.confirm_delete)) return;
      removeSubtree(id);
    } else if (action === "up" || action === "down") {
      move(id, action === "up" ? -1 : 1);
    }
    render();
    var focus = focusId && document.getElementById(focusId);
    if (focus) focus.focus();
  });

  // Saving ----------------------------------------------------------------------------------

  function settings() {
    var fallback = document.getElementById("flow-fallback").value;
    return {
      name: document.getElementById("flow-name").value,
      active: document.getElementById("flow-active").checked,
      is_default: document.getElementById("flow-default").checked,
      triggers: document
        .getElementById("flow-triggers")
        .value.split(",")
        .map(function (word) {
          return word.trim();
        })
        .filter(Boolean),
      fallback_area_id: fallback ? parseInt(fallback, 10) : null,
    };
  }

  function postJson(url, method, body) {
    return window
      .fetch(url, {
        method: method,
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrfToken,
        },
        body: JSON.stringify(body),
      })
      .then(function (response) {
        return response.json().then(
          function (json) {
            return { status: response.status, body: json };
          },
          function () {
            return { status: response.status, body: {} };
          }
        );
      });
  }

  function showErrors(message, fields) {
    errors = fields || {};
    root.querySelectorAll("[data-field-error]").forEach(function (line) {
      var text = errors[line.getAttribute("data-field-error")];
      line.textContent = text || "";
      line.hidden = !text;
      line.parentNode.classList.toggle("field-invalid", Boolean(text));
    });
    alertBox.textContent = "";
    if (message) {
      alertBox.appendChild(el("p", null, message));
      // What no node or field on the page shows goes in the alert itself.
      Object.keys(errors).forEach(function (key) {
        var shown = key.indexOf("nodes.") === 0 ? byId(key.slice(6)) : root.querySelector('[data-field-error="' + key + '"]');
        if (!shown) alertBox.appendChild(el("p", null, key + ": " + errors[key]));
      });
    }
    alertBox.hidden = !message;
    render();
  }

  function save() {
    var body = settings();
    body.definition = doc;
    body.version = version;
    var url = flowId ? config.apiUrl + "/" + flowId : config.apiUrl;
    statusLine.textContent = t.saving;
    postJson(url, flowId ? "PUT" : "POST", body).then(
      function (result) {
        if (result.status === 200 || result.status === 201) {
          if (!flowId) {
            window.location.assign(config.editUrl.replace("/0/", "/" + result.body.id + "/"));
            return;
          }
          version = result.body.version;
          showErrors(null, {});
          statusLine.textContent = t.saved;
          return;
        }
        statusLine.textContent = t.save_failed;
        showErrors(result.body.message || t.save_failed, result.body.fields || {});
      },
      function () {
        statusLine.textContent = t.save_failed;
        showErrors(t.network_error, errors);
      }
    );
  }

  root.querySelector("[data-flow-save]").addEventListener("click", save);

  // Try it ----------------------------------------------------------------------------------

  var thread = root.querySelector("[data-try-thread]");
  var tryForm = root.querySelector("[data-try-form]");
  var tryInput = tryForm.querySelector("input");
  var tryState = null;
  var warned = false; // the draft's problems are mentioned once per conversation

  function line(className, text) {
    var item = el("li", className, text);
    thread.appendChild(item);
    thread.scrollTop = thread.scrollHeight;
    return item;
  }

  function showEffect(effect) {
    var area = effect.area_name || (effect.area_id ? "#" + effect.area_id : t.no_area);
    if (effect.type === "redirect") {
      line("flow-try-system", format(t.redirected, { area: area })).setAttribute("data-effect", "redirect");
    } else if (effect.type === "handoff") {
      line("flow-try-system", format(t.handoff, { area: area })).setAttribute("data-effect", "handoff");
    } else {
      line("flow-try-system", t.closed).setAttribute("data-effect", "close");
    }
  }

  tryForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = tryInput.value;
    if (!text.trim()) return;
    tryInput.value = "";
    line("flow-try-bubble flow-try-customer", text);
    var s = settings();
    postJson(config.simulateUrl, "POST", {
      definition: doc,
      fallback_area_id: s.fallback_area_id,
      triggers: s.triggers,
      state: tryState,
      text: text,
    }).then(
      function (result) {
        if (result.status !== 200) {
          line("flow-try-system flow-try-error", result.body.message || t.network_error);
          return;
        }
        result.body.replies.forEach(function (reply) {
          line("flow-try-bubble flow-try-bot", reply);
        });
        result.body.effects.forEach(showEffect);
        tryState = result.body.state;
        if (!tryState && !result.body.effects.length) line("flow-try-system", t.idle);
        if (result.body.errors.length && !warned) {
          warned = true;
          line("flow-try-system flow-try-warning", t.draft_problems);
        }
      },
      function () {
        line("flow-try-system flow-try-error", t.network_error);
      }
    );
  });

  root.querySelector("[data-try-reset]").addEventListener("click", function () {
    tryState = null;
    warned = false;
    thread.textContent = "";
    tryInput.focus();
  });

  render();
})();
