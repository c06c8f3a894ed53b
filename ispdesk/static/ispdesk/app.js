// ispdesk page behaviour that works without a framework: the phone menu, copy buttons and
// confirmations. Every page still works without JavaScript.
(function () {
  "use strict";

  function setupNavToggle() {
    var toggle = document.querySelector(".nav-toggle");
    var panel = document.getElementById("site-nav");
    if (!toggle || !panel) return;
    toggle.addEventListener("click", function () {
      var open = panel.classList.toggle("is-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  function copyText(input) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(input.value);
    }
    // Plain http outside localhost has no clipboard API; selecting and copying still works.
    input.focus();
    input.select();
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    return copied ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function setupCopyButtons() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-copy]");
      if (!button) return;
      var input = document.querySelector(button.getAttribute("data-copy"));
      if (!input) return;
      var label = button.textContent;
      copyText(input).then(
        function () {
          button.textContent = button.getAttribute("data-copied-label") || label;
          window.setTimeout(function () {
            button.textContent = label;
          }, 2000);
        },
        function () {
          input.focus();
          input.select();
        }
      );
    });
  }

  function setupConfirmations() {
    document.addEventListener("submit", function (event) {
      var form = event.target.closest("form[data-confirm]");
      if (form && !window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  }

  // A fragment request answered by the login page means the session ended: reload, so the
  // person lands on the login page instead of seeing it inside a fragment.
  function setupSessionEndGuard() {
    var loginUrl = document.body.getAttribute("data-login-url");
    var reloading = false;
    if (!loginUrl) return;
    document.body.addEventListener("htmx:beforeSwap", function (event) {
      var url = event.detail.xhr && event.detail.xhr.responseURL;
      if (url && new URL(url).pathname === loginUrl) {
        event.detail.shouldSwap = false;
        if (!reloading) {
          reloading = true; // several fragments may find out at once
          window.location.reload();
        }
      }
    });
  }

  setupNavToggle();
  setupSessionEndGuard();
  setupCopyButtons();
  setupConfirmations();
})();
