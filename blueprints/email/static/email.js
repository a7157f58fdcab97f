// Email pages: campaign progress polling (no inline scripts).
(function () {
  "use strict";

  function campaignProgress() {
    var root = document.getElementById("campaign");
    if (!root) return;
    var live = ["scheduled", "preparing", "sending"];
    if (live.indexOf(root.dataset.status) < 0) return;
    function poll() {
      fetch(root.dataset.url, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (d) {
          document.getElementById("campaign-status").textContent = d.status;
          var done = 0;
          Object.keys(d.counts).forEach(function (k) {
            var el = root.querySelector("[data-count='" + k + "']");
            if (el) el.textContent = d.counts[k];
            if (k !== "queued" && k !== "sending") done += d.counts[k];
          });
          var bar = document.getElementById("campaign-progress");
          bar.max = d.recipientsTotal || 1;
          bar.value = done;
          if (live.indexOf(d.status) >= 0) setTimeout(poll, 2000);
          else window.location.reload();
        });
    }
    setTimeout(poll, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    campaignProgress();
  });
})();
