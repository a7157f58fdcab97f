// The dashboard's charts, drawn by Chart.js from the same figures as the numbers beside them.
(function () {
  "use strict";
  const holder = document.getElementById("dashboard-data");
  if (!holder || typeof Chart === "undefined") return;
  const figures = JSON.parse(holder.dataset.figures);
  const revenue = figures.revenueByWeek || [];
  new Chart(document.getElementById("revenue-chart"), {
    type: "bar",
    data: {
      labels: revenue.map((w) => w.week),
      datasets: [{ label: "Revenue attributed", data: revenue.map((w) => Number(w.revenue)) }],
    },
    options: { animation: false },
  });
  const weeks = ((figures.channels || {}).email || {}).byWeek || [];
  new Chart(document.getElementById("rates-chart"), {
    type: "line",
    data: {
      labels: weeks.map((w) => w.week),
      datasets: [
        { label: "Human open rate %", data: weeks.map((w) => w.humanOpenRate * 100) },
        { label: "Human click rate %", data: weeks.map((w) => w.humanClickRate * 100) },
      ],
    },
    options: { animation: false },
  });
  window.decantCharts = Chart.instances;
  holder.dataset.drawn = "1";
})();
