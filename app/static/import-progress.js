// The import page's progress bar: while the import is queued or running, poll its JSON
// status and update the bar, the row count and the status; reload once it has finished
// so the report shows.
(function () {
  "use strict";
  var section = document.getElementById("import-status");
  if (!section) return;
  var active = function (status) { return status === "queued" || status === "running"; };
  if (!active(section.dataset.status)) return;
  var bar = section.querySelector("[data-testid=import-progress]");
  var percent = section.querySelector("[data-testid=import-percent]");
  var rows = section.querySelector("[data-testid=import-rows]");
  var status = section.querySelector("[data-testid=import-status]");
  function poll() {
    fetch(section.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        bar.value = data.progress;
        percent.textContent = data.progress + "%";
        rows.textContent = data.rowsDone + (data.rowsTotal === null ? "" : " / " + data.rowsTotal) + " rows";
        status.textContent = data.status;
        if (active(data.status)) {
          window.setTimeout(poll, 1000);
        } else {
          window.setTimeout(function () { window.location.reload(); }, 600);
        }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
