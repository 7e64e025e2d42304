/*
 * vaxportal: the little JavaScript the pages use, on top of htmx 1.9.12.
 *
 * Strict ES5 for Internet Explorer 11 (checked by tools/ie11-gates.sh with es-check).
 * Every page works without it: it only sets htmx's options, adds the CSRF header to htmx
 * requests, guards against double submits, moves focus to [data-autofocus] fields, asks
 * [data-confirm] questions, shows the server's error messages for htmx requests, drops
 * a field check's answer that a newer value of the field has made stale and lets a field
 * follow the message its check brought.
 */
(function (window, document) {
  "use strict";

  var BUTTON_LOCK_MS = 5000;
  var LOCK_ATTR = "data-vx-locked";
  var SUBMIT_BUTTONS = 'button[type="submit"], button:not([type]), input[type="submit"], input[type="image"]';

  /* ---- htmx's options: here, cached with the script, not in a <meta> of every page ------ */

  // htmx reads them when the document is parsed; this deferred script runs before that.
  if (window.htmx) {
    window.htmx.config.includeIndicatorStyles = false; // an inline <style>: CSP refuses it
    window.htmx.config.historyCacheSize = 0; // pages with personal data stay out of storage
    window.htmx.config.getCacheBusterParam = true; // IE11 caches XHR GETs
  }

  /* ---- polyfills for IE11 ------------------------------------------------------------- */

  if (window.NodeList && !window.NodeList.prototype.forEach) {
    window.NodeList.prototype.forEach = function (callback, thisArg) {
      var i;
      for (i = 0; i < this.length; i += 1) {
        callback.call(thisArg, this[i], i, this);
      }
    };
  }

  if (window.Element && !window.Element.prototype.matches) {
    window.Element.prototype.matches =
      window.Element.prototype.msMatchesSelector ||
      window.Element.prototype.webkitMatchesSelector;
  }

  if (window.Element && !window.Element.prototype.closest) {
    window.Element.prototype.closest = function (selector) {
      var node = this;
      while (node && node.nodeType === 1) {
        if (node.matches(selector)) {
          return node;
        }
        node = node.parentNode;
      }
      return null;
    };
  }

  /* ---- helpers ------------------------------------------------------------------------ */

  function isElement(node) {
    return !!node && node.nodeType === 1;
  }

  function closestFrom(node, selector) {
    // Events can target text nodes (old browsers) or the document itself.
    while (node && node.nodeType !== 1) {
      node = node.parentNode;
    }
    return node ? node.closest(selector) : null;
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") || "" : "";
  }

  /* ---- (2) CSRF header on every htmx request ------------------------------------------- */

  document.addEventListener("htmx:configRequest", function (evt) {
    var token = csrfToken();
    if (token && evt.detail && evt.detail.headers) {
      evt.detail.headers["X-CSRFToken"] = token;
    }
  });

  // After a new sign-in (in another tab) the server refuses this page's old token once and
  // hands back the current one: keep it, so that sending the form again works.
  document.addEventListener("htmx:afterRequest", function (evt) {
    var xhr = evt.detail && evt.detail.xhr;
    var token = xhr ? xhr.getResponseHeader("X-CSRF-Refresh") : null;
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (token && meta) {
      meta.setAttribute("content", token);
    }
  });

  /* ---- (5) confirmations ----------------------------------------------------------------- */

  function confirmed(element) {
    var question = element.getAttribute("data-confirm");
    if (!question) {
      return true;
    }
    return window.confirm(question);
  }

  function cancel(evt) {
    evt.preventDefault();
    // Capture phase on the document: stopping here keeps htmx's own listeners from firing.
    evt.stopPropagation();
  }

  // A click on a [data-confirm] button (or the Enter key, which clicks the default button).
  document.addEventListener("click", function (evt) {
    var button = closestFrom(evt.target, "button[data-confirm], input[data-confirm]");
    if (button && !button.disabled && !confirmed(button)) {
      cancel(evt);
    }
  }, true);

  /* ---- (3) one submit at a time ---------------------------------------------------------- */

  function unlockButtons(root) {
    var scope = isElement(root) || root === document ? root : document;
    scope.querySelectorAll("[" + LOCK_ATTR + "]").forEach(function (button) {
      button.removeAttribute(LOCK_ATTR);
      button.disabled = false;
    });
  }

  function lockButtons(form) {
    form.querySelectorAll(SUBMIT_BUTTONS).forEach(function (button) {
      // Leave alone what the server or htmx (hx-disabled-elt) disabled: not ours to re-enable.
      if (!button.disabled) {
        button.setAttribute(LOCK_ATTR, "1");
        button.disabled = true;
      }
    });
    window.setTimeout(function () {
      unlockButtons(form);
    }, BUTTON_LOCK_MS);
  }

  document.addEventListener("submit", function (evt) {
    var form = closestFrom(evt.target, "form");
    if (!form) {
      return;
    }
    if (form.hasAttribute("data-confirm") && !confirmed(form)) {
      cancel(evt);
      return;
    }
    if (!form.matches(".form, [data-once]")) {
      return;
    }
    if (form.hasAttribute(LOCK_ATTR + "-busy")) {
      // A second submit while the first is still on its way (double click, double Enter).
      cancel(evt);
      return;
    }
    form.setAttribute(LOCK_ATTR + "-busy", "1");
    // Disable after this event has run: the browser (and htmx) first collect the form's
    // values, including the name/value of the button that submitted it.
    window.setTimeout(function () {
      lockButtons(form);
    }, 0);
    window.setTimeout(function () {
      form.removeAttribute(LOCK_ATTR + "-busy");
    }, BUTTON_LOCK_MS);
  }, true);

  function release(form) {
    form.removeAttribute(LOCK_ATTR + "-busy");
    unlockButtons(form);
  }

  // An htmx form gets its answer in place: it may be submitted again. Only the request of
  // the form itself (or of one of its submit buttons) counts, not a field's check-as-you-go.
  document.addEventListener("htmx:afterRequest", function (evt) {
    var elt = evt.detail && evt.detail.elt;
    var form = null;
    if (isElement(elt)) {
      if (elt.matches("form")) {
        form = elt;
      } else if (elt.matches(SUBMIT_BUTTONS)) {
        form = elt.form || elt.closest("form");
      }
    }
    if (form) {
      release(form);
    }
  });

  // Back/forward cache: a page shown again must not keep its buttons disabled.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("[" + LOCK_ATTR + "-busy]").forEach(release);
    unlockButtons(document);
  });

  /* ---- (4) autofocus ------------------------------------------------------------------------ */

  function focusIn(root) {
    var target;
    if (!isElement(root) && root !== document) {
      return;
    }
    if (isElement(root) && root.hasAttribute("data-autofocus")) {
      target = root;
    } else {
      target = root.querySelector("[data-autofocus]");
    }
    if (target && !target.disabled && typeof target.focus === "function") {
      try {
        target.focus();
      } catch (ignored) {
        // IE11 throws when focusing an element that is hidden.
      }
    }
  }

  function onReady() {
    focusIn(document);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", onReady);
  } else {
    onReady();
  }

  // New content from htmx: htmx:load for each element it adds, htmx:afterSwap for the target.
  document.addEventListener("htmx:load", function (evt) {
    var elt = evt.detail && evt.detail.elt;
    if (isElement(elt) && elt !== document.body) {
      focusIn(elt);
    }
  });

  document.addEventListener("htmx:afterSwap", function (evt) {
    var target = evt.detail && evt.detail.target;
    if (isElement(target) && document.documentElement.contains(target)) {
      focusIn(target);
    }
  });

  /* ---- (7) a field's check answers only the value it was sent ------------------------- */

  // A check-as-you-leave answer fills the field's message slot and, out of band, what
  // follows the value (the province's commune list, the national ID's existing record).
  // When the field was changed again while that answer was on its way (a slow line, a
  // select's type-ahead), the answer is stale: drop it, message and out-of-band parts alike,
  // so that it cannot show the older value's message or communes. The newer value's own
  // check is queued behind it (hx-sync) and answers instead.
  function sentValue(detail, name) {
    var parameters = detail.requestConfig && detail.requestConfig.parameters;
    if (!parameters || !Object.prototype.hasOwnProperty.call(parameters, name)) {
      return null;
    }
    return String(parameters[name]);
  }

  document.addEventListener("htmx:beforeSwap", function (evt) {
    var detail = evt.detail;
    // detail.elt is the swap's target; htmx keeps the requesting element in requestConfig.
    var elt = detail && detail.requestConfig && detail.requestConfig.elt;
    var sent;
    if (!isElement(elt) || !elt.name || !elt.matches("input, select, textarea") ||
        elt.type === "checkbox" || elt.type === "radio" || elt.multiple) {
      return;
    }
    sent = sentValue(detail, elt.name);
    if (sent !== null && sent !== elt.value) {
      detail.shouldSwap = false;
    }
  });

  /* ---- (8) a checked field follows its message -------------------------------------- */

  // The answer went into the field's message slot (templates/_macros.html, field_message),
  // never into the field: the field's error look and its input's aria-invalid follow the
  // message here. Without JavaScript the page is rendered whole, with both already right.
  document.addEventListener("htmx:afterSwap", function (evt) {
    var slot = evt.detail && evt.detail.target;
    var field;
    var input;
    if (!isElement(slot) || !slot.id || !slot.matches(".field-message")) {
      return;
    }
    field = slot.closest(".field");
    if (!field) {
      return;
    }
    input = field.querySelector('[aria-describedby~="' + slot.id + '"]');
    if (slot.querySelector(".field-error")) {
      field.classList.add("has-error");
      if (input) {
        input.setAttribute("aria-invalid", "true");
      }
    } else {
      field.classList.remove("has-error");
      if (input) {
        input.removeAttribute("aria-invalid");
      }
    }
  });

  /* ---- (6) error answers to htmx requests ------------------------------------------------ */

  // htmx 1.x does not swap 4xx/5xx answers. The server sends its error messages (and the
  // expired-session notice) with HX-Retarget to the flash region: let those in, so the
  // user reads why, while the form they were filling in stays as it was.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var detail = evt.detail;
    var xhr = detail && detail.xhr;
    if (xhr && xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget")) {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });

  // No answer at all (the line dropped) or one without a message: say so in the flash region.
  function showProblem(evt) {
    var region = document.getElementById("flashes");
    var xhr = evt.detail && evt.detail.xhr;
    var text;
    var line;
    if (!region || (xhr && xhr.getResponseHeader("HX-Retarget"))) {
      return;
    }
    text = region.getAttribute(xhr && xhr.status ? "data-error-text" : "data-offline-text");
    if (text) {
      line = document.createElement("p");
      line.className = "flash flash-error";
      line.setAttribute("role", "alert");
      line.appendChild(document.createTextNode(text));
      region.innerHTML = "";
      region.appendChild(line);
    }
  }

  document.addEventListener("htmx:responseError", showProblem);
  document.addEventListener("htmx:sendError", showProblem);
}(window, document));
