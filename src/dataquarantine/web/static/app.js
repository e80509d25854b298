/* DataQuarantine web UI: JSON validation and formatting for the payload editor.
 * No inline scripts anywhere (the pages send a strict Content-Security-Policy). */
(function () {
  "use strict";

  function check(area) {
    var message = "";
    try {
      JSON.parse(area.value);
    } catch (err) {
      message = err.message;
    }
    area.classList.toggle("invalid", message !== "");
    area.setAttribute("aria-invalid", message !== "" ? "true" : "false");
    var out = document.getElementById(area.dataset.errorTarget || "");
    if (out) out.textContent = message ? "Not valid JSON: " + message : "";
    if (area.form) {
      area.form.querySelectorAll("button[data-needs-valid-json]").forEach(function (b) {
        b.disabled = message !== "";
      });
    }
    return message === "";
  }

  document.addEventListener("input", function (ev) {
    if (ev.target.matches && ev.target.matches("textarea[data-json-editor]")) check(ev.target);
  });

  document.addEventListener("click", function (ev) {
    var button = ev.target.closest && ev.target.closest("[data-format-json]");
    if (!button) return;
    ev.preventDefault();
    var area = document.getElementById(button.dataset.formatJson);
    if (area && check(area)) area.value = JSON.stringify(JSON.parse(area.value), null, 2);
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-json-editor]").forEach(check);
  });
})();
