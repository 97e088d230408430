// Queue pages: a header checkbox selects or clears every row checkbox of its table on this page.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input[data-select-all]")) {
      return;
    }
    var table = box.closest("table");
    if (!table) {
      return;
    }
    var name = box.getAttribute("data-select-all");
    table.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (row) {
      row.checked = box.checked;
    });
  });
})();
