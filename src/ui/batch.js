/* seqspool's batch page, made live.
 *
 * The page is complete without this script; it only keeps it current. While
 * any experiment of the batch is queued or running, it follows the batch's
 * events (`GET /events?batch=ID`, the table's data-batch-stream) with
 * app.js's live(): each event, and each reconnection, makes it read the
 * page's JSON (`GET /batches/{id}`, the table's data-batch-source) once and
 * update the counts, the bar, each row's state, estimate and result, and,
 * on a plate, each well of its grid (its look as pages/wells.rs draws it).
 * Only where EventSource is missing, or the stream fails, does it poll
 * instead. The rows themselves never change: a batch does not grow. Text
 * from the server is only ever set with textContent.
 */
(function () {
  "use strict";

  var table = document.querySelector("table[data-batch-source]");
  var grid = document.querySelector("table[data-wells]");
  var shared = window.seqspool;
  if (!table || !shared) return;

  /* A well's class, mark and words, as pages/wells.rs's Look has them. */
  function look(state, hit) {
    switch (state) {
      case "QUEUED": return ["well-queued", "", "queued"];
      case "RUNNING": return ["well-running", "\u2026", "running"];
      case "COMPLETE":
        if (hit === true) return ["well-hit", "\u25cf", "hit"];
        if (hit === false) return ["well-no-hit", "\u25cb", "no hit"];
        return ["well-complete", "\u2713", "complete"];
      case "CANCELED": return ["well-canceled", "\u2013", "canceled"];
      default: return ["well-failed", "\u2715", "failed"];
    }
  }

  function renderWells(plate) {
    if (!grid || !plate) return;
    plate.wells.forEach(function (well) {
      var cell = grid.querySelector('td[data-id="' + well.id + '"]');
      if (!cell) return;
      var shape = look(well.state, well.hit);
      var key = shape[0] + " " + well.summary;
      if (cell.dataset.shown === key) return;
      cell.dataset.shown = key;
      cell.className = "well " + shape[0];
      setText(cell.querySelector(".mark"), shape[1]);
      /* The words add the result where the look does not say it already. */
      var adds = well.summary && well.hit !== false && well.state !== "CANCELED";
      setText(cell.querySelector(".visually-hidden"), well.well + ": " + shape[2] + (adds ? ", " + well.summary : ""));
      cell.title = well.well + " \u00b7 " + well.query_name + " \u00b7 " + (well.summary || shape[2]);
    });
  }

  function setText(node, text) {
    if (node && node.textContent !== text) node.textContent = text;
  }

  function render(answer) {
    var progress = answer.progress;
    var finished = progress.complete + progress.failed + progress.canceled;
    document.querySelectorAll("[data-batch-count]").forEach(function (node) {
      var value = String(progress[node.dataset.batchCount] || 0);
      setText(node, value);
      var box = node.closest(".count");
      if (box) {
        box.classList.toggle("zero", value === "0");
        if (box.hasAttribute("data-hide-zero")) box.hidden = value === "0";
      }
    });
    var bar = document.querySelector("progress[data-progress]");
    if (bar) {
      bar.max = Math.max(progress.total, 1);
      bar.value = finished;
      setText(bar, finished + " of " + progress.total);
    }
    setText(document.querySelector("[data-finished]"), String(finished));

    answer.experiments.forEach(function (row) {
      var tr = table.querySelector('tr[data-id="' + row.id + '"]');
      if (!tr) return;
      var state = tr.querySelector('[data-cell="state"]');
      var shown = state && state.querySelector("[data-state]");
      if (state && (!shown || shown.dataset.state !== row.state)) {
        state.replaceChildren(shared.badge(row.state));
      }
      var expected = tr.querySelector('[data-cell="expected"]');
      var key = shared.estimateKey(row);
      if (expected && expected.dataset.shown !== key) {
        expected.dataset.shown = key;
        expected.replaceChildren(shared.estimate(row, true) || shared.none());
      }
      tr.querySelectorAll("[data-summary]").forEach(function (cell) {
        var own = cell.dataset.summary === row.pipeline;
        var text = own ? row.summary : "";
        if (cell.dataset.shown === text) return;
        cell.dataset.shown = text;
        if (text) {
          cell.replaceChildren(document.createTextNode(text));
        } else {
          cell.replaceChildren(shared.none());
        }
        if (own && row.detail) {
          cell.title = row.detail;
        } else {
          cell.removeAttribute("title");
        }
      });
    });
    renderWells(answer.plate);
    return progress.queued + progress.running > 0;
  }

  /* Reads the batch once. Followed by events, nothing moves between them;
     polled (no EventSource, or the stream failed), it is read again while
     something of the batch is queued or running. */
  function tick() {
    return fetch(table.dataset.batchSource, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (answer) {
        if (!answer.ok) throw new Error("the batch answered " + answer.status);
        return answer.json();
      })
      .then(function (answer) {
        var moves = render(answer);
        return document.body.dataset.stream === "open" ? false : moves;
      });
  }

  var moving = Array.prototype.some.call(table.querySelectorAll("[data-state]"), function (node) {
    return node.dataset.state === "QUEUED" || node.dataset.state === "RUNNING";
  }) || ["queued", "running"].some(function (key) {
    var node = document.querySelector('[data-batch-count="' + key + '"]');
    return node && node.textContent !== "0";
  });
  /* A finished batch cannot change: it follows nothing. */
  var stream = moving && window.EventSource ? table.dataset.batchStream : null;
  shared.live(tick, moving && !stream, stream);
})();
