// Item pages: the posting job's progress bar. While the job is not done, ask its JSON endpoint
// (data-poll-url) every 2 s and update the bar, the chunks and entries counts and the last error;
// stop once it is done (or after repeated failures to reach the endpoint). The labels come in the
// page's language.
(function () {
  "use strict";
  var INTERVAL_MS = 2000;
  var MAX_FAILURES = 5;
  var BAR_CLASSES = {
    pending: "progress-bar progress-bar-striped bg-secondary",
    running: "progress-bar progress-bar-striped progress-bar-animated",
    failed: "progress-bar bg-danger",
    done: "progress-bar bg-success",
  };

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (match, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match;
    });
  }

  function part(box, name) {
    return box.querySelector("[data-job-" + name + "]");
  }

  function show(box, job) {
    var progress = Math.max(0, Math.min(100, Number(job.progress) || 0));
    box.setAttribute("data-state", job.state);
    part(box, "state").textContent = job.state_label;
    part(box, "progress").textContent = String(progress);
    part(box, "progressbar").setAttribute("aria-valuenow", String(progress));
    var bar = part(box, "bar");
    bar.className = BAR_CLASSES[job.state] || BAR_CLASSES.running;
    bar.style.width = progress + "%";
    part(box, "chunks").textContent = format(box.getAttribute("data-text-chunks"), {
      done: job.chunks_done,
      total: job.chunks_total,
    });
    part(box, "entries").textContent = format(box.getAttribute("data-text-entries"), { n: job.entries_posted });
    var error = part(box, "error");
    part(box, "error-text").textContent = job.error || "";
    error.hidden = !job.error;
    var doneNote = part(box, "done-note");
    if (doneNote) {
      doneNote.hidden = !job.done;
    }
  }

  function watch(box) {
    var url = box.getAttribute("data-poll-url");
    // The API negotiates its language from Accept-Language: ask for the page's own.
    var headers = { Accept: "application/json", "Accept-Language": document.documentElement.lang || "zh-hans" };
    var failures = 0;

    function next() {
      window.setTimeout(poll, INTERVAL_MS);
    }

    function poll() {
      fetch(url, { credentials: "same-origin", headers: headers })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (job) {
          failures = 0;
          show(box, job);
          if (!job.done) {
            next();
          }
        })
        .catch(function () {
          failures += 1;
          if (failures < MAX_FAILURES) {
            next();
          }
        });
    }

    if (url && box.getAttribute("data-state") !== "done") {
      next();
    }
  }

  document.querySelectorAll("[data-posting-job]").forEach(watch);
})();
