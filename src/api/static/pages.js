// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
  // The event-type chooser goes to the chosen form at once (its button stays for no-JS use).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  // Document upload for a filing: the body is the file; the answer is its SHA-256.
  document.querySelectorAll("[data-upload]").forEach(function (box) {
    var input = box.querySelector("input[type=file]");
    var button = box.querySelector("[data-upload-button]");
    var output = box.querySelector("output");
    button.addEventListener("click", function () {
      var file = input.files && input.files[0];
      if (!file) { input.focus(); return; }
      output.textContent = "…";
      fetch("/documents", {
        method: "POST", body: file, credentials: "same-origin",
        headers: { "Content-Type": file.type || "application/octet-stream",
                   "X-CSRF-Token": box.getAttribute("data-csrf") }
      }).then(function (response) {
        return response.json().then(function (body) { return [response.ok, body]; });
      }).then(function (result) {
        if (result[0]) {
          output.textContent = "SHA-256: " + result[1].sha256;
        } else {
          output.textContent = (result[1].errors || []).map(function (e) {
            return e.field + ": " + e.message;
          }).join("; ") || "error";
        }
      }).catch(function (error) { output.textContent = String(error); });
    });
  });
}());
