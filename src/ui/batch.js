/* seqspool's batch page, made live.
 *
 * The page is complete without this script; it only keeps it current. While
 * any experiment of the batch is queued or running, it follows the batch's
 * events (`GET /events?batch=ID`, the table's data-batch-stream) with
 * app.js's live(): each event, and each reconnection, makes it read the
 * page's JSON (`GET /batches/{id}`, the table's data-batch-source) once and
 * update the counts, the bar, and each row's state, estimate and result.
 * Only where EventSource is missing, or the stream fails, does it poll
 * instead. The rows themselves never change: a batch does not grow. Text
 * from the server is only ever set with textContent.
 */
(function () {
  "use strict";

  var table = document.querySelector("table[data-batch-source]");
  var shared = window.seqspool;
  if (!table || !shared) return;

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
