// Email pages: live template preview (no inline scripts).
(function () {
  "use strict";

  function templatePreview() {
    var form = document.getElementById("template-form");
    if (!form) return;
    var picker = document.getElementById("preview-customer");
    var timer = null;
    function value(name) {
      var el = form.querySelector("[name=" + name + "]");
      return el ? el.value : "";
    }
    function run() {
      if (!picker || !picker.value) return;
      var fixed = document.getElementById("fixed-type");
      var type = fixed ? fixed.value : value("type");
      var body = { customerId: picker.value, type: type };
      if (type === "email") { body.subject = value("subject"); body.html = value("html"); }
      else { body.body = value("body"); }
      // Nothing written yet (a new template): nothing to preview, and no error to show.
      if (!(body.subject || body.html || body.body)) {
        document.getElementById("preview-error").textContent = "";
        return;
      }
      fetch(form.dataset.previewUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": form.dataset.csrf },
        body: JSON.stringify(body)
      }).then(function (r) { return r.json().then(function (d) { return [r.ok, d]; }); })
        .then(function (res) {
          var err = document.getElementById("preview-error");
          if (!res[0]) {
            var fields = (res[1].error && res[1].error.fields) || {};
            err.textContent = Object.keys(fields).map(function (k) { return k + ": " + fields[k]; }).join("; ")
              || (res[1].error && res[1].error.message) || "preview failed";
            return;
          }
          err.textContent = "";
          document.getElementById("preview-subject").textContent = res[1].subject || "";
          document.getElementById("preview-frame").srcdoc = res[1].html || "";
          document.getElementById("preview-text").textContent = res[1].text || res[1].body || "";
        });
    }
    function later() { clearTimeout(timer); timer = setTimeout(run, 300); }
    form.addEventListener("input", later);
    if (picker) picker.addEventListener("change", run);
    run();
  }

  document.addEventListener("DOMContentLoaded", function () {
    templatePreview();
  });
})();
