// OpenData portal: small improvements on top of pages that work without JavaScript.
"use strict";
(function () {
  // Copy buttons: shown only when the clipboard can be used.
  if (navigator.clipboard && window.isSecureContext) {
    document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(source.textContent).then(function () {
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = "Copy"; }, 1500);
        }, function () { button.textContent = "Select and copy"; });
      });
    });
  }
  // "/" focuses the search box (the page's own, else the header's), unless typing somewhere.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    var box = document.getElementById("q") || document.getElementById("site-q");
    if (!box) return;
    event.preventDefault();
    box.focus();
    box.select();
  });
  // Sort: apply on change (the Search button still works without this).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { if (select.form) select.form.submit(); });
  });
  // Filter as you type: narrow a long list of facet values.
  document.querySelectorAll("ul.facet-values[data-facet]").forEach(function (list) {
    var items = list.querySelectorAll("li");
    if (items.length < 6) return;
    var input = document.createElement("input");
    input.type = "search";
    input.className = "facet-filter";
    var heading = list.parentElement.querySelector("h3");
    input.setAttribute("aria-label", "Filter " + (heading ? heading.textContent : "values"));
    input.placeholder = "Filter…";
    list.parentElement.insertBefore(input, list);
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      items.forEach(function (item) {
        item.hidden = needle !== "" && item.textContent.toLowerCase().indexOf(needle) === -1;
      });
    });
  });
  // The preview: pages of 25 rows, and a sort by any column (numbers as numbers, nulls last).
  var table = document.getElementById("preview-table");
  if (table && table.tBodies.length) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.querySelectorAll("tr[data-part]"));
    var gap = body.querySelector("tr.gap");
    var size = 25, page = 0, order = rows, sorted = false;
    var pager = document.createElement("nav");
    pager.className = "preview-pager";
    pager.setAttribute("aria-label", "Preview pages");
    var prev = document.createElement("button");
    prev.type = "button"; prev.textContent = "← Previous rows";
    var status = document.createElement("span");
    status.setAttribute("aria-live", "polite");
    var next = document.createElement("button");
    next.type = "button"; next.textContent = "Next rows →";
    pager.appendChild(prev); pager.appendChild(status); pager.appendChild(next);
    var pages = function () { return Math.max(1, Math.ceil(order.length / size)); };
    var show = function () {
      order.forEach(function (row, i) { row.hidden = Math.floor(i / size) !== page; });
      if (gap) {
        var after = order.indexOf(body.querySelector("tr.gap + tr"));
        gap.hidden = sorted || after < 0 || Math.floor(after / size) !== page;
      }
      var first = page * size + 1, last = Math.min(order.length, (page + 1) * size);
      status.textContent = "Rows " + first + "–" + last + " of " + order.length + " shown here";
      prev.disabled = page === 0;
      next.disabled = page >= pages() - 1;
    };
    prev.addEventListener("click", function () { if (page > 0) { page -= 1; show(); } });
    next.addEventListener("click", function () { if (page < pages() - 1) { page += 1; show(); } });
    if (rows.length > size) {
      table.parentElement.parentElement.insertBefore(pager, table.parentElement.nextSibling);
    }
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, index) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = th.textContent;
      button.setAttribute("aria-label", "Sort by " + th.textContent);
      th.textContent = "";
      th.appendChild(button);
      th.setAttribute("aria-sort", "none");
      var numeric = th.getAttribute("data-type") === "number";
      button.addEventListener("click", function () {
        var up = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (other) { other.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", up ? "ascending" : "descending");
        var key = function (row) { return row.cells[index].getAttribute("data-sort"); };
        order = rows.slice().sort(function (a, b) {
          var x = key(a), y = key(b);
          if (x === "" || y === "") return (x === "") - (y === "");  // nulls last, both ways
          var c = numeric ? parseFloat(x) - parseFloat(y) : x < y ? -1 : x > y ? 1 : 0;
          return up ? c : -c;
        });
        order.forEach(function (row) { body.appendChild(row); });
        sorted = true;
        page = 0;
        show();
      });
    });
    show();
  }
})();
