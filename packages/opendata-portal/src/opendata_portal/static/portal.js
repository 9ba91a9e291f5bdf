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
})();
