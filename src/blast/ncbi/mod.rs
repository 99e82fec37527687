//! NCBI's BLAST URL API as the lab's configuration maps it onto pipelines:
//! which pipeline serves a `PROGRAM` and `DATABASE`, what the settings a
//! script sends (`EXPECT`, `WORD_SIZE`, ...) become, and the request ids
//! (`RID`) clients poll with.
//!
//! The protocol itself (`CMD=Put`, `Get`, `Delete`, `DisplayRIDs`) is
//! `api::ncbi`; making the formats a client asks for from a search's archive
//! is [`format`]; fetching the sequence of an identifier sent as `QUERY`
//! is [`entry`].
//!
//! The configuration file's `[ncbi]` section says what is offered:
//!
//! ```toml
//! [[ncbi.program]]
//! program = "blastn"                          # PROGRAM a script sends
//! pipeline = "blastn"                         # the pipeline that runs it
//! databases = ["reference", "nt", "core_nt"]  # DATABASE names it accepts
//! lookup = ["${CONFIG_DIR}/data/db/reference"] # where QUERY=AC123456 is found
//!                                             # (default: the pipeline's BLAST_DB)
//! searches = { nt = ["reference", "plasmids"] } # the lab's databases a name means
//! ```

pub(crate) mod entry;
pub(crate) mod format;
mod rid;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use crate::pipeline::{Pipeline, RawParams, View};

pub(crate) use rid::Rid;

/// The settings a script sends with `CMD=Put`, and the pipeline parameter
/// each becomes when the pipeline declares one of that name. The values go
/// through the parameter's own checks, like any submission's.
pub(crate) const SETTINGS: [(&str, &str); 9] = [
    ("EXPECT", "evalue"),
    ("HITLIST_SIZE", "max_hits"),
    ("WORD_SIZE", "word_size"),
    ("MATRIX_NAME", "matrix"),
    ("GAPCOSTS", "gapcosts"),
    ("NUCL_REWARD", "reward"),
    ("NUCL_PENALTY", "penalty"),
    ("QUERY_FROM", "query_from"),
    ("QUERY_TO", "query_to"),
];

/// The parameter of a built-in BLAST pipeline that takes `DATABASE`.
const BUILTIN_DATABASE_PARAM: &str = "database";

/// `FILTER` (`L`, `T`, `F`, `m L`, ...) becomes this boolean parameter:
/// true when it asks for low-complexity filtering.
const FILTER_PARAM: &str = "filter";

/// `MEGABLAST=on` or `SERVICE=megablast` becomes `task=megablast` for blastn;
/// without them, NCBI runs blastn's `blastn` task, and so do we.
const TASK_PARAM: &str = "task";

/// The BLAST programs the URL API names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Program {
    Blastn,
    Blastp,
    Blastx,
    Tblastn,
    Tblastx,
}

impl Program {
    pub const ALL: [Program; 5] = [
        Program::Blastn,
        Program::Blastp,
        Program::Blastx,
        Program::Tblastn,
        Program::Tblastx,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Program::Blastn => "blastn",
            Program::Blastp => "blastp",
            Program::Blastx => "blastx",
            Program::Tblastn => "tblastn",
            Program::Tblastx => "tblastx",
        }
    }

    /// `PROGRAM` as a script sends it; NCBI takes any case.
    pub fn parse(text: &str) -> Option<Program> {
        Program::ALL
            .into_iter()
            .find(|program| program.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[ncbi]` in the configuration file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NcbiTable {
    #[serde(default)]
    program: Vec<ProgramTable>,
}

/// `[[ncbi.program]]`: one program, the pipeline that runs it, and the
/// database names scripts may send for it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgramTable {
    program: Program,
    pipeline: String,
    databases: Vec<String>,
    /// A parameter of the pipeline (a choice) that gets `DATABASE`, when the
    /// pipeline searches more than one database.
    database_param: Option<String>,
    /// Parameters the pipeline always gets for this program, e.g. `program =
    /// "tblastn"` for a pipeline that runs several.
    #[serde(default)]
    params: BTreeMap<String, toml::Value>,
    /// The BLAST databases an identifier sent as `QUERY` is looked up in
    /// (`blastdbcmd -db`), in order; by default the pipeline's `BLAST_DB`.
    lookup: Option<Vec<String>>,
    /// What a name of `databases` means among the lab's databases (`nt =
    /// ["reference", "plasmids"]`): the values its database parameter gets,
    /// searched at once. A name not here searches what the pipeline
    /// searches by default (or, with `database_param`, goes to it as sent).
    #[serde(default)]
    searches: BTreeMap<String, Vec<String>>,
}

/// What the URL API offers: a service per program.
#[derive(Debug, Default)]
pub struct Services {
    services: Vec<Service>,
}

/// One program, served by one pipeline.
#[derive(Debug)]
pub struct Service {
    pub program: Program,
    pub pipeline: Arc<Pipeline>,
    pub databases: Vec<String>,
    /// The parameter that gets `DATABASE` as sent.
    database_param: Option<String>,
    /// The lab's databases a name sent means, and the parameter they go to.
    searches: BTreeMap<String, Vec<String>>,
    searches_param: Option<String>,
    params: RawParams,
    /// Where an identifier sent as `QUERY` is looked up, in order.
    pub lookup: Vec<String>,
}

/// A `CMD=Put` made into a submission: the pipeline's parameters, and what
/// the scientist should know about the settings that were not used.
#[derive(Debug, PartialEq, Eq)]
pub struct Put {
    pub params: RawParams,
    pub notes: Vec<String>,
}

impl Services {
    /// The services `table` declares, checked against the pipelines offered:
    /// each pipeline exists, keeps a BLAST archive (`view = "blast"`) to make
    /// the formats from, and declares the parameters named for it.
    /// `config_dir` replaces `${CONFIG_DIR}` in `lookup`.
    pub fn build(
        table: NcbiTable,
        pipelines: &[Arc<Pipeline>],
        config_dir: &str,
    ) -> Result<Services, String> {
        let mut services: Vec<Service> = Vec::new();
        for entry in table.program {
            let program = entry.program;
            let here = format!("[[ncbi.program]] {program}");
            if services.iter().any(|s| s.program == program) {
                return Err(format!("{here}: the program is declared twice"));
            }
            let pipeline = pipelines
                .iter()
                .find(|p| p.name == entry.pipeline)
                .ok_or_else(|| {
                    let names: Vec<&str> = pipelines.iter().map(|p| p.name.as_str()).collect();
                    format!(
                        "{here}: there is no pipeline '{}'; the pipelines are {}",
                        entry.pipeline,
                        names.join(", ")
                    )
                })?;
            if archive_of(&pipeline.definition.results).is_none() {
                return Err(format!(
                    "{here}: the pipeline '{}' declares no BLAST archive, which the API's formats are made from: \
                     have it write one (-outfmt 11) and declare it as a result with view = \"blast\"",
                    pipeline.name
                ));
            }
            if entry.databases.is_empty() || entry.databases.iter().any(|d| d.trim().is_empty()) {
                return Err(format!(
                    "{here}: databases must list the DATABASE names scripts may send, none empty"
                ));
            }
            let declared = |name: &str| pipeline.params.iter().any(|p| p.name == name);
            if let Some(param) = &entry.database_param {
                if !declared(param) {
                    return Err(format!(
                        "{here}: database_param = \"{param}\", but the pipeline '{}' has no such parameter",
                        pipeline.name
                    ));
                }
            }
            // A built-in program's own parameter takes the lab's databases, several at once.
            let searches_param = entry.database_param.clone().or_else(|| {
                declared(BUILTIN_DATABASE_PARAM).then(|| BUILTIN_DATABASE_PARAM.to_owned())
            });
            for (name, lab) in &entry.searches {
                let here = format!("{here}: searches.{name}");
                if !entry.databases.contains(name) {
                    return Err(format!(
                        "{here}: {name} is not one of the databases scripts may send ({})",
                        entry.databases.join(", ")
                    ));
                }
                if lab.is_empty() || lab.iter().any(|db| db.trim().is_empty()) {
                    return Err(format!("{here}: must list the lab's databases, none empty"));
                }
                let Some(param) = &searches_param else {
                    return Err(format!(
                        "{here}: the pipeline '{}' has no parameter '{BUILTIN_DATABASE_PARAM}'; \
                         name the one that takes its databases with database_param",
                        pipeline.name
                    ));
                };
                // A database not found now may be added later: said, not refused.
                let value = RawParams::from([(param.clone(), lab.join(","))]);
                if let Err(err) = pipeline.check_params(&value) {
                    log::warn!("{here}: {err}; a search of {name} is refused until it is found");
                }
            }
            let mut params = RawParams::new();
            for (name, value) in entry.params {
                let value = match value {
                    toml::Value::String(text) => text,
                    toml::Value::Integer(n) => n.to_string(),
                    toml::Value::Float(n) => n.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    other => {
                        return Err(format!(
                            "{here}: params.{name} = {other} is not a string, number or boolean"
                        ))
                    }
                };
                params.insert(name, value);
            }
            // The fixed parameters must pass the pipeline's own checks.
            pipeline
                .check_params(&params)
                .map_err(|err| format!("{here}: params: {err}"))?;
            let lookup = match entry.lookup {
                Some(lookup) if lookup.iter().any(|db| db.trim().is_empty()) => {
                    return Err(format!(
                        "{here}: lookup must list BLAST databases, none empty"
                    ))
                }
                Some(lookup) => lookup
                    .iter()
                    .map(|db| db.replace("${CONFIG_DIR}", config_dir))
                    .collect(),
                None => pipeline
                    .definition
                    .env
                    .get("BLAST_DB")
                    .cloned()
                    .into_iter()
                    .collect(),
            };
            services.push(Service {
                program,
                pipeline: pipeline.clone(),
                databases: entry.databases,
                database_param: entry.database_param,
                searches: entry.searches,
                searches_param,
                params,
                lookup,
            });
        }
        Ok(Services { services })
    }

    /// What the built-in BLAST pipelines serve when the configuration has
    /// no `[ncbi]` section: each of `served` is a program, the pipeline
    /// that runs it (its `database` parameter takes `DATABASE`, whose
    /// options are the names scripts may send) and where identifiers are
    /// looked up.
    pub(crate) fn builtin(served: Vec<(Program, Arc<Pipeline>, Vec<String>)>) -> Services {
        let services = served
            .into_iter()
            .map(|(program, pipeline, lookup)| {
                let databases = pipeline
                    .params
                    .iter()
                    .find(|param| param.name == BUILTIN_DATABASE_PARAM)
                    .map(|param| match &param.kind {
                        crate::pipeline::ParamKind::Choice { options, .. } => options.clone(),
                        _ => Vec::new(),
                    })
                    .unwrap_or_default();
                Service {
                    program,
                    pipeline,
                    databases,
                    database_param: Some(BUILTIN_DATABASE_PARAM.into()),
                    searches: BTreeMap::new(),
                    searches_param: None,
                    params: RawParams::new(),
                    lookup,
                }
            })
            .collect();
        Services { services }
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Service> {
        self.services.iter()
    }

    /// The service for `program` and `database`, or why there is none, in
    /// words for the scientist.
    pub fn find(&self, program: &str, database: &str) -> Result<&Service, String> {
        let offered = || {
            let programs: Vec<&str> = self.services.iter().map(|s| s.program.as_str()).collect();
            if programs.is_empty() {
                "this server offers no BLAST programs through the URL API; its operator can map pipelines to them in the configuration's [ncbi] section".to_owned()
            } else {
                format!("this server offers {}", programs.join(", "))
            }
        };
        if program.trim().is_empty() {
            return Err(format!("PROGRAM is missing; {}", offered()));
        }
        let program = Program::parse(program)
            .filter(|program| self.services.iter().any(|s| s.program == *program))
            .ok_or_else(|| format!("PROGRAM {program} is not offered; {}", offered()))?;
        let services = || self.services.iter().filter(move |s| s.program == program);
        let mut searched: Vec<&str> = Vec::new();
        for service in services() {
            for name in &service.databases {
                if !searched.contains(&name.as_str()) {
                    searched.push(name);
                }
            }
        }
        // Several names, space-separated, as NCBI takes them: one search of them all.
        let names: Vec<&str> = database.split_whitespace().collect();
        if names.is_empty() {
            return Err(format!(
                "DATABASE is missing; {program} searches {}",
                searched.join(", ")
            ));
        }
        services()
            .find(|service| {
                names
                    .iter()
                    .all(|name| service.databases.iter().any(|d| d == name))
            })
            .ok_or_else(|| {
                format!(
                    "DATABASE {} is not offered for {program}; it searches {}",
                    database.trim(),
                    searched.join(", ")
                )
            })
    }

    /// These services, then those of `more` for what these do not map.
    pub(crate) fn beside(mut self, more: Services) -> Services {
        self.services.extend(more.services);
        self
    }

    /// The services a pipeline serves: its experiments have RIDs.
    pub fn serves(&self, pipeline: &str) -> bool {
        self.services.iter().any(|s| *s.pipeline.name == *pipeline)
    }
}

impl Service {
    /// The pipeline parameters a `CMD=Put` asks for. `fields` are the
    /// request's, by their upper-case names. A setting the pipeline has no
    /// parameter for is not used, and a note says so; a bad value is the
    /// parameter's own check's to refuse.
    pub fn put(&self, database: &str, fields: &BTreeMap<String, String>) -> Result<Put, String> {
        let declared = |name: &str| self.pipeline.params.iter().any(|p| p.name == name);
        let mut params = self.params.clone();
        let mut notes = Vec::new();
        let mut unused = |setting: &str, value: &str, param: &str| {
            notes.push(format!(
                "{setting}={value} was not used: the pipeline {} has no parameter {param}",
                self.pipeline.name
            ));
        };
        for (setting, param) in SETTINGS {
            let Some(value) = fields.get(setting).map(|v| v.trim()) else {
                continue;
            };
            if value.is_empty() {
                continue;
            }
            if declared(param) {
                params.insert(param.into(), value.into());
            } else {
                unused(setting, value, param);
            }
        }
        if let Some(filter) = fields.get("FILTER").map(|v| v.trim()) {
            if !filter.is_empty() {
                // L: low complexity (DUST, SEG); T: on; F: off. `m` (masking
                // for the lookup table only) adds nothing here.
                let on = filter
                    .to_ascii_uppercase()
                    .split([';', ' ', ','])
                    .any(|part| part == "L" || part == "T");
                if declared(FILTER_PARAM) {
                    params.insert(FILTER_PARAM.into(), on.to_string());
                } else {
                    unused("FILTER", filter, FILTER_PARAM);
                }
            }
        }
        let service = fields.get("SERVICE").map(|s| s.trim().to_ascii_lowercase());
        match service.as_deref() {
            None | Some("" | "plain" | "megablast") => {}
            Some(other) => {
                return Err(format!(
                    "SERVICE {other} is not offered; this server runs plain searches (and megablast for blastn)"
                ))
            }
        }
        if self.program == Program::Blastn && declared(TASK_PARAM) {
            let megablast = fields.get("MEGABLAST").is_some_and(|value| {
                matches!(
                    value.trim().to_ascii_lowercase().as_str(),
                    "on" | "true" | "yes" | "1"
                )
            }) || service.as_deref() == Some("megablast");
            let task = if megablast { "megablast" } else { "blastn" };
            params.insert(TASK_PARAM.into(), task.into());
        }
        // Several databases reach the parameter comma-separated, as a form gives them.
        let mut names: Vec<&str> = Vec::new();
        let mut param = None;
        for name in database.split_whitespace() {
            match (self.searches.get(name), &self.searches_param) {
                (Some(lab), Some(to)) => {
                    names.extend(lab.iter().map(String::as_str));
                    param = Some(to);
                }
                _ => {
                    if let Some(to) = &self.database_param {
                        names.push(name);
                        param = Some(to);
                    }
                }
            }
        }
        if let Some(param) = param {
            let mut unique: Vec<&str> = Vec::new();
            for name in names {
                if !unique.contains(&name) {
                    unique.push(name);
                }
            }
            params.insert(param.clone(), unique.join(","));
        }
        if let Some(entrez) = fields.get("ENTREZ_QUERY").map(|v| v.trim()) {
            if !entrez.is_empty() && entrez != "(none)" {
                notes.push(format!(
                    "ENTREZ_QUERY={entrez} was not used: this server searches the lab's databases whole"
                ));
            }
        }
        Ok(Put { params, notes })
    }
}

/// The NCBI setting a pipeline parameter came from, for errors in the
/// client's terms.
pub(crate) fn setting_of(param: &str) -> Option<&'static str> {
    SETTINGS
        .iter()
        .find(|(_, name)| *name == param)
        .map(|(setting, _)| *setting)
        .or_else(|| (param == FILTER_PARAM).then_some("FILTER"))
        .or_else(|| (param == TASK_PARAM).then_some("MEGABLAST"))
}

/// The BLAST archive among a pipeline's results: what every format is made from.
pub(crate) fn archive_of(results: &[crate::pipeline::ResultFile]) -> Option<&str> {
    results
        .iter()
        .find(|result| result.view == View::Blast)
        .map(|result| result.file.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::PipelineTable;

    fn pipelines() -> Vec<Arc<Pipeline>> {
        let text = r#"
            [[pipeline]]
            name = "blastn"
            command = ["blastn.sh"]
            env = { BLAST_DB = "${CONFIG_DIR}/db/reference" }
            [[pipeline.param]]
            name = "evalue"
            type = "number"
            default = 1e-5
            [[pipeline.param]]
            name = "task"
            type = "choice"
            options = ["megablast", "blastn"]
            default = "megablast"
            [[pipeline.param]]
            name = "filter"
            type = "boolean"
            [[pipeline.param]]
            name = "db"
            type = "choice"
            options = ["reference", "plasmids"]
            default = "reference"
            [[pipeline.result]]
            file = "hits.asn"
            view = "blast"

            [[pipeline]]
            name = "kmers"
            command = ["kmers.sh"]
        "#;
        #[derive(Deserialize)]
        struct File {
            pipeline: Vec<PipelineTable>,
        }
        let file: File = toml::from_str(text).unwrap();
        file.pipeline
            .into_iter()
            .map(|table| Arc::new(table.build("/etc/seqspool", None).unwrap()))
            .collect()
    }

    fn services(text: &str) -> Result<Services, String> {
        #[derive(Deserialize)]
        struct File {
            ncbi: NcbiTable,
        }
        let file: File = toml::from_str(text).map_err(|err| err.to_string())?;
        Services::build(file.ncbi, &pipelines(), "/etc/seqspool")
    }

    const BLASTN: &str = r#"
        [[ncbi.program]]
        program = "blastn"
        pipeline = "blastn"
        databases = ["reference", "nt"]
    "#;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_program_and_database_find_their_pipeline() {
        let services = services(BLASTN).unwrap();
        assert_eq!(
            services.find("BLASTN", "nt").unwrap().pipeline.name,
            "blastn"
        );
        let err = services.find("blastp", "nr").unwrap_err();
        assert!(
            err.contains("PROGRAM blastp is not offered; this server offers blastn"),
            "{err}"
        );
        let err = services.find("megablast", "nt").unwrap_err();
        assert!(err.contains("PROGRAM megablast is not offered"), "{err}");
        let err = services.find("blastn", "nr").unwrap_err();
        assert!(
            err.contains("DATABASE nr is not offered for blastn; it searches reference, nt"),
            "{err}"
        );
        assert!(services
            .find("", "nt")
            .unwrap_err()
            .contains("PROGRAM is missing"));
        assert!(services
            .find("blastn", " ")
            .unwrap_err()
            .contains("DATABASE is missing"));
    }

    #[test]
    fn settings_become_the_parameters_the_pipeline_declares() {
        let services = services(BLASTN).unwrap();
        let service = services.find("blastn", "nt").unwrap();
        let put = service
            .put(
                "nt",
                &fields(&[
                    ("EXPECT", "10.0"),
                    ("HITLIST_SIZE", "50"),
                    ("FILTER", "m L"),
                    ("ENTREZ_QUERY", "(none)"),
                ]),
            )
            .unwrap();
        assert_eq!(put.params["evalue"], "10.0");
        assert_eq!(put.params["filter"], "true");
        assert_eq!(put.params["task"], "blastn");
        assert_eq!(
            put.notes,
            ["HITLIST_SIZE=50 was not used: the pipeline blastn has no parameter max_hits"]
        );
        let put = service
            .put("nt", &fields(&[("MEGABLAST", "on"), ("FILTER", "F")]))
            .unwrap();
        assert_eq!(put.params["task"], "megablast");
        assert_eq!(put.params["filter"], "false");
        let put = service
            .put("nt", &fields(&[("SERVICE", "megablast")]))
            .unwrap();
        assert_eq!(put.params["task"], "megablast");
        let err = service
            .put("nt", &fields(&[("SERVICE", "psi")]))
            .unwrap_err();
        assert!(err.contains("SERVICE psi is not offered"), "{err}");
        let put = service
            .put("nt", &fields(&[("ENTREZ_QUERY", "human[organism]")]))
            .unwrap();
        assert_eq!(put.notes.len(), 1, "{:?}", put.notes);
    }

    #[test]
    fn identifiers_are_looked_up_in_the_pipelines_database_or_where_the_file_says() {
        let plain = services(BLASTN).unwrap();
        let service = plain.find("blastn", "nt").unwrap();
        assert_eq!(service.lookup, ["/etc/seqspool/db/reference"]);
        let declared = format!("{BLASTN}lookup = [\"${{CONFIG_DIR}}/db/a\", \"/srv/blast/nt\"]\n");
        let declared = services(&declared).unwrap();
        assert_eq!(
            declared.find("blastn", "nt").unwrap().lookup,
            ["/etc/seqspool/db/a", "/srv/blast/nt"]
        );
        let err = services(&format!("{BLASTN}lookup = [\" \"]\n")).unwrap_err();
        assert!(err.contains("lookup must list BLAST databases"), "{err}");
    }

    #[test]
    fn a_name_searches_the_labs_databases_the_mapping_says() {
        let mapped =
            format!("{BLASTN}database_param = \"db\"\nsearches = {{ nt = [\"plasmids\"] }}\n");
        let mapped = services(&mapped).unwrap();
        let service = mapped.find("blastn", "nt").unwrap();
        let put = |database: &str| service.put(database, &fields(&[])).unwrap().params;
        assert_eq!(put("nt")["db"], "plasmids");
        assert_eq!(put("reference")["db"], "reference", "sent as it is");
        assert_eq!(put("nt plasmids reference")["db"], "plasmids,reference");
        let err = services(&format!("{BLASTN}searches = {{ nt = [\"plasmids\"] }}\n")).unwrap_err();
        assert!(
            err.contains("searches.nt: the pipeline 'blastn' has no parameter 'database'"),
            "{err}"
        );
        let err = services(&format!(
            "{BLASTN}database_param = \"db\"\nsearches = {{ nr = [\"plasmids\"] }}\n"
        ))
        .unwrap_err();
        assert!(
            err.contains("nr is not one of the databases scripts may send (reference, nt)"),
            "{err}"
        );
        let err = services(&format!(
            "{BLASTN}database_param = \"db\"\nsearches = {{ nt = [] }}\n"
        ))
        .unwrap_err();
        assert!(err.contains("must list the lab's databases"), "{err}");
    }

    #[test]
    fn the_configuration_is_checked_against_the_pipelines() {
        let err = services(
            r#"
            [[ncbi.program]]
            program = "blastn"
            pipeline = "nope"
            databases = ["nt"]
        "#,
        )
        .unwrap_err();
        assert!(err.contains("there is no pipeline 'nope'"), "{err}");
        let err = services(
            r#"
            [[ncbi.program]]
            program = "blastn"
            pipeline = "kmers"
            databases = ["nt"]
        "#,
        )
        .unwrap_err();
        assert!(err.contains("declares no BLAST archive"), "{err}");
        let err = services(
            r#"
            [[ncbi.program]]
            program = "blastx"
            pipeline = "blastn"
            databases = []
        "#,
        )
        .unwrap_err();
        assert!(err.contains("databases must list"), "{err}");
        let err = services(
            r#"
            [[ncbi.program]]
            program = "blastn"
            pipeline = "blastn"
            databases = ["nt"]
            params = { evalue = "many" }
        "#,
        )
        .unwrap_err();
        assert!(err.contains("params"), "{err}");
        let err = services(
            r#"
            [[ncbi.program]]
            program = "psiblast"
            pipeline = "blastn"
            databases = ["nt"]
        "#,
        )
        .unwrap_err();
        assert!(err.contains("psiblast"), "{err}");
        let err = services(&format!("{BLASTN}{BLASTN}")).unwrap_err();
        assert!(err.contains("declared twice"), "{err}");
    }
}
