
(function () {
  "use strict";
  var outcome = document.getElementById("f-outcome");
  var tag = document.getElementById("f-tag");
  var text = document.getElementById("f-text");
  var count = document.getElementById("f-count");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#cases tr.case-row"));
  function apply() {
    var o = outcome.value, t = tag.value, q = text.value.trim().toLowerCase(), shown = 0;
    rows.forEach(function (r) {
      var ok = (!o || r.dataset.outcome === o) &&
               (!t || ("|" + r.dataset.tags + "|").indexOf("|" + t + "|") >= 0) &&
               (!q || r.dataset.text.indexOf(q) >= 0);
      r.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = shown + " of " + rows.length + " shown";
  }
  [outcome, tag, text].forEach(function (el) { el.addEventListener("input", apply); });
  // Filters survive a reload through the URL fragment, e.g. index.html#outcome=failed
  var h = new URLSearchParams(location.hash.slice(1));
  if (h.get("outcome")) { outcome.value = h.get("outcome"); }
  if (h.get("tag")) { tag.value = h.get("tag"); }
  apply();
})();
