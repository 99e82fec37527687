/* The home form's databases, made one choice (the built-in BLAST's).
 *
 * Without this script each program's parameters carry their own list of
 * databases, of the kind it searches, and the form works as it is. With it,
 * the lists become one, above the choice of pipeline, kind by kind
 * (nucleotide databases, protein databases): what is ticked there is copied
 * into every program's own list (the chosen program's is what is sent), and
 * the databases ticked and the sequence pasted narrow the programs to those
 * that fit, choose the usual one, and say why in a line:
 *
 *   DNA query, nucleotide databases   blastn (tblastx fits too)
 *   DNA query, protein databases      blastx
 *   protein query, protein databases  blastp
 *   protein query, nucleotide ones    tblastn
 *
 * Nothing here knows those names: a pipeline fits a query when it takes the
 * query's alphabet (the radio's data-alphabets), and fits the databases
 * ticked when its own list offers every one; the usual one is the first that
 * fits, in the order the server offers them. A pipeline without databases
 * (the built-in analysis, the lab's own) is narrowed by the query only.
 * Text from the server is only ever copied as nodes or set with textContent.
 */
(function () {
  "use strict";

  /* IUPAC's nucleotide codes, and the letters most of a nucleotide sequence
     is written in: the server's own guess (query/sequence.rs, detect_alphabet). */
  var NUCLEOTIDE_CODES = "ACGTURYSWKMBDHVN";
  var PLAIN_NUCLEOTIDES = "ACGTUN";
  /* The start of a chosen file read to tell its alphabet. */
  var FILE_PEEK_BYTES = 64 * 1024;
  /* Typing settles for this long before the programs are narrowed again. */
  var SETTLE_MS = 150;
  /* A query of each alphabet, as the line says it. */
  var QUERIES = { dna: "A DNA query", rna: "An RNA query", protein: "A protein query" };

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /* The sequence letters of each record of FASTA or FASTQ text (a text
     without headers is one record): not headers, nor FASTQ's separator and
     quality lines. */
  function records(text) {
    var lines = text.split(/\r?\n/).filter(function (line) { return line.trim() !== ""; });
    var fastq = (lines[0] || "").trimStart().charAt(0) === "@";
    var found = [];
    lines.forEach(function (line, i) {
      var start = line.trimStart().charAt(0);
      if (fastq) {
        if (i % 4 === 1) found.push(line);
      } else if (start === ">") {
        found.push("");
      } else if (start !== ";") {
        if (found.length === 0) found.push("");
        found[found.length - 1] += line;
      }
    });
    return found
      .map(function (record) { return record.toUpperCase().replace(/[^A-Z]/g, ""); })
      .filter(function (record) { return record !== ""; });
  }

  /* "dna", "rna" or "protein", as the server reads one record. */
  function alphabetOfRecord(seen) {
    var plain = 0, t = 0, u = 0;
    for (var i = 0; i < seen.length; i++) {
      var letter = seen.charAt(i);
      if (NUCLEOTIDE_CODES.indexOf(letter) < 0) return "protein";
      if (PLAIN_NUCLEOTIDES.indexOf(letter) >= 0) plain++;
      if (letter === "T") t++;
      if (letter === "U") u++;
    }
    if (plain * 10 < seen.length * 9) return "protein";
    return u > 0 && t === 0 ? "rna" : "dna";
  }

  /* What the records read as: "dna", "rna", "protein", "mixed" when some
     are nucleotides and some protein, or null for no letters. DNA and RNA
     together are DNA: the programs that take one take the other. */
  function alphabetOf(text) {
    var seen = records(text).map(alphabetOfRecord);
    if (seen.length === 0) return null;
    var protein = seen.indexOf("protein") >= 0;
    var nucleotide = seen.some(function (a) { return a !== "protein"; });
    if (protein && nucleotide) return "mixed";
    if (protein) return "protein";
    return seen.indexOf("dna") >= 0 ? "dna" : "rna";
  }

  /* "a", "a or b", "a, b or c"; `and` for "a and b". */
  function either(names, and) {
    if (names.length < 2) return names.join("");
    return names.slice(0, -1).join(", ") + (and ? " and " : " or ") + names[names.length - 1];
  }

  function boxes(list) {
    return Array.prototype.slice.call(list.querySelectorAll('input[type="checkbox"]'));
  }

  function chooser(form) {
    var picker = form.querySelector("fieldset.picker");
    var lists = Array.prototype.slice.call(form.querySelectorAll("fieldset[data-several]"));
    if (!picker || lists.length === 0) return;
    var radios = Array.prototype.slice.call(picker.querySelectorAll('input[type="radio"][name="pipeline"]'));
    var sequence = form.querySelector("#query_sequence");
    var file = form.querySelector("#file");
    var fileAlphabet = null;
    var fileReads = 0;

    /* The kinds of database, by their lists' legends, in the order met; and
       which kind each pipeline searches: its list, the names in it, and
       those the server ticked (its defaults, or what a form sent back had). */
    var kinds = [];
    var searches = {};
    lists.forEach(function (list) {
      var legend = list.querySelector("legend").textContent;
      var kind = kinds.filter(function (k) { return k.legend === legend; })[0];
      if (!kind) {
        kind = { legend: legend, lists: [], boxes: [] };
        kinds.push(kind);
      }
      kind.lists.push(list);
      var owner = list.closest("fieldset[data-pipeline]");
      if (owner) {
        searches[owner.dataset.pipeline] = {
          kind: kind,
          list: list,
          names: boxes(list).map(function (box) { return box.value; }),
          ticked: boxes(list).filter(function (box) { return box.checked; }).map(function (box) { return box.value; })
        };
      }
    });

    /* One list of every kind, its boxes copies of the first list's, without
       names (the programs' own lists are what is sent), and not restored by
       the browser (the programs' are, and the shared one follows them). */
    var shared = element("fieldset", "field databases");
    shared.append(element("legend", null, "Databases"));
    var hint = element("p", "hint", "Tick the databases to search: the programs below are narrowed to those that fit them and the sequence.");
    hint.id = "databases-hint";
    shared.append(hint);
    shared.setAttribute("aria-describedby", hint.id);
    var focus = null;
    kinds.forEach(function (kind, k) {
      var group = element("fieldset", "field choices");
      group.append(element("legend", null, kind.legend));
      var invalid = kind.lists.filter(function (list) { return list.classList.contains("invalid"); })[0];
      if (invalid) {
        /* The error the server sent back, beside the boxes the reader sees. */
        var error = invalid.querySelector(".field-error");
        group.classList.add("invalid");
        group.setAttribute("aria-invalid", "true");
        if (error) {
          var said = error.cloneNode(true);
          said.id = "databases." + k + "-error";
          group.setAttribute("aria-describedby", said.id);
          group.append(said);
        }
      }
      boxes(kind.lists[0]).forEach(function (original) {
        var copy = original.closest("div.choice").cloneNode(true);
        var box = copy.querySelector('input[type="checkbox"]');
        var label = copy.querySelector("label");
        box.removeAttribute("name");
        box.removeAttribute("autofocus");
        box.autocomplete = "off";
        box.id = "databases." + k + "." + box.value;
        label.htmlFor = box.id;
        box.addEventListener("change", function () {
          copyTicks();
          narrow(true);
        });
        if (invalid && !focus) focus = box;
        kind.boxes.push(box);
        group.append(copy);
      });
      shared.append(group);
    });
    var why = element("p", "hint fit");
    why.id = "fit";
    why.setAttribute("role", "status");
    picker.parentNode.insertBefore(shared, picker);
    picker.querySelector("legend").after(why);
    lists.forEach(function (list) { list.hidden = true; });
    /* A radio the keyboard reaches says why some are greyed out. */
    radios.forEach(function (radio) {
      var described = radio.getAttribute("aria-describedby");
      radio.setAttribute("aria-describedby", described ? described + " fit" : "fit");
    });

    function current() {
      return radios.filter(function (radio) { return radio.checked; })[0];
    }

    /* The shared list ticked as the chosen program's own is: at the start,
       and when the browser restores the form on the way back to it. */
    function fromChosen() {
      var chosen = current();
      var own = chosen && searches[chosen.value];
      if (!own) return;
      kinds.forEach(function (kind) {
        kind.boxes.forEach(function (box) {
          var mine = kind === own.kind && boxes(own.list).some(function (b) { return b.value === box.value && b.checked; });
          box.checked = mine;
        });
      });
    }

    /* Every program's own list ticked as the shared one is. */
    function copyTicks() {
      kinds.forEach(function (kind) {
        kind.lists.forEach(function (list) {
          boxes(list).forEach(function (own) {
            var box = kind.boxes.filter(function (b) { return b.value === own.value; })[0];
            own.checked = !!(box && box.checked);
          });
        });
      });
    }

    function ticked() {
      var found = [];
      kinds.forEach(function (kind) {
        kind.boxes.forEach(function (box) {
          if (box.checked) found.push({ kind: kind, name: box.value });
        });
      });
      return found;
    }

    function alphabet() {
      if (sequence && sequence.value.trim() !== "") return alphabetOf(sequence.value);
      return fileAlphabet;
    }

    /* Whether `radio`'s pipeline takes the query and searches every database ticked. */
    function fits(radio, query, databases) {
      var takes = (radio.dataset.alphabets || "").split(" ");
      if (query && takes.indexOf(query) < 0) return false;
      var own = searches[radio.value];
      if (!own || databases.length === 0) return true;
      return databases.every(function (db) {
        return db.kind === own.kind && own.names.indexOf(db.name) >= 0;
      });
    }

    function choose(radio) {
      radio.checked = true;
      /* The page's own script shows that pipeline's parameters. */
      radio.dispatchEvent(new Event("change", { bubbles: true }));
    }

    /* Narrows the programs; `databasesChanged` when the reader just ticked
       or unticked a database, which moves a choice of a pipeline without
       databases to the usual program. */
    function narrow(databasesChanged) {
      var query = alphabet();
      var databases = ticked();
      var kindsTicked = kinds.filter(function (kind) {
        return databases.some(function (db) { return db.kind === kind; });
      });
      var fitting = radios.filter(function (radio) { return fits(radio, query, databases); });
      var searching = fitting.filter(function (radio) { return searches[radio.value]; });
      var chosen = current();
      var chosenSearches = chosen && searches[chosen.value];
      var wantsDatabases = databases.length > 0 && (databasesChanged || chosenSearches);
      var usual = (wantsDatabases ? searching : fitting)[0];
      if (usual && (!chosen || fitting.indexOf(chosen) < 0 || (databasesChanged && databases.length > 0 && !chosenSearches))) {
        choose(usual);
        chosen = usual;
      }
      /* What does not fit cannot be chosen, unless nothing would be left;
         the choice standing stays, so that the form always sends one. */
      radios.forEach(function (radio) {
        radio.disabled = fitting.length > 0 && fitting.indexOf(radio) < 0 && radio !== chosen;
      });
      var line = saying(query, kindsTicked, searching, chosen);
      if (why.textContent !== line) why.textContent = line;
      /* Two kinds at once, for a program that searches them: the browser
         says why and sends nothing. */
      kinds.forEach(function (kind) {
        kind.boxes.forEach(function (box) { box.setCustomValidity(""); });
      });
      if (kindsTicked.length > 1 && chosen && searches[chosen.value]) {
        var first = databases[0].kind.boxes.filter(function (box) { return box.checked; })[0];
        first.setCustomValidity(line);
      }
    }

    /* The line that says why the programs offered are these. */
    function saying(query, kindsTicked, searching, chosen) {
      if (query === "mixed") {
        return "Some records read as DNA or RNA and some as protein: no one program takes both; submit them apart.";
      }
      if (kindsTicked.length > 1) {
        var both = either(kindsTicked.map(function (kind) { return kind.legend.replace(/ databases$/i, "").toLowerCase(); }), true);
        return both.charAt(0).toUpperCase() + both.slice(1) + " databases are not searched in one run: tick one kind.";
      }
      var what = kindsTicked.length === 1 ? kindsTicked[0].legend.toLowerCase() : null;
      var names = searching.map(function (radio) { return radio.value; });
      if (!query && !what) return "";
      if (!what) {
        return names.length === 0 ? "" :
          QUERIES[query] + ": " + either(names) + " search databases with it; tick the databases to search.";
      }
      if (!query) {
        return names.length === 0 ? "" :
          (names.length === 1 ? names[0] + " searches " : either(names) + " search ") + what +
          "; paste a sequence to narrow them to those that take it.";
      }
      var pair = QUERIES[query] + " and " + what;
      if (names.length === 0) return pair + ": no program here searches those with such a query.";
      if (!chosen || names.indexOf(chosen.value) < 0) return pair + ": " + either(names) + " fit.";
      var others = names.filter(function (name) { return name !== chosen.value; });
      return pair + ": " + chosen.value + (others.length === 0
        ? ", the one program that fits."
        : " is chosen; " + either(others) + (others.length === 1 ? " fits" : " fit") + " too.");
    }

    var settling = null;
    if (sequence) {
      sequence.addEventListener("input", function () {
        clearTimeout(settling);
        settling = setTimeout(function () { narrow(false); }, SETTLE_MS);
      });
    }
    if (file) {
      file.addEventListener("change", function () {
        var chosenFile = file.files && file.files[0];
        var read = ++fileReads;
        fileAlphabet = null;
        if (!chosenFile) return narrow(false);
        chosenFile.slice(0, FILE_PEEK_BYTES).text().then(function (text) {
          /* Only the file chosen last counts. */
          if (read !== fileReads) return;
          fileAlphabet = alphabetOf(text);
          narrow(false);
        }, function () {
          /* Unreadable here: the server reads it when it is sent. */
        });
      });
    }
    radios.forEach(function (radio) {
      radio.addEventListener("change", function (event) {
        /* A program the reader chose with nothing ticked: its own defaults. */
        var own = searches[radio.value];
        if (event.isTrusted && own && ticked().length === 0) {
          own.kind.boxes.forEach(function (box) { box.checked = own.ticked.indexOf(box.value) >= 0; });
          copyTicks();
        }
        narrow(false);
      });
    });
    /* What is ticked is what is sent, whatever the browser restored. */
    form.addEventListener("submit", copyTicks);
    /* Back to the page: the browser may have restored another choice, other
       ticks or other text. */
    window.addEventListener("pageshow", function () {
      fromChosen();
      copyTicks();
      narrow(false);
    });
    fromChosen();
    copyTicks();
    narrow(false);
    if (focus) focus.focus();
  }

  document.querySelectorAll("form[data-submit]").forEach(chooser);
})();
