/* The certificate page: a print button (the page prints without it, by Ctrl+P). ES5. */
(function () {
  "use strict";

  function ready() {
    var buttons = document.querySelectorAll(".js-print");
    var i;
    for (i = 0; i < buttons.length; i += 1) {
      buttons[i].removeAttribute("hidden");
      buttons[i].onclick = function () {
        window.print();
      };
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
}());
