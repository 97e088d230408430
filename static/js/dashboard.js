/* The dashboard's charts (Chart.js 4, vendored): each <canvas data-chart-source="ID"> is drawn from the
 * JSON in <script id="ID" type="application/json"> (Django's json_script), which holds the same numbers
 * as the table beside it. No inline script: the page works under a strict Content-Security-Policy.
 * Chart.getChart(canvasId).data gives a chart's labels and datasets back (the browser tests read it).
 */
(function () {
  "use strict";

  var PALETTE = ["#00706b", "#f0ad4e", "#5b8def", "#d9534f", "#6f42c1", "#20c997", "#6c757d", "#fd7e14"];

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chartSource);
    if (!source || typeof Chart === "undefined") {
      return;
    }
    var spec = JSON.parse(source.textContent);
    var horizontal = Boolean(spec.horizontal);
    var datasets = spec.datasets.map(function (dataset, index) {
      return {
        label: dataset.label,
        key: dataset.key,
        // Yuan arrive as exact decimal strings; a chart needs numbers only to draw them.
        data: dataset.data.map(function (value) { return value === null ? null : Number(value); }),
        backgroundColor: PALETTE[index % PALETTE.length],
        borderColor: PALETTE[index % PALETTE.length],
        borderWidth: 1
      };
    });
    var valueAxis = { stacked: Boolean(spec.stacked), beginAtZero: true, ticks: { precision: 0 } };
    var labelAxis = { stacked: Boolean(spec.stacked) };
    new Chart(canvas, {
      type: spec.type || "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        animation: false,
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
        scales: horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis }
      }
    });
  }

  function init() {
    document.querySelectorAll("canvas[data-chart-source]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
