/* seqspool: what an experiment page's results do with JavaScript on.
 *
 * The page shows every result without it; this only adds: tables sorted by
 * a column (click its heading), "all" above a report's hits, a Copy button
 * beside a sequence, and the
 * results of an experiment that ends while its page is open (the page is
 * fetched again and its results section, the failure's log lines and the
 * logs' notes swapped in), also a BLAST report still being made.
 * Served from /ui/results.js beside app.js, under the same policy: no
 * inline script, nothing from elsewhere.
 */
(function () {
  "use strict";

  var FINISHED = ["COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED"];
  /* How often a report still being made is asked for, and how many times. */
  var PENDING_EVERY_MS = 3000;
  var PENDING_TRIES = 100;

  /* ---- sorting ---- */

  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    if (!cell) return numeric ? NaN : "";
    var text = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent;
    return numeric ? parseFloat(text) : text.trim();
  }

  function sortBy(table, th, index) {
    var numeric = th.dataset.type === "number";
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric);
      var y = cellValue(b, index, numeric);
      var order;
      if (numeric) {
        /* Empty cells last, whichever way. */
        if (isNaN(x) || isNaN(y)) return isNaN(x) - isNaN(y);
        order = x - y;
      } else {
        order = collator.compare(x, y);
      }
      return ascending ? order : -order;
    });
    table.querySelectorAll("thead th").forEach(function (other) {
      other.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function sortable(root) {
    root.querySelectorAll("table[data-sortable]").forEach(function (table) {
      if (table.dataset.sortReady) return;
      table.dataset.sortReady = "yes";
      table.querySelectorAll("thead th").forEach(function (th) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "sort";
        while (th.firstChild) button.appendChild(th.firstChild);
        button.title = (th.title ? th.title + ": " : "") + "sort by this column";
        th.appendChild(button);
        button.addEventListener("click", function () { sortBy(table, th, th.cellIndex); });
      });
    });
  }

  /* ---- copying ---- */

  function copyButtons(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (button) {
      if (button.dataset.copyReady) return;
      button.dataset.copyReady = "yes";
      var box = document.getElementById(button.dataset.copy);
      if (!box) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        var done = function () {
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = "Copy"; }, 1500);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(box.value).then(done, function () { box.select(); });
        } else {
          /* Plain http on the lab's network: select it, and copy the old way. */
          box.focus();
          box.select();
          try {
            if (document.execCommand("copy")) done();
          } catch (err) { /* Selected: the reader copies it. */ }
        }
      });
    });
  }

  /* Selecting all of a sequence box with one click, to copy it without the button. */
  function selectOnFocus(root) {
    root.querySelectorAll("textarea.sequence").forEach(function (box) {
      box.addEventListener("focus", function () { box.select(); });
    });
  }

  /* ---- choosing hits ---- */

  /* "All" above a table of hits: ticks or clears every hit of it. */
  function pickAll(root) {
    root.querySelectorAll("input[data-pick-all]").forEach(function (all) {
      if (all.dataset.pickReady) return;
      all.dataset.pickReady = "yes";
      all.hidden = false;
      var table = all.closest("table");
      all.addEventListener("change", function () {
        table.querySelectorAll('tbody input[name="hits"]').forEach(function (box) {
          box.checked = all.checked;
        });
      });
    });
  }

  function enhance(root) {
    sortable(root);
    pickAll(root);
    copyButtons(root);
    selectOnFocus(root);
  }

  /* ---- following the experiment to its results ---- */

  function fetchPage() {
    return fetch(window.location.pathname, {
      headers: { Accept: "text/html" },
      cache: "no-store",
      credentials: "same-origin",
    }).then(function (answer) {
      if (!answer.ok) throw new Error("the page answered " + answer.status);
      return answer.text();
    }).then(function (html) {
      return new DOMParser().parseFromString(html, "text/html");
    });
  }

  /* Puts the fresh page's element `selector` in place of this page's. */
  function swap(fresh, selector) {
    var old = document.querySelector(selector);
    var next = fresh.querySelector(selector);
    if (!old || !next) return null;
    var adopted = document.importNode(next, true);
    old.replaceWith(adopted);
    return adopted;
  }

  function refresh() {
    return fetchPage().then(function (fresh) {
      var section = swap(fresh, "[data-results]");
      swap(fresh, "[data-failure]");
      fresh.querySelectorAll("[data-log-note]").forEach(function (note) {
        var mine = document.querySelector('[data-log-note="' + note.dataset.logNote + '"]');
        /* Only a note the live updates have not filled in themselves. */
        if (mine && mine.textContent === "not written yet") mine.textContent = note.textContent;
      });
      if (section) enhance(section);
      return section;
    });
  }

  function finished() {
    var badge = document.querySelector(".head-state [data-state]");
    return badge && FINISHED.indexOf(badge.dataset.state) >= 0;
  }

  /* A report still being made: ask again now and then, until it is there. */
  function followPending(tries) {
    var section = document.querySelector("[data-results][data-pending]");
    if (!section || tries <= 0) return;
    setTimeout(function () {
      refresh().then(function () { followPending(tries - 1); }, function () { followPending(tries - 1); });
    }, PENDING_EVERY_MS);
  }

  function follow() {
    var head = document.querySelector(".head-state");
    var section = document.querySelector("[data-results]");
    if (!head || !section) return;
    if (section.hasAttribute("data-pending")) followPending(PENDING_TRIES);
    if (!section.hasAttribute("data-waiting")) return;
    var observer = new MutationObserver(function () {
      if (!finished()) return;
      observer.disconnect();
      refresh().then(function () { followPending(PENDING_TRIES); }, function () {
        /* The results are there for the next load of the page. */
      });
    });
    observer.observe(head, { childList: true, subtree: true, attributes: true });
  }

  var main = document.querySelector('main[data-page="experiment"]');
  if (!main) return;
  enhance(main);
  follow();
})();
