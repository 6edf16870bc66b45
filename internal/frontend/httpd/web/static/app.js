// Ferry web client: upload with a progress bar and drag and drop. The
// pages work without it; this only improves the upload form.
(function () {
  "use strict";
  var form = document.getElementById("upload");
  if (!form || !window.FormData || !window.XMLHttpRequest) { return; }
  var input = document.getElementById("file");
  var bar = document.getElementById("progress");
  var status = document.getElementById("upload-status");
  var drop = document.getElementById("drop");

  function say(text) { status.textContent = text; }

  function send() {
    if (!input.files.length) { say("Choose one or more files first."); return; }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.setRequestHeader("Accept", "application/json");
    bar.hidden = false;
    bar.value = 0;
    say("Uploading…");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { bar.value = Math.round(e.loaded * 100 / e.total); }
    };
    xhr.onload = function () {
      var reply = {};
      try { reply = JSON.parse(xhr.responseText); } catch (err) { reply = {}; }
      if (xhr.status >= 200 && xhr.status < 300) {
        bar.value = 100;
        say("Upload complete.");
        window.location.assign(window.location.pathname + "?ok=uploaded");
      } else {
        say((reply.error && reply.error.message) || ("Upload failed (HTTP " + xhr.status + ")."));
      }
    };
    xhr.onerror = function () { say("Upload failed: the connection was lost."); };
    xhr.send(new FormData(form));
  }

  form.addEventListener("submit", function (e) { e.preventDefault(); send(); });

  if (drop && "draggable" in drop) {
    drop.hidden = false;
    ["dragenter", "dragover"].forEach(function (t) {
      form.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (t) {
      form.addEventListener(t, function (e) { e.preventDefault(); drop.classList.remove("over"); });
    });
    form.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        send();
      }
    });
  }
})();
