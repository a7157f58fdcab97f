/* Page behaviours every page shares (served from the app: the CSP allows no inline script).
   - form[data-confirm]: a destructive action asks first; the text names what is lost.
   - input[data-select-all=NAME]: ticks every checkbox named NAME on the page; a live count
     of the selection goes into [data-selection-count]. */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var text = (submitter && submitter.getAttribute("data-confirm")) ||
      (form && form.getAttribute && form.getAttribute("data-confirm"));
    if (text && !window.confirm(text)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  function boxes(name) {
    return Array.prototype.slice.call(
      document.querySelectorAll('input[type=checkbox][name="' + name + '"]'));
  }
  function showCount(name) {
    var count = boxes(name).filter(function (b) { return b.checked; }).length;
    document.querySelectorAll("[data-selection-count]").forEach(function (el) {
      el.textContent = count ? count + " selected" : "";
    });
  }
  // A table wider than the screen scrolls inside its box: keyboard users must reach it
  // (focusable, named region), so arrow keys scroll it (axe: scrollable-region-focusable).
  function scrollableTables() {
    document.querySelectorAll(".table-responsive").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        if (!box.hasAttribute("aria-label")) {
          var heading = box.previousElementSibling;
          var name = heading && /^H[1-6]$/.test(heading.tagName) ? heading.textContent.trim() : "";
          box.setAttribute("aria-label", (name || "Table") + " (scrolls sideways)");
        }
      } else if (box.getAttribute("role") === "region") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
      }
    });
  }
  scrollableTables();
  window.addEventListener("resize", scrollableTables);

  document.querySelectorAll("input[data-select-all]").forEach(function (all) {
    var name = all.getAttribute("data-select-all");
    all.addEventListener("change", function () {
      boxes(name).forEach(function (b) { b.checked = all.checked; });
      showCount(name);
    });
    boxes(name).forEach(function (b) {
      b.addEventListener("change", function () { showCount(name); });
    });
  });
})();
