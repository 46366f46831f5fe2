// The index's case table: filter, sort and page the rows of #qa-data, offline. Every text goes in through
// textContent, never as markup. State lives in the URL fragment: index.html#outcome=failed&tag=korean&page=3
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("qa-data").textContent);
  var C = {};
  data.columns.forEach(function (name, i) { C[name] = i; });
  var rows = data.rows, size = data.page_size, width = data.columns.length;
  rows.forEach(function (r) { while (r.length < width) { r.push(null); } });   // rows stop at their last value
  var $ = function (id) { return document.getElementById(id); };
  var table = $("cases"), tbody = table.tBodies[0];
  var controls = { outcome: $("f-outcome"), tag: $("f-tag"), file: $("f-file"), status: $("f-status"), q: $("f-text") };
  var HANGUL = /[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]/;
  var MARK = { passed: "\u2713", failed: "\u2717", skipped: "\u2013" };
  var STATE = { p: "passed", f: "failed", s: "skipped" };
  var state = { sort: "", dir: 1, page: 0 };
  var haystack = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null && text !== "") {
      e.textContent = text;
      if (HANGUL.test(text)) { e.lang = "ko"; }
    }
    return e;
  }
  function badge(s, label) {
    var b = el("span", "badge " + s.replace("->", "-").replace(/ /g, "-"), label || s);
    b.title = s;
    return b;
  }
  function n(x) { return x.toLocaleString("en-US"); }
  function fixed(x, d) { return x === null || x === undefined ? "\u2014" : x.toFixed(d); }
  function sig(x, d) {   // Python's "{:.{d}g}", as the server-drawn first page writes numbers
    if (x === null || x === undefined) { return "\u2014"; }
    if (x === 0) { return "0"; }
    var t = x.toExponential(d - 1).split("e"), e = parseInt(t[1], 10);
    if (e < -4 || e >= d) {
      return t[0].replace(/\.?0+$/, "") + "e" + (e < 0 ? "-" : "+") + (Math.abs(e) < 10 ? "0" : "") + Math.abs(e);
    }
    return String(parseFloat(x.toFixed(Math.max(0, d - 1 - e))));
  }
  function num(cls, text) { var td = el("td", "n " + (cls || ""), text); return td; }

  function drawRow(r) {
    var outcome = data.outcomes[r[C.outcome]];
    var tr = el("tr", "case-row");
    tr.dataset.outcome = outcome;
    var td = el("td"); td.appendChild(badge(outcome)); tr.appendChild(td);
    td = el("td");
    var head = el("div"), id = r[C.id];
    if (r[C.href]) { var a = el("a", "", id); a.href = r[C.href]; head.appendChild(a); }
    else { var s = el("span", "", id); s.title = "no page: a sampled-out pass"; head.appendChild(s); }
    if (HANGUL.test(id)) { head.lang = "ko"; }
    if (r[C.check]) { head.appendChild(document.createTextNode(" ")); head.appendChild(el("span", "muted", "[" + r[C.check] + "]")); }
    td.appendChild(head);
    td.appendChild(el("div", "loc", data.files[r[C.file]] + ":" + r[C.line]));
    if (r[C.xfail]) { td.appendChild(el("div", "muted small", "xfail: " + r[C.xfail])); }
    td.appendChild(el("div", "q", r[C.question]));
    if (r[C.why]) { td.appendChild(el("div", "why", r[C.why])); }
    tr.appendChild(td);
    tr.appendChild(el("td", "", r[C.tags].map(function (t) { return data.tags[t]; }).join(", ")));
    td = el("td");
    var st = r[C.states];
    for (var i = 0; i < st.length; i++) {
      if (st[i] === "-") { continue; }
      td.appendChild(el("span", "fam st " + STATE[st[i]], MARK[STATE[st[i]]] + " " + data.families[i]));
    }
    tr.appendChild(td);
    tr.appendChild(el("td", "", r[C.prediction] === null ? "" : r[C.prediction]));
    tr.appendChild(num("", fixed(r[C.em], 0)));
    tr.appendChild(num("", fixed(r[C.f1], 2)));
    tr.appendChild(num("", fixed(r[C.confidence], 3)));
    if (data.with_deltas) {
      tr.appendChild(num("", sig(r[C.delta_start], 2) + " / " + sig(r[C.delta_end], 2)));
      tr.appendChild(num("", fixed(r[C.steps], 0)));
    }
    if (controls.status) {
      td = el("td");
      if (r[C.status] !== null) { td.appendChild(badge(data.statuses[r[C.status]], data.status_labels[r[C.status]])); }
      tr.appendChild(td);
    }
    return tr;
  }

  function text(i) {
    if (haystack === null) {
      haystack = rows.map(function (r) {
        return [r[C.id], r[C.question], r[C.prediction] || "", data.files[r[C.file]], r[C.nodeid] || "",
                r[C.check] || "", r[C.why] || ""].join(" ").toLowerCase();
      });
    }
    return haystack[i];
  }
  function key(r, k) {
    if (k === "delta") {
      var a = r[C.delta_start], b = r[C.delta_end];
      return a === null ? b : b === null ? a : Math.max(a, b);
    }
    if (k === "id") { return r[C.id].toLowerCase(); }
    if (k === "prediction") { return r[C.prediction] === null ? null : r[C.prediction].toLowerCase(); }
    return r[C[k]];
  }
  function selected() {
    var o = controls.outcome.value, t = controls.tag.value, f = controls.file.value;
    var s = controls.status ? controls.status.value : "", q = controls.q.value.trim().toLowerCase();
    var oi = o ? data.outcomes.indexOf(o) : -1, ti = t ? data.tags.indexOf(t) : -1;
    var fi = f ? data.files.indexOf(f) : -1, si = s ? data.statuses.indexOf(s) : -1;
    var out = [];
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      if ((o && r[C.outcome] !== oi) || (t && r[C.tags].indexOf(ti) < 0) || (f && r[C.file] !== fi) ||
          (s && r[C.status] !== si) || (q && text(i).indexOf(q) < 0)) { continue; }
      out.push(i);
    }
    if (state.sort) {
      var k = state.sort, dir = state.dir;
      out.sort(function (a, b) {
        var x = key(rows[a], k), y = key(rows[b], k);
        if (x === y) { return a - b; }
        if (x === null || x === undefined) { return 1; }      // missing values last, either way
        if (y === null || y === undefined) { return -1; }
        return (x < y ? -1 : 1) * dir;
      });
    }
    return out;
  }
  function save() {
    var h = new URLSearchParams();
    ["outcome", "tag", "file", "status", "q"].forEach(function (n) {
      if (controls[n] && controls[n].value) { h.set(n, controls[n].value); }
    });
    if (state.sort) { h.set("sort", (state.dir < 0 ? "-" : "") + state.sort); }
    if (state.page) { h.set("page", String(state.page + 1)); }
    var s = h.toString();
    history.replaceState(null, "", s ? "#" + s : location.pathname + location.search);
  }
  function draw() {
    var sel = selected(), pages = Math.max(1, Math.ceil(sel.length / size));
    state.page = Math.min(state.page, pages - 1);
    var lo = state.page * size, frag = document.createDocumentFragment();
    sel.slice(lo, lo + size).forEach(function (i) { frag.appendChild(drawRow(rows[i])); });
    tbody.replaceChildren(frag);
    $("f-count").textContent = (sel.length ? n(lo + 1) + "\u2013" + n(Math.min(lo + size, sel.length)) : "0") +
      " of " + n(sel.length) + " shown" + (sel.length < rows.length ? " (" + n(rows.length) + " in all)" : "");
    $("p-page").textContent = pages > 1 ? "page " + n(state.page + 1) + " of " + n(pages) : "";
    $("p-prev").disabled = state.page === 0;
    $("p-next").disabled = state.page >= pages - 1;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      if (!th.dataset.key) { return; }
      if (th.dataset.key === state.sort) { th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending"); }
      else { th.removeAttribute("aria-sort"); }
    });
    save();
  }
  function load() {
    var h = new URLSearchParams(location.hash.slice(1));
    ["outcome", "tag", "file", "status", "q"].forEach(function (n) {
      if (controls[n] && h.get(n) !== null) { controls[n].value = h.get(n); }
    });
    var s = h.get("sort") || "";
    state.dir = s.charAt(0) === "-" ? -1 : 1;
    state.sort = s.replace(/^-/, "");
    state.page = Math.max(0, (parseInt(h.get("page"), 10) || 1) - 1);
  }

  Object.keys(controls).forEach(function (n) {
    if (controls[n]) { controls[n].addEventListener("input", function () { state.page = 0; draw(); }); }
  });
  $("p-prev").addEventListener("click", function () { state.page -= 1; draw(); });
  $("p-next").addEventListener("click", function () { state.page += 1; draw(); });
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
    if (!th.dataset.key) { return; }
    th.addEventListener("click", function () {
      var k = th.dataset.key;
      if (state.sort === k) { state.dir = -state.dir; }
      else { state.sort = k; state.dir = th.classList.contains("n") ? -1 : 1; }  // numbers: largest first
      state.page = 0;
      draw();
    });
  });

  // The counts tables: sort their rows by a clicked column (numbers by value, names alphabetically).
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable-table"), function (t) {
    var ths = t.tHead.rows[0].cells;
    Array.prototype.forEach.call(ths, function (th, col) {
      th.addEventListener("click", function () {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(ths, function (x) { x.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = t.tBodies[0], trs = Array.prototype.slice.call(body.rows);
        var val = function (tr) {
          var c = tr.cells[col], v = c.dataset.v !== undefined ? c.dataset.v : c.textContent.trim();
          return th.dataset.type === "text" ? v.toLowerCase() : (v === "" || v === "\u2014" ? -1 : parseFloat(v));
        };
        trs.sort(function (a, b) { var x = val(a), y = val(b); return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1); });
        trs.forEach(function (tr) { body.appendChild(tr); });
      });
    });
  });

  window.addEventListener("hashchange", function () { load(); draw(); });
  load();
  draw();
  table.dataset.readyMs = String(Math.round(performance.now()));   // when the table became usable
})();
