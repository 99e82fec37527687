//! Grouped runs (`group = N`): one run of a pipeline's command serves the
//! experiments next in line that want the same search, each member RUNNING
//! on disk with its group before the command starts, its results moved into
//! its own directory, a member failed alone by its `failed` file, a failed
//! group's members run again one by one, a member cancelled at once while
//! the others go on, and a `kill -9` mid-group that loses and doubles
//! nothing. The command is `examples/group_letters.sh`, behind a wrapper that
//! logs what each run served and checks the members' records itself.

use crate::common::*;

use std::fs;
use std::path::Path;

use serde_json::{json, Value};

/// The wrapper every pipeline here runs: it logs `group ID ID...` (after
/// checking that each member's record on disk is RUNNING with this group) or
/// `alone ID`, runs `BEFORE` (a line of shell), then the example.
fn wrapper(lab: &Lab, before: &str) -> String {
    let script = lab.path(&format!("wrapper-{}.sh", before.len()));
    let text = r#"t='@LAB@'
if [ -n "${SEQSPOOL_GROUP:-}" ]; then
  n=$(wc -l < "$SEQSPOOL_GROUP" | tr -d ' ')
  members=""
  tab=$(printf '\t')
  while IFS="$tab" read -r id out name; do
    flat=$(tr -d ' \n' < "$EXPERIMENT_DIR/../../$id/experiment.json")
    case $flat in
      *'"state":"RUNNING"'*'"group":{"id":"'"$EXPERIMENT_ID"'","size":'"$n"'}'*) ;;
      *) echo "unrecorded $id" >> "$t/run.log" ;;
    esac
    [ -d "$out" ] || echo "no-output-dir $id" >> "$t/run.log"
    members="$members $id"
  done < "$SEQSPOOL_GROUP"
  echo "group$members" >> "$t/run.log"
else
  echo "alone $EXPERIMENT_ID" >> "$t/run.log"
fi
@BEFORE@
exec sh '@EXAMPLE@'
"#
    .replace("@LAB@", &lab.dir().display().to_string())
    .replace("@BEFORE@", before)
    .replace(
        "@EXAMPLE@",
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/group_letters.sh"),
    );
    fs::write(&script, text).unwrap();
    script.display().to_string()
}

/// A `[[pipeline]]` table named `name`, grouping `group`, running the wrapper with `before`.
fn pipeline(lab: &Lab, name: &str, group: usize, before: &str, extra: &str) -> String {
    format!(
        "[[pipeline]]\nname = \"{name}\"\ncommand = [\"sh\", \"{}\"]\ngroup = {group}\n{extra}\n\
         [[pipeline.param]]\nname = \"tag\"\ntype = \"text\"\ndefault = \"a\"\n\n",
        wrapper(lab, before)
    )
}

fn submit_to(server: &Server, pipeline: &str, tag: &str, name: &str, sequence: &str) -> String {
    let answer = server.post_json(
        "/experiments",
        &json!({"query_name": name, "query_sequence": sequence, "pipeline": pipeline, "params": {"tag": tag}}),
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    answer.json()["id"].as_str().unwrap().to_owned()
}

fn resume(server: &Server) {
    let resumed = request(server.addr, "POST", "/queue/resume", &[], b"");
    assert_eq!(resumed.status, 200, "{}", resumed.text());
}

/// Waits until `id` has finished, and returns its record.
fn finished(server: &Server, id: &str) -> Value {
    let mut record = Value::Null;
    wait_until(&format!("{id} finishes"), || {
        record = server.get(&format!("/experiments/{id}")).json();
        !matches!(record["state"].as_str(), Some("QUEUED" | "RUNNING"))
    });
    record
}

/// The letter counts an experiment's `letters.tsv` holds, sorted.
fn letters(dir: &Path, id: &str) -> Vec<String> {
    let text = fs::read_to_string(dir.join(id).join("letters.tsv"))
        .unwrap_or_else(|err| panic!("{id}/letters.tsv: {err}"));
    let mut lines: Vec<String> = text.lines().skip(1).map(str::to_owned).collect();
    lines.sort();
    lines
}

/// The files of an experiment's directory, hidden ones left out, sorted.
fn files(dir: &Path, id: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir.join(id))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// What is left under the experiments' `.groups`.
fn group_dirs(dir: &Path) -> Vec<String> {
    fs::read_dir(dir.join(".groups"))
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_group_forms_from_adjacent_alike_experiments_and_each_member_gets_its_own_results() {
    let lab = Lab::new();
    lab.config(&pipeline(&lab, "letters", 3, "", ""));
    let server = lab.server(|_| {});
    pause_queue(server.addr, "loading");
    // Four alike, one with another tag, then two alike again, the last with an N.
    let sequences = [
        "ACGTAC", "AAAACG", "CCCCGT", "GGGTTA", "TTTTAC", "ACACAC", "ACNNGT",
    ];
    let tags = ["a", "a", "a", "a", "b", "a", "a"];
    let ids: Vec<String> = sequences
        .iter()
        .zip(tags)
        .enumerate()
        .map(|(n, (sequence, tag))| submit_to(&server, "letters", tag, &format!("w{n}"), sequence))
        .collect();
    resume(&server);
    let records: Vec<Value> = ids.iter().map(|id| finished(&server, id)).collect();

    // Up to three, stopping at the first that differs; the order never changes.
    let runs: Vec<String> = lab.log();
    let expected = vec![
        format!("group {} {} {}", ids[0], ids[1], ids[2]),
        format!("alone {}", ids[3]),
        format!("alone {}", ids[4]),
        format!("group {} {}", ids[5], ids[6]),
    ];
    assert_eq!(
        runs, expected,
        "every member was RUNNING with its group on disk before the command started"
    );
    for (n, record) in records.iter().enumerate() {
        let group = match n {
            0..=2 => json!({"id": ids[0], "size": 3}),
            5 | 6 => json!({"id": ids[5], "size": 2}),
            _ => Value::Null,
        };
        assert_eq!(record["group"], group, "{record:#}");
        assert_eq!(record["attempts"], 1);
        assert!(record.get("solo").is_none(), "{record:#}");
    }

    // Each member's results are its own, in its own directory.
    for n in [0, 1, 2, 3, 4, 5] {
        assert_eq!(records[n]["state"], "COMPLETE", "{:#}", records[n]);
        let mut expected: Vec<String> = "ACGTN"
            .chars()
            .filter_map(|letter| {
                let count = sequences[n].matches(letter).count();
                (count > 0).then(|| format!("{letter}\t{count}"))
            })
            .collect();
        expected.sort();
        assert_eq!(letters(&server.dir, &ids[n]), expected, "{}", ids[n]);
        assert_eq!(
            files(&server.dir, &ids[n]),
            [
                "experiment.json",
                "letters.tsv",
                "query.fasta",
                "stderr.txt",
                "stdout.txt"
            ]
        );
    }
    // The member with an N failed alone, with the reason the command gave.
    assert_eq!(records[6]["state"], "EXECUTOR_ERROR", "{:#}", records[6]);
    assert_eq!(records[6]["error"], "the query holds an N");
    assert_eq!(
        files(&server.dir, &ids[6]),
        ["experiment.json", "query.fasta", "stderr.txt", "stdout.txt"]
    );
    // Nothing anywhere else: no results at the root, no group directory left.
    assert!(
        group_dirs(&server.dir).is_empty(),
        "{:?}",
        group_dirs(&server.dir)
    );
    assert!(!server.dir.join("letters.tsv").exists());
    let log = fs::read_to_string(server.dir.join(&ids[1]).join("stdout.txt")).unwrap();
    assert!(
        log.starts_with(&format!(
            "seqspool: searched with 2 others in one run (group {})",
            ids[0]
        )),
        "{log}"
    );

    // The page says which group served it.
    let page = request(
        server.addr,
        "GET",
        &format!("/experiments/{}", ids[1]),
        &[("Accept", BROWSER_ACCEPT)],
        b"",
    )
    .text();
    assert!(page.contains("searched with 2 others in one run"), "{page}");
    assert!(
        page.contains(&format!("href=\"/experiments/{}\"", ids[0])),
        "{page}"
    );

    // /metrics counts the groups and their sizes.
    let metrics = server.get("/metrics").text();
    for line in [
        "seqspool_groups_run_total 2",
        "seqspool_group_size_count 2",
        "seqspool_group_size_sum 5.0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
}

#[test]
fn a_group_whose_command_fails_runs_its_members_again_alone_and_only_a_bad_query_fails() {
    let lab = Lab::new();
    let grouped = r#"[ -n "${SEQSPOOL_GROUP:-}" ] &&"#;
    lab.config(&format!(
        "{}{}{}",
        pipeline(&lab, "exits", 3, &format!("{grouped} exit 2"), ""),
        pipeline(&lab, "killed", 3, &format!("{grouped} kill -9 $$"), ""),
        pipeline(
            &lab,
            "slow",
            3,
            &format!("{grouped} sleep 60"),
            "timeout = 2"
        ),
    ));
    let server = lab.server(|_| {});
    pause_queue(server.addr, "loading");
    let mut ids = Vec::new();
    for name in ["exits", "killed", "slow"] {
        for sequence in ["ACGT", "ACNT", "GGCA"] {
            ids.push((name, submit_to(&server, name, "a", name, sequence)));
        }
    }
    resume(&server);
    for (n, (pipeline, id)) in ids.iter().enumerate() {
        let record = finished(&server, id);
        let first = &ids[n - n % 3].1;
        let want = if n % 3 == 1 {
            "EXECUTOR_ERROR"
        } else {
            "COMPLETE"
        };
        assert_eq!(record["state"], want, "{pipeline}: {record:#}");
        assert_eq!(
            record["attempts"], 1,
            "the group's failure is not counted: {record:#}"
        );
        assert!(record.get("group").is_none(), "it ran alone: {record:#}");
        let solo = record["solo"].as_str().unwrap_or_default();
        let why = match *pipeline {
            "exits" => "exited with code 2",
            "killed" => "signal 9",
            _ => "timed out after 6 s",
        };
        assert!(
            solo.starts_with(&format!("its group {first} failed")) && solo.contains(why),
            "{pipeline}: {record:#}"
        );
    }
    // Each group ran once, then each member alone, in order.
    let log = lab.log();
    let alone: Vec<String> = log
        .iter()
        .filter(|l| l.starts_with("alone"))
        .cloned()
        .collect();
    let want: Vec<String> = ids.iter().map(|(_, id)| format!("alone {id}")).collect();
    assert_eq!(alone, want, "{log:?}");
    assert_eq!(
        log.iter().filter(|l| l.starts_with("group")).count(),
        3,
        "{log:?}"
    );
    assert!(group_dirs(&server.dir).is_empty());
}

#[test]
fn a_member_cancelled_while_its_group_runs_is_canceled_at_once_and_cancelling_all_stops_the_run() {
    let lab = Lab::new();
    let wait = r#"echo $$ > "$t/pid-$EXPERIMENT_ID"; while [ ! -e "$t/gate-$EXPERIMENT_ID" ]; do sleep 0.02; done"#;
    lab.config(&pipeline(&lab, "gated", 3, wait, ""));
    let server = lab.server(|_| {});
    let submit_three = |server: &Server| -> Vec<String> {
        pause_queue(server.addr, "loading");
        let ids: Vec<String> = ["ACGT", "CCGG", "TTAA"]
            .iter()
            .map(|sequence| submit_to(server, "gated", "a", "g", sequence))
            .collect();
        resume(server);
        ids
    };

    let ids = submit_three(&server);
    let pid_file = lab.path(&format!("pid-{}", ids[0]));
    wait_until("the group's command starts", || pid_file.exists());
    let answer = server.delete(&format!("/experiments/{}", ids[1]));
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["state"], "CANCELED");
    // At once, on disk and in the index, while the others run on.
    assert_eq!(record_on_disk(&server.dir, &ids[1])["state"], "CANCELED");
    assert_eq!(
        server.get(&format!("/experiments/{}", ids[0])).json()["state"],
        "RUNNING"
    );
    fs::write(lab.path(&format!("gate-{}", ids[0])), "").unwrap();
    for id in [&ids[0], &ids[2]] {
        assert_eq!(finished(&server, id)["state"], "COMPLETE");
    }
    assert_eq!(finished(&server, &ids[1])["state"], "CANCELED");
    assert_eq!(
        files(&server.dir, &ids[1]),
        ["experiment.json", "query.fasta"],
        "a cancelled member gets no results"
    );

    // Cancelling every member stops the run: its command is killed.
    let ids = submit_three(&server);
    let leader = Process::from_pid_file(&lab.path(&format!("pid-{}", ids[0])));
    for id in &ids {
        let answer = server.delete(&format!("/experiments/{id}"));
        assert!(matches!(answer.status, 200 | 202), "{}", answer.text());
    }
    for id in &ids {
        assert_eq!(finished(&server, id)["state"], "CANCELED");
    }
    wait_until("the group's command is gone", || leader.is_gone());
    wait_until("its group directory is gone", || {
        group_dirs(&server.dir).is_empty()
    });
    for id in &ids {
        assert!(!server.dir.join(id).join("letters.tsv").exists());
    }
}

#[test]
fn estimates_learn_a_members_share_of_its_groups_time() {
    let lab = Lab::new();
    let wait = r#"[ -n "${SEQSPOOL_GROUP:-}" ] || while [ ! -e "$t/gate" ]; do sleep 0.02; done"#;
    lab.config(&pipeline(&lab, "shared", 4, wait, ""));
    let server = lab.server(|_| {});
    pause_queue(server.addr, "loading");
    let group: Vec<String> = (0..4)
        .map(|n| submit_to(&server, "shared", "a", &format!("g{n}"), "ACGTACGT"))
        .collect();
    resume(&server);
    let records: Vec<Value> = group.iter().map(|id| finished(&server, id)).collect();
    // The index's rule: each member's share is its run's time over the group's size.
    let millis = |value: &Value| {
        let text = value.as_str().unwrap();
        let out = std::process::Command::new("date")
            .args(["-u", "-d", text, "+%s%3N"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    let mut shares: Vec<u64> = records
        .iter()
        .map(|r| (millis(&r["finished_at"]) - millis(&r["started_at"])) / 4)
        .collect();
    shares.sort_unstable();
    let median = shares[shares.len() / 2];

    // One alone (waiting at the gate), one behind it: its estimate is one share long.
    let running = submit_to(&server, "shared", "a", "r", "ACGT");
    server.wait_for_state(&running, "RUNNING");
    let waiting = submit_to(&server, "shared", "b", "w", "ACGT");
    let eta = server.get(&format!("/experiments/{waiting}")).json()["eta"].clone();
    assert_eq!(
        millis(&eta["finish"]) - millis(&eta["start"]),
        median,
        "{eta:#} from shares {shares:?}"
    );
    fs::write(lab.path("gate"), "").unwrap();
    finished(&server, &waiting);
}

#[test]
fn a_kill_9_during_a_group_runs_it_again_and_every_member_completes_once() {
    let lab = Lab::new();
    let block = r#"if [ ! -e "$t/blocked" ]; then : > "$t/blocked"; sleep 300 & echo $! > "$t/child.pid"; echo $$ > "$t/leader.pid"; wait; fi"#;
    lab.config(&pipeline(&lab, "letters", 3, block, ""));
    let mut server = lab.binary(&[]);
    let paused = request(server.addr, "POST", "/queue/pause?reason=loading", &[], b"");
    assert_eq!(paused.status, 200);
    let ids: Vec<String> = ["ACGT", "CCGG", "TTAA"]
        .iter()
        .map(|sequence| {
            let answer = request(
                server.addr,
                "POST",
                "/experiments",
                &[("Content-Type", "application/json")],
                json!({"query_name": "k", "query_sequence": sequence, "pipeline": "letters"})
                    .to_string()
                    .as_bytes(),
            );
            assert_eq!(answer.status, 202, "{}", answer.text());
            answer.json()["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        request(server.addr, "POST", "/queue/resume", &[], b"").status,
        200
    );
    wait_until("the group blocks", || lab.path("child.pid").exists());
    let leftovers = Leftovers(vec![
        Process::from_pid_file(&lab.path("leader.pid")),
        Process::from_pid_file(&lab.path("child.pid")),
    ]);
    server.crash();

    let server = lab.binary(&[]);
    for id in &ids {
        let record = wait_for_state(server.addr, id, "COMPLETE");
        assert_eq!(record["attempts"], 2, "{record:#}");
        assert_eq!(record["group"]["id"], ids[0].as_str());
        assert_eq!(
            files(&lab.experiments(), id),
            [
                "experiment.json",
                "letters.tsv",
                "query.fasta",
                "stderr.txt",
                "stdout.txt"
            ]
        );
    }
    assert!(
        leftovers.all_gone(),
        "the interrupted group's processes are gone"
    );
    let groups: Vec<String> = lab
        .log()
        .into_iter()
        .filter(|l| l.starts_with("group"))
        .collect();
    let once = format!("group {} {} {}", ids[0], ids[1], ids[2]);
    assert_eq!(groups, [once.clone(), once], "it ran again, whole");
    assert!(group_dirs(&lab.experiments()).is_empty());
    drop(server);
}

#[test]
fn a_warm_pipeline_that_says_group_does_not_start_and_says_why() {
    let lab = Lab::new();
    lab.config(
        "[[pipeline]]\nname = \"model\"\nexecutor = \"warm\"\ncommand = \"cat\"\ngroup = 96\n",
    );
    let output = output_within(&mut lab.command(&[]));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "it started: {said}");
    assert!(
        said.contains("pipeline 'model'")
            && said.contains("warm pipeline does not group")
            && said.contains("`group`"),
        "{said}"
    );
}
