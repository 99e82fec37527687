//! The command line as a user meets it, and the manual held to the code.
//!
//! The real binary's help lists its commands, `seqspool help` and `seqspool
//! help user` work, a bad command line is refused as clap refuses it, and
//! `seqspool` alone serves as `seqspool serve` does. The options table of
//! `docs/operator.md` says what the clap definition says (every option, its
//! variable, its name in the configuration file, its default, its values),
//! every other command's options are in the operator's manual or the
//! scientist's guide, and every link of the manual lands on a file and a
//! heading that exist.

use crate::common::{request, seqspool as binary, Binary};

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

fn seqspool(args: &[&str]) -> Output {
    binary()
        .args(args)
        .output()
        .expect("running the seqspool binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The names listed under `Commands:` in a help text.
fn commands_listed(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn the_help_lists_the_commands_and_hides_the_runner() {
    for args in [&["--help"][..], &["-h"], &["help"]] {
        let out = seqspool(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let help = text(&out.stdout);
        assert_eq!(
            commands_listed(&help),
            [
                "serve",
                "submit",
                "status",
                "list",
                "wait",
                "results",
                "cancel",
                "retry",
                "queue",
                "user",
                "retention",
                "db",
                "completions",
                "man",
                "help"
            ],
            "{args:?}:\n{help}"
        );
        assert!(help.contains("Usage: seqspool [OPTIONS]"), "{help}");
        assert!(help.contains("--experiments <DIR>"), "{help}");
        assert!(!help.contains("runner"), "{args:?}:\n{help}");
    }
    // The README shows the same list, word for word.
    let help = text(&seqspool(&["--help"]).stdout);
    let listed = |text: &str| -> Vec<String> {
        text.lines()
            .skip_while(|line| *line != "Commands:")
            .take_while(|line| !line.trim().is_empty() && !line.starts_with("```"))
            .map(str::to_owned)
            .collect()
    };
    let readme = fs::read_to_string(repository().join("README.md")).unwrap();
    assert_eq!(
        listed(&readme),
        listed(&help),
        "README.md's list of commands is not --help's"
    );
    let version = seqspool(&["--version"]);
    assert!(version.status.success());
    assert!(text(&version.stdout).starts_with("seqspool "));
}

#[test]
fn the_help_of_a_command_is_its_own() {
    for args in [&["help", "user"][..], &["user", "--help"]] {
        let out = seqspool(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let help = text(&out.stdout);
        assert!(help.contains("Usage: seqspool user"), "{help}");
        assert_eq!(
            commands_listed(&help),
            ["add", "list", "rotate", "remove", "help"],
            "{help}"
        );
    }
    let out = seqspool(&["help", "retention"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(help.contains("Usage: seqspool retention"), "{help}");
    assert!(help.contains("--dry-run"), "{help}");
    // Every server option is taken, but only those that matter are shown.
    assert!(!help.contains("--max-body"), "{help}");
    let out = seqspool(&["help", "serve"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("--max-body <BYTES>"));
}

#[test]
fn a_bad_command_line_is_refused_as_clap_refuses_it() {
    for (args, says) in [
        (&["bogus"][..], "unrecognized subcommand 'bogus'"),
        (&["help", "bogus"], "unrecognized subcommand 'bogus'"),
        (&["--capacity", "3", "user", "list"], "cannot be used with"),
        (
            &["--max-body", "0"],
            "invalid value '0' for '--max-body <BYTES>'",
        ),
        (
            &["serve", "--no-such-option"],
            "unexpected argument '--no-such-option'",
        ),
        (&["user"], "Usage: seqspool user"),
        (&["retention"], "--dry-run"),
    ] {
        let out = seqspool(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let stderr = text(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
    }
}

#[test]
fn seqspool_alone_and_seqspool_serve_both_serve() {
    for serve in [&[][..], &["serve"]] {
        let dir = tempfile::tempdir().unwrap();
        let mut command = binary();
        command
            .args(serve)
            .args(["--bind", "127.0.0.1:0", "--experiments"])
            .arg(dir.path().join("experiments"));
        let binary = Binary::spawn(command);
        let backlog = request(binary.addr, "GET", "/backlog", &[], b"");
        assert_eq!(backlog.status, 200, "{serve:?}: {}", backlog.text());
        assert_eq!(
            backlog.text().trim_end(),
            r#"["Currently 0 jobs in the backlog."]"#
        );
    }
}

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The rows of the options table of `docs/operator.md`, by long name: each
/// row's cells.
fn options_table() -> BTreeMap<String, Vec<String>> {
    let manual = std::fs::read_to_string(repository().join("docs/operator.md")).unwrap();
    let mut rows = BTreeMap::new();
    for line in manual.lines().filter(|line| line.starts_with("| `--")) {
        let cells: Vec<String> = line
            .trim_matches('|')
            .split(" | ")
            .map(|cell| cell.trim().to_owned())
            .collect();
        let long = cells[0]
            .trim_start_matches("`--")
            .split([' ', '`'])
            .next()
            .unwrap()
            .to_owned();
        assert!(
            rows.insert(long.clone(), cells).is_none(),
            "--{long} has two rows"
        );
    }
    rows
}

/// The options a command shows in its help: not hidden, not clap's own.
fn shown(command: &clap::Command) -> Vec<&clap::Arg> {
    command
        .get_arguments()
        .filter(|arg| !arg.is_hide_set())
        .filter(|arg| !matches!(arg.get_id().as_str(), "help" | "version"))
        .collect()
}

#[test]
fn the_options_table_says_what_the_command_line_says() {
    let cli = seqspool::cli::definition();
    let table = options_table();
    let options = shown(&cli);
    let serve = cli.find_subcommand("serve").unwrap();
    let longs = |args: &[&clap::Arg]| -> BTreeSet<String> {
        args.iter()
            .filter_map(|arg| arg.get_long().map(str::to_owned))
            .collect()
    };
    assert_eq!(
        longs(&options),
        longs(&shown(serve)),
        "seqspool and seqspool serve take the same options"
    );
    assert_eq!(
        longs(&options),
        table.keys().cloned().collect(),
        "the options of `seqspool --help` (left) and the table of docs/operator.md (right)"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seqspool.toml");
    for arg in options {
        let long = arg.get_long().unwrap();
        let cells = &table[long];
        let [_, env, key, default, what] = &cells[..] else {
            panic!("--{long}: a row has five cells: {cells:?}");
        };
        let env_var = arg.get_env().unwrap().to_str().unwrap();
        assert_eq!(env, &format!("`{env_var}`"), "--{long}'s variable");
        for value in arg.get_default_values() {
            let value = format!("`{}`", value.to_str().unwrap());
            assert!(default.contains(&value), "--{long}'s default is {value}");
        }
        for value in arg.get_possible_values() {
            let value = format!("`{}`", value.get_name());
            assert!(what.contains(&value), "--{long} takes {value}");
        }
        // A key the file does not know is refused as unknown; one it knows,
        // given a table, as the wrong type.
        let (key, known) = match key.as_str() {
            "—" => (arg.get_id().as_str().to_owned(), false),
            key => (key.trim_matches('`').to_owned(), true),
        };
        let refused = seqspool::Config::new(dir.path())
            .apply_file(&format!("{key} = {{}}"), &file, None)
            .unwrap_err();
        assert_eq!(
            !refused.contains("unknown field"),
            known,
            "--{long}: the file's `{key}`: {refused}"
        );
    }
    // The other commands' options are in the manual too: the operator's
    // commands in docs/operator.md, the client's in docs/guide.md.
    let manual: String = ["docs/operator.md", "docs/guide.md"]
        .iter()
        .map(|page| std::fs::read_to_string(repository().join(page)).unwrap())
        .collect();
    let mut commands = vec![cli.clone()];
    while let Some(command) = commands.pop() {
        commands.extend(command.get_subcommands().cloned());
        for long in shown(&command).iter().filter_map(|arg| arg.get_long()) {
            assert!(
                manual.contains(&format!("`--{long}")),
                "{} --{long} is in neither docs/operator.md nor docs/guide.md",
                command.get_name()
            );
        }
    }
}

/// The anchor GitHub gives a heading: lower case, spaces as `-`, and no
/// punctuation but `-` and `_`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The lines of a Markdown file outside its fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

fn anchors(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = BTreeSet::new();
    for line in prose(&text) {
        let Some(heading) = line.strip_prefix('#') else {
            continue;
        };
        let slug = anchor(heading.trim_start_matches('#'));
        let count = seen.entry(slug.clone()).or_default();
        anchors.insert(match *count {
            0 => slug.clone(),
            n => format!("{slug}-{n}"),
        });
        *count += 1;
    }
    anchors
}

#[test]
fn every_link_of_the_manual_lands_on_a_file_and_a_heading() {
    let mut pages: Vec<PathBuf> = vec![repository().join("README.md")];
    for entry in std::fs::read_dir(repository().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "md") {
            pages.push(path);
        }
    }
    assert!(pages.len() >= 5, "{pages:?}");
    let mut broken = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for line in prose(&text) {
            for piece in line.split("](").skip(1) {
                let Some(target) = piece.split(')').next() else {
                    continue;
                };
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (file, fragment) = match target.split_once('#') {
                    Some((file, fragment)) => (file, Some(fragment)),
                    None => (target, None),
                };
                let file = match file {
                    "" => page.clone(),
                    file => page.parent().unwrap().join(file),
                };
                let lands = file.exists()
                    && fragment.is_none_or(|fragment| anchors(&file).contains(fragment));
                if !lands {
                    broken.push(format!("{}: {target}", page.display()));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links that land nowhere:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_packages_configuration_file_is_one_the_server_reads_and_the_unit_names_it() {
    let file = repository().join("packaging/seqspool.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = seqspool::Config::new(dir.path());
    config
        .apply_file(&text, &file, None)
        .unwrap_or_else(|err| panic!("packaging/seqspool.toml: {err}"));
    assert_eq!(config.bind.to_string(), "127.0.0.1:8000");
    assert_eq!(
        config.experiments,
        Path::new("/var/lib/seqspool/experiments")
    );

    let unit = std::fs::read_to_string(repository().join("packaging/seqspool.service")).unwrap();
    for line in [
        "ExecStart=/usr/bin/seqspool serve",
        "Environment=SEQSPOOL_CONFIG=/etc/seqspool/seqspool.toml",
        "User=seqspool",
        "ReadWritePaths=/var/lib/seqspool",
        "LimitNOFILE=65536",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit lacks {line}");
    }
}

#[test]
fn seqspool_user_finds_the_experiments_directory_its_configuration_file_names() {
    let lab = tempfile::tempdir().unwrap();
    let data = lab.path().join("data");
    let file = lab.path().join("seqspool.toml");
    std::fs::write(
        &file,
        format!("experiments = {:?}\n", data.join("experiments")),
    )
    .unwrap();
    let here = lab.path().join("elsewhere");
    std::fs::create_dir(&here).unwrap();
    for how in ["--config", "SEQSPOOL_CONFIG"] {
        let mut command = binary();
        command.current_dir(&here).args(["user", "list"]);
        match how {
            "--config" => command.arg("--config").arg(&file),
            _ => command.env("SEQSPOOL_CONFIG", &file),
        };
        let out = command.env_remove("SEQSPOOL_EXPERIMENTS").output().unwrap();
        assert!(out.status.success(), "{how}: {}", text(&out.stderr));
        let said = text(&out.stderr);
        assert!(
            said.contains(&format!(
                "no users in {}",
                data.join("experiments/.users.json").display()
            )),
            "{how}: {said}"
        );
    }
}
