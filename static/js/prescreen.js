// Eligibility lists page: the pre-screen run's progress. While the run is queued or running, ask its
// JSON endpoint (data-poll-url) every 1.5 s and update the bar and the districts count; once it has
// finished, reload the page, which then shows the result per district. No inline script (CSP).
(function () {
  "use strict";
  var INTERVAL_MS = 1500;
  var MAX_FAILURES = 5;

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (match, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match;
    });
  }

  function watch(box) {
    var url = box.getAttribute("data-poll-url");
    var failures = 0;

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (run) {
          failures = 0;
          box.querySelector("[data-run-state]").textContent = run.state_label;
          box.querySelector("[data-run-progress]").textContent = format(box.getAttribute("data-text-progress"), {
            done: run.districts_done,
            total: run.districts_total,
          });
          box.querySelector("[data-run-bar]").value = run.percent;
          if (run.active) {
            window.setTimeout(poll, INTERVAL_MS);
          } else {
            window.location.reload();
          }
        })
        .catch(function () {
          failures += 1;
          if (failures < MAX_FAILURES) {
            window.setTimeout(poll, INTERVAL_MS * failures);
          }
        });
    }

    window.setTimeout(poll, INTERVAL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-prescreen-run][data-active='true']").forEach(watch);
  });
})();
