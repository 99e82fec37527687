/* seqspool's pages, made live.
 *
 * Every page is complete without this script; it only adds to it: times in
 * the reader's time zone (estimates of when an experiment should start and
 * finish, to the minute), updates as the server's events say something
 * changed (GET /events; a poll of the JSON API every 1.5 s only while
 * something runs, or where events cannot be had; nothing while the tab is
 * hidden), the last lines of a running experiment's logs, a
 * confirmation before a cancel, and on the form only the chosen pipeline's
 * parameters: the others are hidden and disabled, so they are not sent.
 * Text from the server is only ever set with textContent, never parsed as HTML.
 */
(function () {
  "use strict";

  var POLL_MS = 1500;
  /* After a failed poll, wait up to this many intervals before the next. */
  var MAX_BACKOFF = 8;
  /* Lines of a log shown, as the server shows them. */
  var LOG_LINES = 40;
  /* A larger log is not fetched again and again: its page link is there. */
  var LOG_MAX_BYTES = 1024 * 1024;

  /* The words the server uses for the states (ui/pages/words.rs, state_word). */
  var WORDS = {
    QUEUED: "Queued",
    RUNNING: "Running",
    COMPLETE: "Complete",
    EXECUTOR_ERROR: "Failed",
    SYSTEM_ERROR: "System error",
    CANCELED: "Canceled"
  };

  function moving(state) {
    return state === "QUEUED" || state === "RUNNING";
  }

  /* Ended without completing: it may run again (ui/pages/experiment.rs, retryable). */
  function retryable(state) {
    return state === "EXECUTOR_ERROR" || state === "SYSTEM_ERROR" || state === "CANCELED";
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" }).then(function (answer) {
      if (!answer.ok) throw new Error(url + " answered " + answer.status);
      return answer.json();
    });
  }

  /* ---- formatting, as ui/pages/words.rs does it ---- */

  /* In full on an experiment's page; in a table, as short as the date allows:
     the time today, the day and time this year, the date before. An
     estimate (approx) is to the minute, and always says the time of day. */
  function localTime(iso, compact, approx) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) return iso;
    var now = new Date();
    var options = { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" };
    if (compact && date.toDateString() === now.toDateString()) {
      options = { hour: "2-digit", minute: "2-digit", second: "2-digit" };
    } else if (compact && (approx || date.getFullYear() === now.getFullYear())) {
      options = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
    } else if (compact) {
      options = { year: "numeric", month: "short", day: "numeric" };
    }
    if (approx) delete options.second;
    if (approx && !compact && date.toDateString() === now.toDateString()) {
      options = { hour: "2-digit", minute: "2-digit" };
    }
    return date.toLocaleString(undefined, options);
  }

  function duration(ms) {
    var secs = Math.floor(ms / 1000);
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    if (secs < 3600) return Math.floor(secs / 60) + " min " + String(secs % 60).padStart(2, "0") + " s";
    return Math.floor(secs / 3600) + " h " + String(Math.floor(secs / 60) % 60).padStart(2, "0") + " min";
  }

  function runTime(view) {
    if (!view.started_at) return null;
    var end;
    if (view.finished_at) end = Date.parse(view.finished_at);
    else if (view.state === "RUNNING") end = Date.now();
    else return null;
    return Math.max(0, end - Date.parse(view.started_at));
  }

  function size(bytes) {
    var units = ["KB", "MB", "GB", "TB"];
    if (bytes < 1024) return bytes + " B";
    var value = bytes / 1024;
    var unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return value.toFixed(1) + " " + units[unit];
  }

  function none() {
    return element("span", "none", "—");
  }

  function timeElement(iso, compact) {
    if (!iso) return none();
    var node = element("time", null, localTime(iso, compact));
    node.dateTime = iso;
    node.title = iso;
    return node;
  }

  /* Where an estimate comes from (ui/pages/words.rs, ESTIMATE_HINT). */
  var ESTIMATE_HINT = "estimated from the recent completed runs of its pipeline and of those ahead of it";

  /* When it should start and finish, from the record's eta, in the words
     ui/pages/words.rs uses (estimate); null once it has finished (no eta at all). */
  function estimate(view, compact) {
    if (!("eta" in view)) return null;
    var eta = view.eta;
    var words = element("span", "eta");
    words.title = ESTIMATE_HINT;
    /* No time to promise while nothing starts: what it waits for, and why
       (ui/pages/words.rs, HELD_WORDS). */
    var hint = ESTIMATE_HINT;
    if (eta === null) {
      words.classList.add("eta-none");
      words.textContent = "no estimate yet";
    } else if (eta.waits_for) {
      words.classList.add("eta-held");
      words.textContent = "waits until the queue is resumed";
      words.title = hint = eta.reason;
    }
    if (eta === null || eta.waits_for) {
      if (compact) return words;
      var both = document.createDocumentFragment();
      both.append(words, " ", element("span", "hint", "(" + hint + ")"));
      return both;
    }
    function approx(iso) {
      var node = element("time", null, localTime(iso, compact, true));
      node.dateTime = iso;
      node.dataset.approx = "";
      return node;
    }
    if (eta.start) {
      var start = element("span", "eta-start", "starts about ");
      start.append(approx(eta.start));
      words.append(start, compact ? " " : ", ");
    }
    var finish = element("span", "eta-finish", "finishes about ");
    finish.append(approx(eta.finish));
    words.append(finish);
    return words;
  }

  /* What, of an estimate, a reader sees change: the minute. */
  function estimateKey(view) {
    if (!("eta" in view)) return "";
    if (view.eta === null) return "none";
    if (view.eta.waits_for) return "held " + view.eta.reason;
    return (view.eta.start || "").slice(0, 16) + ">" + view.eta.finish.slice(0, 16);
  }

  function badge(state) {
    var node = element("span", "state state-" + state.toLowerCase().replace(/_/g, "-"), WORDS[state] || state);
    node.dataset.state = state;
    return node;
  }

  function localizeTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (node) {
      var iso = node.getAttribute("datetime");
      node.textContent = localTime(iso, node.closest("table.list") !== null, node.hasAttribute("data-approx"));
      node.title = iso;
    });
  }

  function fill(node, content) {
    node.replaceChildren(content);
  }

  /* ---- following the server ---- */

  /* Keeps the page up to date. The server's event stream (`stream`, a
     /events URL) says when something changed, and each event makes the
     page read the JSON API once (tick); while tick resolves to true
     (something runs: its time and logs move without events), it is also
     read every POLL_MS. Without EventSource, or when the stream cannot be
     opened, the page polls as it did before the stream existed.
     document.body's data-live says where it stands: polling (updating
     now), idle (up to date, following the events), paused (tab hidden);
     data-stream says whether the event stream is open. `wants(kind)`, if
     given, says which kinds of event are worth a look now. */
  function live(tick, initially, stream, wants) {
    var body = document.body;
    var note = document.querySelector("[data-live-note]");
    var timer = 0;
    var busy = false;
    var again = false;
    var failures = 0;
    var source = null;
    var streamFailures = 0;

    function say(state, text) {
      body.dataset.live = state;
      if (note) note.textContent = text;
    }

    function schedule(more) {
      if (timer) clearTimeout(timer);
      timer = 0;
      /* Followed by events, an idle page waits for the next one. */
      if (!more && failures === 0 && source) return;
      if (!more && failures === 0 && !source && !stream) return;
      var wait = POLL_MS * Math.min(failures + 1, MAX_BACKOFF);
      timer = setTimeout(run, wait);
    }

    function run() {
      timer = 0;
      if (document.hidden) {
        say("paused", "Updates paused while this tab is hidden.");
        return;
      }
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      tick().then(function (more) {
        failures = 0;
        return more;
      }, function () {
        failures += 1;
        return true;
      }).then(function (more) {
        busy = false;
        if (again) {
          again = false;
          run();
          return;
        }
        if (failures > 0) {
          say("polling", "The server does not answer; trying again.");
        } else if (more) {
          say("polling", "Updating live.");
        } else {
          say("idle", source ? "Up to date; following the server." : "Up to date: nothing is queued or running.");
        }
        schedule(more);
      });
    }

    function open() {
      if (!stream || !window.EventSource || source) return;
      source = new EventSource(stream);
      body.dataset.stream = "connecting";
      /* Each open (the first, and every reconnection) reads the state anew:
         what happened while the stream was closed is in the answer. */
      source.onopen = function () {
        streamFailures = 0;
        body.dataset.stream = "open";
        run();
      };
      source.onmessage = run;
      ["experiment", "backlog", "reset"].forEach(function (kind) {
        source.addEventListener(kind, function () {
          if (!wants || wants(kind)) run();
        });
      });
      source.onerror = function () {
        body.dataset.stream = "reconnecting";
        streamFailures += 1;
        /* The browser reconnects by itself; after a few failures in a row
           (a server too busy to take the stream), poll instead. */
        if (source.readyState === EventSource.CLOSED || streamFailures > 3) {
          close();
          body.dataset.stream = "closed";
          schedule(true);
        }
      };
    }

    function close() {
      if (source) source.close();
      source = null;
    }

    /* A hidden tab holds no stream open; back, it looks once and follows again. */
    document.addEventListener("visibilitychange", function () {
      if (document.hidden) {
        close();
        body.dataset.stream = "closed";
        return;
      }
      open();
      if (!busy && !timer) run();
    });

    open();
    if (initially) {
      say("polling", "Updating live.");
      schedule(true);
    } else {
      say("idle", source ? "Up to date; following the server." : "Up to date: nothing is queued or running.");
    }
  }

  /* ---- tables of experiments (home, batch, filtered lists) ---- */

  function row(view) {
    var tr = element("tr");
    tr.dataset.id = view.id;
    var name = element("td", "name");
    var link = element("a", null, view.query_name);
    link.href = "/experiments/" + view.id;
    name.append(link);
    if (view.moved_to_front) {
      var moved = element("span", "tag moved", "moved to front");
      moved.dataset.moved = "";
      moved.title = "Moved to the front by " + view.moved_to_front.by + " at " + view.moved_to_front.at;
      name.append(" ", moved);
    }
    var pipeline = element("td", "pipeline");
    pipeline.append(view.pipeline ? element("code", null, view.pipeline) : none());
    var state = element("td");
    state.append(badge(view.state));
    if (view.position) state.append(element("span", "place", "position " + view.position));
    var submitted = element("td");
    submitted.append(timeElement(view.submitted_at, true));
    var started = element("td");
    started.append(timeElement(view.started_at, true));
    var ran = runTime(view);
    var took = element("td", "num");
    took.append(ran === null ? none() : duration(ran));
    var expected = element("td", "expected");
    expected.append(estimate(view, true) || none());
    var by = element("td", "by");
    by.append(view.submitted_by ? view.submitted_by : none());
    tr.append(element("td", "id", view.id), name, pipeline, state, submitted, started, took, expected, by);
    return tr;
  }

  /* What, in a row, changes other than the running time. */
  function rowKey(view) {
    var moved = view.moved_to_front ? view.moved_to_front.at : "";
    return [view.id, view.query_name, view.state, view.position, view.started_at, view.finished_at, moved, estimateKey(view)].join("|");
  }

  function listing(table) {
    var tbody = table.tBodies[0];
    var older = document.querySelector("[data-older]");
    var counts = document.querySelectorAll("[data-count]");
    var shown = null;
    var emptyRow = tbody.querySelector("tr.empty");
    var emptyText = emptyRow ? emptyRow.textContent : "No experiments here.";

    function render(views) {
      var key = views.map(rowKey).join("\n");
      if (key === shown) {
        /* Only the running times moved: change those cells, keep focus where it is. */
        views.forEach(function (view, i) {
          var ran = runTime(view);
          if (view.state === "RUNNING" && ran !== null) {
            tbody.rows[i].cells[6].textContent = duration(ran);
          }
        });
        return;
      }
      var focused = document.activeElement;
      var focusedHref = focused && tbody.contains(focused) ? focused.getAttribute("href") : null;
      var rows = views.map(row);
      if (rows.length === 0) {
        var empty = element("tr", "empty");
        var cell = element("td", null, emptyText);
        cell.colSpan = 9;
        empty.append(cell);
        rows.push(empty);
      }
      tbody.replaceChildren.apply(tbody, rows);
      shown = key;
      if (focusedHref) {
        var again = tbody.querySelector('a[href="' + focusedHref + '"]');
        if (again) again.focus();
      }
    }

    function tick() {
      var wanted = [getJSON(table.dataset.source)];
      if (counts.length > 0) wanted.push(getJSON("/service-info"));
      return Promise.all(wanted).then(function (answers) {
        var list = answers[0];
        render(list.experiments);
        if (older) {
          if (list.next_page_token) {
            var url = new URL(window.location.href);
            url.searchParams.set("page_token", list.next_page_token);
            older.href = url.pathname + url.search;
            older.hidden = false;
          } else {
            older.hidden = true;
          }
        }
        var active = list.experiments.some(function (view) { return moving(view.state); });
        if (answers[1]) {
          var info = answers[1].counts;
          counts.forEach(function (node) {
            var value = String(info[node.dataset.count] || 0);
            if (node.textContent !== value) node.textContent = value;
          });
          active = active || info.QUEUED + info.RUNNING > 0;
        }
        /* Followed by events, only a running time moves between them. */
        if (window.EventSource) {
          return list.experiments.some(function (view) { return view.state === "RUNNING"; });
        }
        return active;
      });
    }

    var initially = Array.prototype.some.call(tbody.querySelectorAll("[data-state]"), function (node) {
      return moving(node.dataset.state);
    }) || Array.prototype.some.call(counts, function (node) { return node.textContent !== "0"; });
    live(tick, initially, table.dataset.stream || "/events");
  }

  /* ---- one experiment ---- */

  function statusSentence(view) {
    var error = view.error || "no reason was recorded";
    switch (view.state) {
      case "QUEUED":
        if (!view.position || view.position === 1) return "Waiting in the queue: it runs next.";
        if (view.position === 2) return "Waiting in the queue: 1 experiment runs before it.";
        return "Waiting in the queue: " + (view.position - 1) + " experiments run before it.";
      case "RUNNING":
        var job = view.handle && view.handle.executor === "slurm" && view.handle.slurm;
        if (job && job.state !== "RUNNING") {
          var doing = { HELD: "being handed to Slurm", PENDING: "waiting for Slurm to start it",
                        CONFIGURING: "its node is being readied" }[job.state] ||
                      "Slurm says " + String(job.state).toLowerCase();
          var reason = job.reason && job.reason !== "None" ? " (" + job.reason + ")" : "";
          return "Submitted to the cluster as Slurm job " + job.job_id + ": " + doing + reason + ".";
        }
        return "Running now; the last lines of its output appear below.";
      case "COMPLETE":
        return "Complete: its results are below.";
      case "EXECUTOR_ERROR":
        return "The processing command failed: " + error;
      case "SYSTEM_ERROR":
        return "seqspool could not run it: " + error;
      case "CANCELED":
        return view.started_at ? "Canceled while it ran." : "Canceled before it ran.";
      default:
        return view.state;
    }
  }

  /* Which warm processor ran an experiment: its pid and start time. */
  function processorFact(processor) {
    var node = element("span", null, "pid " + processor.pid + ", started ");
    node.appendChild(timeElement(processor.started_at));
    return node;
  }

  /* As the page's own words say it: "searched with 95 others in one run, the group of 000042". */
  function groupFact(group) {
    var others = group.size - 1;
    var node = element("span", null, "searched with " + others + " other" + (others === 1 ? "" : "s") + " in one run, the group of ");
    var link = element("a", null, group.id);
    link.href = "/experiments/" + group.id;
    node.appendChild(link);
    return node;
  }

  function experiment(main) {
    var id = main.dataset.experiment;
    var logSizes = {};

    function fact(key, content) {
      var node = main.querySelector('[data-fact="' + key + '"]');
      if (!node) return;
      var present = content !== null && content !== undefined && content !== "";
      node.hidden = !present;
      if (!present) return;
      var target = node.querySelector("dd") || node;
      if (typeof content === "string" || typeof content === "number") {
        if (target.textContent !== String(content)) target.textContent = String(content);
      } else {
        fill(target, content);
      }
    }

    function render(view) {
      var head = main.querySelector('.head-state[data-fact="state"]');
      var current = head && head.querySelector("[data-state]");
      if (head && (!current || current.dataset.state !== view.state)) fill(head, badge(view.state));
      fact("state_word", WORDS[view.state] || view.state);
      fact("position", view.position || null);
      if (main.dataset.etaKey !== estimateKey(view)) {
        main.dataset.etaKey = estimateKey(view);
        fact("eta", estimate(view, false));
      }
      fact("started_at", view.started_at ? timeElement(view.started_at) : null);
      fact("finished_at", view.finished_at ? timeElement(view.finished_at) : null);
      var ran = runTime(view);
      fact("duration", ran === null ? null : duration(ran));
      var moved = view.moved_to_front;
      var movedWords = null;
      if (moved) {
        movedWords = document.createDocumentFragment();
        movedWords.append(timeElement(moved.at), " by " + moved.by);
      }
      if (main.dataset.movedKey !== (moved ? moved.at : "")) {
        main.dataset.movedKey = moved ? moved.at : "";
        fact("moved_to_front", movedWords);
      }
      fact("attempts", view.attempts > 0 ? view.attempts : null);
      fact("exit_code", view.exit_code === null || view.exit_code === undefined ? null : view.exit_code);
      fact("signal", view.signal === null || view.signal === undefined ? null : view.signal);
      fact("error", view.error || null);
      fact("processor", view.processor ? processorFact(view.processor) : null);
      fact("group", view.group && view.group.size > 1 ? groupFact(view.group) : null);
      fact("solo", view.solo || null);

      var status = main.querySelector("[data-status]");
      var sentence = statusSentence(view);
      /* Only a change is announced by the aria-live region. */
      if (status && status.textContent !== sentence) status.textContent = sentence;
      var cancel = main.querySelector("form.cancel");
      if (cancel) cancel.hidden = !moving(view.state);
      var front = main.querySelector("form.front");
      if (front) front.hidden = !(view.state === "QUEUED" && view.position > 1);
      var retry = main.querySelector("form.retry");
      if (retry) retry.hidden = !retryable(view.state);
      renderFiles(view.files || []);
    }

    function renderFiles(files) {
      var tbody = main.querySelector("[data-files]");
      if (!tbody) return;
      var key = files.map(function (f) { return f.name + ":" + f.size; }).join("|");
      if (tbody.dataset.key === key) return;
      tbody.dataset.key = key;
      var rows = files.map(function (file) {
        var tr = element("tr");
        var name = element("td");
        var link = element("a", null, file.name);
        link.href = "/experiments/" + id + "/files/" + encodeURIComponent(file.name);
        name.append(link);
        tr.append(name, element("td", "num", size(file.size)));
        return tr;
      });
      if (rows.length === 0) {
        var empty = element("tr", "empty");
        var cell = element("td", null, "No files yet.");
        cell.colSpan = 2;
        empty.append(cell);
        rows.push(empty);
      }
      tbody.replaceChildren.apply(tbody, rows);
    }

    function refreshLog(name, files) {
      var pre = main.querySelector('pre[data-log="' + name + '"]');
      var note = main.querySelector('[data-log-note="' + name + '"]');
      if (!pre) return Promise.resolve();
      var file = files.filter(function (f) { return f.name === name; })[0];
      if (!file || logSizes[name] === file.size) return Promise.resolve();
      if (file.size > LOG_MAX_BYTES) {
        if (note) note.textContent = "large: open it from the files";
        logSizes[name] = file.size;
        return Promise.resolve();
      }
      var url = "/experiments/" + id + "/files/" + encodeURIComponent(name);
      return fetch(url, { cache: "no-store" }).then(function (answer) {
        if (!answer.ok) throw new Error(url + " answered " + answer.status);
        return answer.text();
      }).then(function (text) {
        logSizes[name] = file.size;
        var lines = text.replace(/\n$/, "").split("\n");
        var cut = lines.length > LOG_LINES;
        var shown = lines.slice(-LOG_LINES).join("\n");
        /* Follow the end unless the reader scrolled up to read. */
        var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        if (pre.textContent !== shown) pre.textContent = shown;
        if (atEnd) pre.scrollTop = pre.scrollHeight;
        var words = text.length === 0 ? "empty" : cut ? "last lines" : "all of it";
        if (note) note.textContent = words;
        pre.setAttribute("aria-label", name + ", " + words);
      });
    }

    function tick() {
      return getJSON("/experiments/" + id).then(function (view) {
        render(view);
        var files = view.files || [];
        return Promise.all([refreshLog("stdout.txt", files), refreshLog("stderr.txt", files)]).then(function () {
          /* Its logs and running time move without events; its state comes by them. */
          return window.EventSource ? view.state === "RUNNING" : moving(view.state);
        });
      });
    }

    main.querySelectorAll("pre[data-log]").forEach(function (pre) {
      pre.scrollTop = pre.scrollHeight;
    });
    var state = main.querySelector("[data-state]");
    var moves = state && moving(state.dataset.state);
    /* The backlog's events move its place and estimate while it waits or runs. */
    live(tick, moves, "/events?experiment=" + encodeURIComponent(id), function (kind) {
      var now = main.querySelector(".head-state [data-state]");
      return kind !== "backlog" || !now || moving(now.dataset.state);
    });
  }

  /* ---- forms ---- */

  function forms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) {
          event.preventDefault();
          return;
        }
        var confirmed = form.querySelector('input[name="confirmed"]');
        if (confirmed) confirmed.value = "yes";
      });
    });
    /* Sent once: a second click would make a second experiment. */
    document.querySelectorAll("form[data-submit], form[data-once]").forEach(function (form) {
      form.addEventListener("submit", function () {
        var button = form.querySelector('button[type="submit"]');
        /* After the form is sent, so the submission itself is not held up. */
        if (button) setTimeout(function () {
          button.disabled = true;
          button.dataset.label = button.dataset.label || button.textContent;
          button.textContent = "Submitting…";
        }, 0);
      });
    });
    /* Back to a page kept in the browser's cache: the button works again. */
    window.addEventListener("pageshow", function () {
      document.querySelectorAll("form[data-submit] button[disabled], form[data-once] button[disabled]").forEach(function (button) {
        button.disabled = false;
        if (button.dataset.label) button.textContent = button.dataset.label;
      });
    });
    document.querySelectorAll("form[data-submit]").forEach(pipelinePicker);
  }

  /* Shows only the chosen pipeline's parameters, and disables the others'
     fieldsets so the form does not send them (nor checks them); says what
     the chosen pipeline takes in the sequence's hint. Without this, every
     fieldset is shown and sent, and the server reads the chosen one's. */
  function pipelinePicker(form) {
    var radios = form.querySelectorAll('input[type="radio"][name="pipeline"]');
    if (radios.length === 0) return;
    var takes = form.querySelector("[data-takes]");
    var allNote = form.querySelector("[data-all-params]");

    function apply() {
      var chosen = form.querySelector('input[type="radio"][name="pipeline"]:checked') || radios[0];
      form.querySelectorAll("fieldset[data-pipeline]").forEach(function (fieldset) {
        var mine = fieldset.dataset.pipeline === chosen.value;
        fieldset.hidden = !mine;
        fieldset.disabled = !mine;
      });
      if (allNote) allNote.hidden = true;
      if (takes && chosen.dataset.takes && takes.textContent !== chosen.dataset.takes) {
        takes.textContent = chosen.dataset.takes;
      }
    }

    radios.forEach(function (radio) {
      radio.addEventListener("change", apply);
    });
    /* The browser may restore another choice when the user comes back. */
    window.addEventListener("pageshow", apply);
    apply();
  }

  /* What the batch page's own script (batch.js) shares of this one. */
  window.seqspool = { live: live, badge: badge, estimate: estimate, estimateKey: estimateKey, none: none };

  function start() {
    localizeTimes(document);
    forms();
    var main = document.querySelector("main");
    if (!main) return;
    if (main.dataset.page === "experiment") {
      experiment(main);
    } else if (main.dataset.page === "list") {
      var table = main.querySelector("table[data-source]");
      if (table) listing(table);
    }
  }

  start();
})();
