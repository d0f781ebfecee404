// The filing form's helpers: repeated groups, document uploads that fill in their reference,
// amounts shown in yuan as they are typed in 万元, the expert JSON view, and signing in the
// browser with the unit's own Ed25519 key (WebCrypto), where the browser can.
// The form works without this file: references can be pasted and the server checks all.
(function () {
  "use strict";
  var form = document.querySelector("form[data-filing]");
  if (!form) { return; }
  var zh = (document.documentElement.lang || "").indexOf("zh") === 0;
  function say(zhText, enText) { return zh ? zhText : enText; }
  var csrfBox = form.querySelector("[data-upload-csrf]");
  var csrf = csrfBox ? csrfBox.getAttribute("data-upload-csrf") : "";
  var pending = 0;

  // --- repeated groups -----------------------------------------------------------------------
  function wire(root) {
    root.querySelectorAll("[data-remove]").forEach(function (button) {
      if (button.dataset.wired) { return; }
      button.dataset.wired = "1";
      button.addEventListener("click", function () {
        var item = button.closest("[data-item]");
        if (item) { item.remove(); }
      });
    });
    root.querySelectorAll("[data-doc-file]").forEach(wireDocument);
    root.querySelectorAll("[data-money]").forEach(wireMoney);
  }
  form.querySelectorAll("[data-repeat]").forEach(function (group) {
    var add = group.querySelector(":scope > [data-add]");
    var template = group.querySelector(":scope > template[data-template]");
    var items = group.querySelector(":scope > [data-items]");
    if (!add || !template || !items) { return; }
    add.addEventListener("click", function () {
      var next = parseInt(group.getAttribute("data-next") || "0", 10);
      group.setAttribute("data-next", String(next + 1));
      var html = template.innerHTML.split("__i__").join(String(next));
      var holder = document.createElement("div");
      holder.innerHTML = html.trim();
      var item = holder.firstElementChild;
      items.appendChild(item);
      wire(item);
      var first = item.querySelector("input, select, textarea");
      if (first) { first.focus(); }
    });
  });

  // --- documents: upload, then fill in the SHA-256 -----------------------------------------
  var TYPES = {pdf: "application/pdf", ofd: "application/ofd", png: "image/png",
    jpg: "image/jpeg", jpeg: "image/jpeg", zip: "application/zip", txt: "text/plain",
    json: "application/json", doc: "application/msword", xls: "application/vnd.ms-excel",
    docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"};
  function mediaType(file) {
    var ext = (file.name.split(".").pop() || "").toLowerCase();
    return TYPES[ext] || file.type || "application/octet-stream";
  }
  function size(bytes) {
    return bytes < 1024 ? bytes + " B" : (bytes / 1024).toFixed(1) + " KB";
  }
  function wireDocument(input) {
    if (input.dataset.wired) { return; }
    input.dataset.wired = "1";
    var box = input.closest("[data-doc]");
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (file) { upload(box, file); }
    });
  }
  function upload(box, file) {
    var ref = box.querySelector("[data-doc-ref]");
    var status = box.querySelector("[data-doc-status]");
    pending += 1;
    (function attempt() {
      status.textContent = say("正在上传…", "Uploading…");
      status.className = "doc-status small";
      fetch("/documents", {
        method: "POST", body: file, credentials: "same-origin",
        headers: {"Content-Type": mediaType(file), "X-CSRF-Token": csrf}
      }).then(function (response) {
        if (response.status === 429) {  // over the uploads a minute: wait as told, then again
          var wait = parseInt(response.headers.get("Retry-After"), 10) || 5;
          status.textContent = say("上传较多，" + wait + " 秒后自动重试…",
                                   "Many uploads: retrying in " + wait + " s…");
          setTimeout(attempt, wait * 1000);
          return null;
        }
        return response.json().then(function (body) { return [response.ok, body]; });
      }).then(function (result) {
        if (result === null) { return; }  // still pending: retried later
        if (result[0]) {
          ref.value = result[1].sha256;
          ref.removeAttribute("aria-invalid");
          status.textContent = say("已上传：", "Uploaded: ") + file.name + "（" +
            size(result[1].size) + "，" + result[1].media_type + "）";
          status.className = "doc-status small ok";
        } else {
          ref.value = "";
          status.textContent = (result[1].errors || []).map(function (e) {
            return e.message;
          }).join("；") || say("上传失败", "Upload failed");
          status.className = "doc-status small bad";
        }
        pending -= 1;
      }).catch(function () {
        status.textContent = say("上传失败，请重试", "Upload failed; retry");
        status.className = "doc-status small bad";
        pending -= 1;
      });
    }());
  }
  // Several files at once for a list of documents: one item each, filled in as they upload.
  form.querySelectorAll("[data-doc-many]").forEach(function (input) {
    var group = input.closest("[data-repeat]");
    input.addEventListener("change", function () {
      Array.prototype.forEach.call(input.files || [], function (file) {
        var empty = Array.prototype.filter.call(
          group.querySelectorAll(":scope > [data-items] > [data-item]"), function (item) {
            var ref = item.querySelector("[data-doc-ref]");
            return ref && !ref.value && !item.dataset.taken;
          })[0];
        if (!empty) {
          group.querySelector(":scope > [data-add]").click();
          var items = group.querySelectorAll(":scope > [data-items] > [data-item]");
          empty = items[items.length - 1];
        }
        empty.dataset.taken = "1";
        upload(empty.querySelector("[data-doc]"), file);
      });
      input.value = "";
    });
  });

  // --- amounts: 万元 typed, 元 shown, exact (BigInt, never a float) --------------------------
  function fenOf(text) {
    var m = /^(\d{1,12})(?:\.(\d{1,6}))?$/.exec(text.replace(/[,，\s]/g, ""));
    if (!m) { return null; }
    return BigInt(m[1]) * 1000000n + BigInt((m[2] || "").padEnd(6, "0") || "0");
  }
  function yuan(fen) {
    var whole = (fen / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return whole + "." + (fen % 100n).toString().padStart(2, "0");
  }
  function wireMoney(input) {
    if (input.dataset.wired) { return; }
    input.dataset.wired = "1";
    var out = input.closest(".field").querySelector("[data-money-yuan]");
    function show() {
      if (!out) { return; }
      if (!input.value.trim()) { out.textContent = ""; return; }
      var fen = fenOf(input.value);
      out.textContent = fen === null ? say("格式不正确：以万元为单位，最多 6 位小数",
        "Not an amount in 万元 (up to 6 decimals)") : "= " + yuan(fen) + say(" 元", " yuan");
    }
    input.addEventListener("input", show);
    show();
  }
  wire(form);

  // --- the expert JSON view -----------------------------------------------------------------
  function preview(extra) {
    var data = new URLSearchParams(new FormData(form));
    data.delete("mode");
    data.append("mode", "form");
    Object.keys(extra || {}).forEach(function (k) { data.set(k, extra[k]); });
    return fetch(form.getAttribute("data-preview"), {
      method: "POST", body: data, credentials: "same-origin",
      headers: {"Content-Type": "application/x-www-form-urlencoded"}
    }).then(function (response) { return response.json(); });
  }
  var view = form.querySelector("[data-json-view]");
  var useJson = form.querySelector("#use-json");
  var textarea = form.querySelector("#payload");
  if (view && textarea) {
    view.addEventListener("toggle", function () {
      if (!view.open || (useJson && useJson.checked)) { return; }
      preview().then(function (body) {
        textarea.value = JSON.stringify(body.payload, null, 2);
        textarea.dataset.filled = "1";
      });
    });
  }

  // --- signing in the browser ---------------------------------------------------------------
  var client = form.querySelector("[data-sign-client]");
  var signing = form.querySelector("[data-signing]");
  var keyFile = form.querySelector("[data-key-file]");
  var signStatus = form.querySelector("[data-sign-status]");
  var PKCS8 = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04,
    0x22, 0x04, 0x20];
  function pkcs8(seed) {
    var out = new Uint8Array(PKCS8.length + seed.length);
    out.set(PKCS8, 0);
    out.set(seed, PKCS8.length);
    return out;
  }
  function importSeed(seed) {
    return crypto.subtle.importKey("pkcs8", pkcs8(seed), {name: "Ed25519"}, false, ["sign"]);
  }
  function fromB64(text) {
    return Uint8Array.from(atob(text), function (c) { return c.charCodeAt(0); });
  }
  function toB64(bytes) {
    var text = "";
    new Uint8Array(bytes).forEach(function (b) { text += String.fromCharCode(b); });
    return btoa(text);
  }
  var canSign = Promise.resolve(false);
  if (client) {
    var gm = signing && signing.getAttribute("data-profile") === "gm";
    canSign = (gm || !window.crypto || !crypto.subtle) ? Promise.resolve(false)
      : importSeed(new Uint8Array(32)).then(function () { return true; },
                                            function () { return false; });
    canSign.then(function (ok) {
      form.setAttribute("data-webcrypto", ok ? "ed25519" : "none");
      if (ok) { return; }
      form.querySelector("[data-no-webcrypto]").hidden = false;
      client.disabled = true;
      var server = form.querySelector("#sign-server");
      if (server) { server.checked = true; }
    });
  }
  function readKey() {
    return new Promise(function (resolve, reject) {
      var file = keyFile && keyFile.files && keyFile.files[0];
      if (!file) { reject(new Error(say("请选择密钥文件", "Choose the key file"))); return; }
      file.text().then(function (text) {
        var data = JSON.parse(text);
        if (data.suite !== "ed25519") { throw new Error("suite " + data.suite); }
        resolve({id: data.key_id, seed: fromB64(data.private_key)});
      }).catch(reject);
    });
  }
  form.addEventListener("submit", function (event) {
    if (pending > 0) {
      event.preventDefault();
      window.alert(say("文件仍在上传，请稍候再提交。", "A document is still uploading."));
      return;
    }
    if (!client || !client.checked || form.dataset.signed) { return; }
    event.preventDefault();
    var keySelect = form.querySelector("[data-key-id]");
    signStatus.textContent = say("正在签名…", "Signing…");
    readKey().then(function (key) {
      if (key.id && keySelect) { keySelect.value = key.id; }
      return Promise.all([importSeed(key.seed), preview({key: keySelect.value})]);
    }).then(function (both) {
      var body = both[1];
      if (!body.signing_text) {
        // Problems in the form: let the server show them beside their fields.
        form.dataset.signed = "1";
        form.submit();
        return null;
      }
      form.querySelector("[data-stream]").value = body.stream;
      form.querySelector("#effective").value = body.effective;
      form.querySelector("[name=nonce]").value = body.nonce;
      return crypto.subtle.sign({name: "Ed25519"}, both[0],
                                new TextEncoder().encode(body.signing_text));
    }).then(function (signature) {
      if (signature === null) { return; }
      form.querySelector("[data-signature]").value = toB64(signature);
      form.dataset.signed = "1";
      signStatus.textContent = say("已签名，正在提交…", "Signed; filing…");
      form.submit();
    }).catch(function (error) {
      signStatus.textContent = say("签名失败：", "Signing failed: ") + error.message;
    });
  });
}());
