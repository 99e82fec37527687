//! The configuration file's `[[pipeline]]` tables, as the lab writes them,
//! and the checks that turn one into a [`Pipeline`]: a mistake is refused at
//! start, naming the pipeline and the field, never met at the first
//! experiment.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::param::{check_exclusive, Param, ParamKind};
use super::slurm::SlurmTable;
use super::{Command, Definition, ExecutorKind, Pipeline, ResultFile};
use crate::query::Alphabet;

/// Longest pipeline name: it goes into URLs, forms and log lines.
const MAX_NAME: usize = 40;
/// Longest parameter name: it becomes `PARAM_<NAME>` in the environment.
const MAX_PARAM_NAME: usize = 32;
/// Most experiments one grouped run may serve: a 384-well plate and room
/// to spare; the group's query file and manifest stay a few megabytes.
pub(crate) const MAX_GROUP: usize = 1000;
/// Default longest text a free-text parameter takes: a label, a short list,
/// not a document.
const DEFAULT_MAX_TEXT: usize = 200;

/// One `[[pipeline]]` table as the file writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PipelineTable {
    name: String,
    title: Option<String>,
    description: Option<String>,
    /// A program and its arguments (`["blastn", "-task", "megablast"]`), or a
    /// shell line; none with the built-in executor.
    command: Option<Command>,
    #[serde(default)]
    executor: Option<ExecutorKind>,
    alphabets: Option<Vec<Alphabet>>,
    /// Seconds.
    timeout: Option<f64>,
    check: Option<String>,
    /// A warm pipeline's: start its processor with the server.
    preload: Option<bool>,
    /// A warm pipeline's: seconds its processor may take to say it is ready.
    start_timeout: Option<f64>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default, rename = "param")]
    params: Vec<ParamTable>,
    #[serde(default, rename = "result")]
    results: Vec<ResultFile>,
    /// `[pipeline.slurm]`: what its jobs ask of the cluster.
    slurm: Option<SlurmTable>,
    /// Most jobs of a Slurm pipeline in flight at once.
    max_running: Option<usize>,
    /// Most experiments one run serves: those next in line with the same
    /// pipeline, parameters and submitter (a local or Slurm pipeline's).
    group: Option<usize>,
}

/// One `[[pipeline.param]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamTable {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    label: Option<String>,
    #[serde(default)]
    help: String,
    default: Option<toml::Value>,
    options: Option<Vec<String>>,
    min: Option<toml::Value>,
    max: Option<toml::Value>,
    /// A number's exclusive bounds, beside (not with) `min` and `max`.
    above: Option<toml::Value>,
    below: Option<toml::Value>,
    pattern: Option<String>,
    max_length: Option<usize>,
}

impl PipelineTable {
    /// The pipeline it declares; `config_dir` replaces `${CONFIG_DIR}` in its
    /// command, check and environment, and `timeout` is the server's default.
    pub(crate) fn build(
        self,
        config_dir: &str,
        timeout: Option<Duration>,
    ) -> Result<Pipeline, String> {
        let name = self.name;
        let at = |msg: String| format!("pipeline '{name}': {msg}");
        check_name(&name, MAX_NAME, "pipeline").map_err(at)?;
        let expand = |text: &str| text.replace("${CONFIG_DIR}", config_dir);
        let executor = self.executor.unwrap_or(match self.command {
            Some(_) => ExecutorKind::Local,
            None => ExecutorKind::Builtin,
        });
        let command = match (executor, self.command) {
            (ExecutorKind::Builtin, None) => None,
            (ExecutorKind::Builtin, Some(_)) => {
                return Err(at(
                    "the built-in executor runs no command; remove `command`".into(),
                ))
            }
            (_, None) => return Err(at("give its `command`".into())),
            (_, Some(Command::Program(words))) if words.is_empty() || words[0].is_empty() => {
                return Err(at("`command` names no program".into()))
            }
            (_, Some(Command::Program(words))) => {
                Some(Command::Program(words.iter().map(|w| expand(w)).collect()))
            }
            (_, Some(Command::Shell(line))) if line.trim().is_empty() => {
                return Err(at("`command` is empty".into()))
            }
            (_, Some(Command::Shell(line))) => Some(Command::Shell(expand(&line))),
        };
        let seconds = |name: &str, secs: f64| {
            Duration::try_from_secs_f64(secs)
                .ok()
                .filter(|t| !t.is_zero())
                .ok_or_else(|| at(format!("{name} {secs} is not a number of seconds above 0")))
        };
        let timeout = match self.timeout {
            Some(secs) => Some(seconds("timeout", secs)?),
            None => timeout,
        };
        if executor != ExecutorKind::Warm {
            for (given, name) in [
                (self.preload.is_some(), "preload"),
                (self.start_timeout.is_some(), "start_timeout"),
            ] {
                if given {
                    return Err(at(format!(
                        "`{name}` is for a warm pipeline (executor = \"warm\")"
                    )));
                }
            }
        }
        let start_timeout = self
            .start_timeout
            .map(|secs| seconds("start_timeout", secs))
            .transpose()?;
        let alphabets = self
            .alphabets
            .unwrap_or_else(|| vec![Alphabet::Dna, Alphabet::Rna, Alphabet::Protein]);
        if alphabets.is_empty() {
            return Err(at("`alphabets` is empty; name dna, rna or protein".into()));
        }
        let mut params: Vec<Param> = Vec::new();
        for table in self.params {
            let param = table.build().map_err(at)?;
            if params.iter().any(|p| p.name == param.name) {
                return Err(at(format!(
                    "the parameter '{}' is declared twice",
                    param.name
                )));
            }
            params.push(param);
        }
        let mut env = BTreeMap::new();
        for (key, value) in self.env {
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(at(format!("'{key}' is not an environment variable's name")));
            }
            env.insert(key, expand(&value));
        }
        let results = self.results;
        for result in &results {
            if result.file.is_empty() || result.file.contains('/') || result.file.starts_with('.') {
                return Err(at(format!(
                    "the result '{}' is not a file name in the experiment's directory",
                    result.file
                )));
            }
        }
        let slurm = match (executor, self.slurm) {
            (ExecutorKind::Slurm, table) => Some(
                table
                    .unwrap_or_default()
                    .build(self.max_running, self.timeout.is_some())
                    .map_err(at)?,
            ),
            (_, Some(_)) => {
                return Err(at(
                    "a [pipeline.slurm] table needs `executor = \"slurm\"`".into()
                ))
            }
            (_, None) => None,
        };
        if executor != ExecutorKind::Slurm && self.max_running.is_some_and(|n| n != 1) {
            return Err(at(
                "only a Slurm pipeline may run more than one experiment at once (max_running)"
                    .into(),
            ));
        }
        let group = match (self.group, executor) {
            (None, _) => 1,
            (Some(0), _) => return Err(at("`group` is at least 1 (1: never grouped)".into())),
            (Some(1), _) => 1,
            (Some(n), ExecutorKind::Local | ExecutorKind::Slurm) if n <= MAX_GROUP => n,
            (Some(n), ExecutorKind::Local | ExecutorKind::Slurm) => {
                return Err(at(format!(
                    "`group` {n} is more than the {MAX_GROUP} experiments one run may serve"
                )))
            }
            (Some(_), ExecutorKind::Warm) => {
                return Err(at(
                    "a warm pipeline does not group: its processor takes one experiment at a time; remove `group`"
                        .into(),
                ))
            }
            (Some(_), ExecutorKind::Builtin) => {
                return Err(at(
                    "the built-in analysis does not group; `group` is for a local or Slurm pipeline"
                        .into(),
                ))
            }
        };
        let results = if results.is_empty() && executor == ExecutorKind::Builtin {
            Definition::builtin().results
        } else {
            results
        };
        Ok(Pipeline {
            title: self.title.unwrap_or_else(|| name.clone()),
            description: self.description.unwrap_or_default(),
            alphabets,
            params,
            check: self.check.map(|check| expand(&check)),
            preload: self.preload.unwrap_or(false),
            definition: Arc::new(Definition {
                executor,
                command,
                timeout_ms: timeout.map(|t| t.as_millis() as u64),
                start_timeout_ms: start_timeout.map(|t| t.as_millis() as u64),
                env,
                results,
                slurm,
                group,
            }),
            name,
        })
    }
}

impl ParamTable {
    fn build(self) -> Result<Param, String> {
        let name = self.name;
        check_name(&name, MAX_PARAM_NAME, "parameter")?;
        let at = |msg: String| format!("parameter '{name}': {msg}");
        let int = |value: &Option<toml::Value>| -> Result<Option<i64>, String> {
            value
                .as_ref()
                .map(|v| {
                    v.as_integer()
                        .ok_or_else(|| at(format!("{v} is not a whole number")))
                })
                .transpose()
        };
        let num = |value: &Option<toml::Value>| -> Result<Option<f64>, String> {
            value
                .as_ref()
                .map(|v| {
                    v.as_float()
                        .or_else(|| v.as_integer().map(|n| n as f64))
                        .ok_or_else(|| at(format!("{v} is not a number")))
                })
                .transpose()
        };
        if self.kind != "number" && (self.above.is_some() || self.below.is_some()) {
            return Err(at(format!(
                "`above` and `below` bound a number; {}",
                if self.kind == "integer" {
                    "an integer's bounds are `min` and `max` (above = 0 is min = 1)"
                } else {
                    "this parameter is not one"
                }
            )));
        }
        let kind = match self.kind.as_str() {
            "choice" => match self.options {
                Some(options) if !options.is_empty() => ParamKind::Choice {
                    options,
                    titles: BTreeMap::new(),
                    sizes: BTreeMap::new(),
                    multiple: false,
                    alone: BTreeMap::new(),
                },
                _ => return Err(at("a choice needs its `options`".into())),
            },
            "integer" => ParamKind::Integer {
                min: int(&self.min)?,
                max: int(&self.max)?,
            },
            "number" => {
                let (min, max) = (num(&self.min)?, num(&self.max)?);
                let (above, below) = (num(&self.above)?, num(&self.below)?);
                check_exclusive(min, max, above, below).map_err(at)?;
                ParamKind::Number {
                    min,
                    max,
                    above,
                    below,
                }
            }
            "boolean" => ParamKind::Boolean,
            "text" => {
                let regex = self
                    .pattern
                    .as_deref()
                    .map(|pattern| {
                        regex::Regex::new(&format!("^(?:{pattern})$"))
                            .map_err(|err| at(format!("the pattern does not read: {err}")))
                    })
                    .transpose()?;
                ParamKind::Text {
                    pattern: self.pattern,
                    max_length: self.max_length.unwrap_or(DEFAULT_MAX_TEXT),
                    regex,
                }
            }
            other => {
                return Err(at(format!(
                    "type '{other}' is not one of choice, integer, number, boolean, text"
                )))
            }
        };
        if let Some(why) = kind.refuses_for_ever() {
            return Err(at(why));
        }
        let mut param = Param {
            label: self.label.unwrap_or_else(|| name.clone()),
            name: name.clone(),
            help: self.help,
            kind,
            default: None,
        };
        if let Some(default) = self.default {
            let text = match default {
                toml::Value::String(text) => text,
                other => other.to_string(),
            };
            param.default = Some(
                param
                    .check(&text)
                    .map_err(|msg| at(format!("its default {msg}")))?,
            );
        }
        Ok(param)
    }
}

/// Names go into URLs, forms and environment variables: lower-case letters,
/// digits, `_` (and `-` in a pipeline's), starting with a letter.
fn check_name(name: &str, max: usize, what: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let good = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || c == '_'
                || (c == '-' && what == "pipeline")
        })
        && name.len() <= max;
    if good {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a {what} name: up to {max} lower-case letters, digits{} and '_', starting with a letter",
            if what == "pipeline" { ", '-'" } else { "" }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{environment, RawParams};

    fn blastn() -> Pipeline {
        let table: PipelineTable = toml::from_str(
            r#"
            name = "blastn"
            command = ["${CONFIG_DIR}/blastn.sh", "--fast"]
            alphabets = ["dna", "rna"]
            env = { BLAST_DB = "${CONFIG_DIR}/db/reference" }
            [[param]]
            name = "evalue"
            type = "number"
            default = 1e-5
            min = 0
            [[param]]
            name = "task"
            type = "choice"
            options = ["megablast", "blastn", "blastn-short"]
            default = "megablast"
            [[param]]
            name = "label"
            type = "text"
            pattern = "[A-Za-z0-9_]+"
            [[param]]
            name = "note"
            type = "text"
            [[param]]
            name = "hits"
            type = "integer"
            min = 1
            max = 500
            [[result]]
            file = "hits.tsv"
            view = "table"
            "#,
        )
        .unwrap();
        table.build("/lab", None).unwrap()
    }

    fn raw(pairs: &[(&str, &str)]) -> RawParams {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_pipeline_is_read_with_its_config_dir_and_defaults() {
        let pipeline = blastn();
        assert_eq!(
            pipeline.definition.command,
            Some(Command::Program(vec![
                "/lab/blastn.sh".into(),
                "--fast".into()
            ]))
        );
        assert_eq!(pipeline.definition.env["BLAST_DB"], "/lab/db/reference");
        assert_eq!(
            pipeline.check_params(&raw(&[])).unwrap(),
            raw(&[("evalue", "0.00001"), ("task", "megablast")])
        );
        assert_eq!(pipeline.alphabets, [Alphabet::Dna, Alphabet::Rna]);
    }

    #[test]
    fn parameters_are_checked_and_each_error_names_its_field() {
        let pipeline = blastn();
        let field = |pairs: &[(&str, &str)]| {
            pipeline
                .check_params(&raw(pairs))
                .unwrap_err()
                .field()
                .map(str::to_owned)
        };
        assert_eq!(field(&[("evalue", "-1")]).as_deref(), Some("param.evalue"));
        assert_eq!(
            field(&[("evalue", "1e-5; rm -rf /")]).as_deref(),
            Some("param.evalue")
        );
        assert_eq!(field(&[("task", "tblastx")]).as_deref(), Some("param.task"));
        assert_eq!(
            field(&[("label", "$(touch pwned)")]).as_deref(),
            Some("param.label")
        );
        assert_eq!(field(&[("hits", "501")]).as_deref(), Some("param.hits"));
        assert_eq!(field(&[("colour", "red")]).as_deref(), Some("param.colour"));
        let ok = pipeline
            .check_params(&raw(&[
                ("note", "a;b"),
                ("hits", " 20 "),
                ("label", "run_7"),
            ]))
            .unwrap();
        assert_eq!(ok["note"], "a;b");
        assert_eq!(ok["hits"], "20");
        let env = environment("blastn", &pipeline.definition, &ok);
        assert!(env.contains(&("PARAM_NOTE".into(), "a;b".into())));
        assert!(env.contains(&("PIPELINE".into(), "blastn".into())));
    }

    #[test]
    fn a_bad_table_says_what_is_wrong_with_it() {
        let build = |text: &str| {
            toml::from_str::<PipelineTable>(text)
                .map_err(|e| e.to_string())
                .and_then(|table| table.build("/lab", None))
                .unwrap_err()
        };
        assert!(build("name = \"Blast N\"\ncommand = \"x\"").contains("is not a pipeline name"));
        assert!(build("name = \"b\"\nexecutor = \"local\"").contains("give its `command`"));
        assert!(
            build("name = \"b\"\ncommand = \"x\"\n[[param]]\nname = \"e\"\ntype = \"float\"")
                .contains("type 'float'")
        );
        assert!(build("name = \"b\"\ncommand = \"x\"\n[[param]]\nname = \"e\"\ntype = \"integer\"\ndefault = 0\nmin = 1")
            .contains("its default 0 is below"));
        assert!(build("name = \"b\"\ncommand = \"x\"\nbogus = 1").contains("unknown field"));
        assert!(
            build("name = \"b\"\ncommand = \"x\"\npreload = true").contains("for a warm pipeline")
        );
        assert!(build("name = \"b\"\nexecutor = \"warm\"").contains("give its `command`"));
        let warm = build("name = \"b\"\nexecutor = \"warm\"\ncommand = \"x\"\ngroup = 96");
        assert!(
            warm.contains("pipeline 'b'") && warm.contains("warm pipeline does not group"),
            "{warm}"
        );
        assert!(build("name = \"b\"\ngroup = 2").contains("built-in analysis does not group"));
        assert!(build("name = \"b\"\ncommand = \"x\"\ngroup = 0").contains("at least 1"));
        assert!(build("name = \"b\"\ncommand = \"x\"\ngroup = 5000").contains("more than"));
    }

    #[test]
    fn a_grouped_pipeline_keeps_its_group_in_its_definition() {
        let table: PipelineTable =
            toml::from_str("name = \"b\"\ncommand = \"x\"\ngroup = 96").unwrap();
        let pipeline = table.build("/lab", None).unwrap();
        assert_eq!(pipeline.definition.group_size(), 96);
        let json = serde_json::to_value(&pipeline).unwrap();
        assert_eq!(json["group"], 96);
        let plain: PipelineTable = toml::from_str("name = \"b\"\ncommand = \"x\"").unwrap();
        let json = serde_json::to_value(plain.build("/lab", None).unwrap()).unwrap();
        assert!(json.get("group").is_none(), "{json}");
    }

    #[test]
    fn a_parameter_that_could_never_take_a_value_is_refused_naming_it() {
        let param = |lines: &str| {
            toml::from_str::<PipelineTable>(&format!(
                "name = \"b\"\ncommand = \"x\"\n[[param]]\nname = \"e\"\n{lines}"
            ))
            .map_err(|e| e.to_string())
            .and_then(|table| table.build("/lab", None))
            .map(|_| ())
        };
        for (lines, why) in [
            (
                "type = \"integer\"\nmin = 10\nmax = 5",
                "min = 10 is above max = 5",
            ),
            (
                "type = \"number\"\nmin = 1.5\nmax = 0.5",
                "min = 1.5 is above max = 0.5",
            ),
            (
                "type = \"number\"\nmin = nan",
                "min = NaN is not a finite number",
            ),
            (
                "type = \"number\"\nmax = -inf",
                "max = -inf is not a finite number",
            ),
            ("type = \"text\"\nmax_length = 0", "max_length = 0"),
            (
                "type = \"choice\"\noptions = [\"a\", \"\"]",
                "the option \"\" could never be chosen",
            ),
            (
                "type = \"choice\"\noptions = [\" a\"]",
                "the option \" a\" could never be chosen",
            ),
            (
                "type = \"choice\"\noptions = []",
                "a choice needs its `options`",
            ),
            (
                "type = \"choice\"\noptions = [\"a\"]\ndefault = \"b\"",
                "its default 'b' is not one of a",
            ),
            (
                "type = \"integer\"\nmax = 5\ndefault = 6",
                "its default 6 is above",
            ),
            (
                "type = \"text\"\npattern = \"(\"",
                "the pattern does not read",
            ),
        ] {
            let err = param(lines).unwrap_err();
            assert!(err.starts_with("pipeline 'b': parameter 'e': "), "{err}");
            assert!(err.contains(why), "{lines}: {err}");
        }
        for fine in [
            "type = \"integer\"\nmin = 5\nmax = 5",
            "type = \"number\"\nmin = -1\nmax = 1",
            "type = \"text\"\nmax_length = 1",
            "type = \"choice\"\noptions = [\"a b\"]",
        ] {
            param(fine).unwrap();
        }
    }

    #[test]
    fn a_number_may_have_exclusive_bounds_and_they_are_checked() {
        let param = |bounds: &str| {
            toml::from_str::<ParamTable>(&format!("name = \"evalue\"\ntype = \"number\"\n{bounds}"))
                .map_err(|e| e.to_string())
                .and_then(ParamTable::build)
        };
        let evalue = param("above = 0\nmax = 1000").unwrap();
        assert_eq!(
            evalue.check("0").unwrap_err(),
            "0 is too small: it must be above 0"
        );
        assert_eq!(
            evalue.check("-0.0").unwrap_err(),
            "-0 is too small: it must be above 0"
        );
        assert_eq!(evalue.check("1e-300").unwrap(), "1e-300");
        assert_eq!(evalue.check("1000").unwrap(), "1000");
        let json = serde_json::to_value(&evalue).unwrap();
        assert_eq!(json["above"], 0.0);
        assert!(json.get("min").is_none() && json.get("below").is_none());
        let fraction = param("min = 0\nbelow = 1").unwrap();
        assert_eq!(
            fraction.check("1").unwrap_err(),
            "1 is too large: it must be below 1"
        );
        assert_eq!(fraction.check("0").unwrap(), "0");

        for (bounds, says) in [
            ("min = 0\nabove = 0", "give `min` or `above`, not both"),
            ("max = 1\nbelow = 2", "give `max` or `below`, not both"),
            (
                "above = 1\nbelow = 1",
                "above = 1 and below = 1 leave no number",
            ),
            (
                "above = 5\nmax = 2",
                "above = 5 and max = 2 leave no number",
            ),
            (
                "min = 1\nbelow = 1",
                "min = 1 and below = 1 leave no number",
            ),
            ("above = nan", "above = NaN is not a finite number"),
            ("below = inf", "below = inf is not a finite number"),
            ("above = \"0\"", "\"0\" is not a number"),
            ("above = 0\ndefault = 0", "its default 0 is too small"),
        ] {
            let err = param(bounds).unwrap_err();
            assert!(err.contains(says), "{bounds}: {err}");
            assert!(err.starts_with("parameter 'evalue': "), "{bounds}: {err}");
        }
        let err = toml::from_str::<ParamTable>("name = \"k\"\ntype = \"integer\"\nabove = 0")
            .unwrap()
            .build()
            .unwrap_err();
        assert!(
            err.contains("an integer's bounds are `min` and `max`"),
            "{err}"
        );
    }

    #[test]
    fn a_slurm_pipeline_keeps_its_options_in_its_definition() {
        let table: PipelineTable = toml::from_str(
            r#"
            name = "fold"
            executor = "slurm"
            command = ["${CONFIG_DIR}/fold.sh"]
            max_running = 3
            timeout = 90
            [slurm]
            partition = "gpu"
            gres = "gpu:1"
            options = ["--account=lab"]
            "#,
        )
        .unwrap();
        let pipeline = table.build("/lab", None).unwrap();
        let definition = &pipeline.definition;
        assert_eq!(definition.executor, ExecutorKind::Slurm);
        assert_eq!(definition.max_running(), 3);
        let slurm = definition.slurm.as_ref().unwrap();
        assert_eq!(
            slurm.arguments(definition.timeout()),
            [
                "--partition=gpu",
                "--time=2",
                "--gres=gpu:1",
                "--account=lab"
            ]
        );
        // The record keeps it, and reads it back.
        let json = serde_json::to_value(&**definition).unwrap();
        assert_eq!(json["executor"], "slurm");
        assert_eq!(json["slurm"]["max_running"], 3);
        assert_eq!(
            serde_json::from_value::<Definition>(json).unwrap(),
            **definition
        );
        // Older records, and every other executor, run one at a time.
        assert_eq!(Definition::legacy("true").max_running(), 1);
        assert!(serde_json::to_value(Definition::legacy("true"))
            .unwrap()
            .get("slurm")
            .is_none());
    }
}
