// A campaign's unique opens and clicks over time, drawn with Chart.js from the data the
// live part of the page carries; redrawn each time htmx replaces that part.
(function () {
  "use strict";
  var chart = null;

  function series(holder, name) {
    return JSON.parse(holder.getAttribute("data-" + name) || "[]");
  }

  function draw() {
    var canvas = document.getElementById("campaign-chart");
    var holder = document.getElementById("campaign-chart-data");
    if (!canvas || !holder || typeof Chart === "undefined") return;
    var labels = series(holder, "labels").map(function (iso) {
      return new Date(iso).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    });
    var opens = series(holder, "opens");
    var clicks = series(holder, "clicks");
    if (chart) {
      chart.data.labels = labels;
      chart.data.datasets[0].data = opens;
      chart.data.datasets[1].data = clicks;
      chart.update("none");
    } else {
      chart = new Chart(canvas, {
        type: "line",
        data: {
          labels: labels,
          datasets: [
            { label: "Unique opens", data: opens, borderColor: "#7b1e3a", backgroundColor: "#7b1e3a", tension: 0.2 },
            { label: "Unique clicks", data: clicks, borderColor: "#2a7ab0", backgroundColor: "#2a7ab0", tension: 0.2 }
          ]
        },
        options: {
          animation: false,
          maintainAspectRatio: false,
          scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }
        }
      });
    }
    canvas.setAttribute("data-opens", opens.length ? opens[opens.length - 1] : 0);
    canvas.setAttribute("data-clicks", clicks.length ? clicks[clicks.length - 1] : 0);
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.body.addEventListener("htmx:afterSwap", draw);
})();
