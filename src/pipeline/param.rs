//! A pipeline's parameters: their types, what values each takes, and the
//! check a submitted value passes before it reaches a command (as an
//! environment variable, never on a command line).

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// Parameters as a submission gave them, by name: not yet checked.
pub(crate) type RawParams = BTreeMap<String, String>;

/// Parameters checked against a pipeline, with its defaults filled in.
pub type Params = BTreeMap<String, String>;

/// A parameter a submission may set.
#[derive(Clone, Debug, Serialize)]
pub struct Param {
    pub(crate) name: String,
    pub(crate) label: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) help: String,
    #[serde(flatten)]
    pub(crate) kind: ParamKind,
    /// The value when a submission gives none; none means the parameter is
    /// left out of the environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) default: Option<String>,
}

/// How much an option holds: a database's sequences and letters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Size {
    pub(crate) sequences: u64,
    pub(crate) letters: u64,
    /// What a letter is, one and several ("base", "bases").
    pub(crate) letter: (&'static str, &'static str),
}

/// A parameter's type, and what values it takes.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub(crate) enum ParamKind {
    Choice {
        options: Vec<String>,
        /// What each option is, in words, by option (a database's title):
        /// the form shows it beside the option.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        titles: BTreeMap<String, String>,
        /// How much each option holds, in words, by option (a database's
        /// sequences and letters): the form shows it after the title.
        #[serde(skip)]
        sizes: BTreeMap<String, Size>,
        /// Whether several options may be chosen at once, comma-separated
        /// (`a,b`): the built-in BLAST's databases, searched together.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        multiple: bool,
        /// The options of a `multiple` choice that may only be chosen
        /// alone, each with why (a database BLAST cannot search with others).
        #[serde(skip)]
        alone: BTreeMap<String, String>,
    },
    Integer {
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
    },
    Number {
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
        /// An exclusive lower bound: values must be greater (an E-value above 0).
        #[serde(skip_serializing_if = "Option::is_none")]
        above: Option<f64>,
        /// An exclusive upper bound: values must be smaller.
        #[serde(skip_serializing_if = "Option::is_none")]
        below: Option<f64>,
    },
    Boolean,
    Text {
        /// Values must match it whole.
        #[serde(skip_serializing_if = "Option::is_none")]
        pattern: Option<String>,
        max_length: usize,
        #[serde(skip)]
        regex: Option<regex::Regex>,
    },
}

impl ParamKind {
    /// What [`Param::check`] would refuse whatever a submission gave, if
    /// anything: every value (bounds the wrong way round, no room for a
    /// character), or an option no value can name (a value is trimmed, an
    /// empty one is no value, and none holds a control character).
    pub(super) fn refuses_for_ever(&self) -> Option<String> {
        let nothing = |why: String| Some(format!("{why}: no value could ever be given"));
        if let ParamKind::Number { min, max, .. } = self {
            // NaN bounds nothing, and infinity bounds everything or nothing.
            for (name, bound) in [("min", min), ("max", max)] {
                if let Some(bound) = bound.filter(|bound| !bound.is_finite()) {
                    return Some(format!("{name} = {bound} is not a finite number"));
                }
            }
        }
        match self {
            ParamKind::Integer {
                min: Some(min),
                max: Some(max),
                ..
            } if min > max => nothing(format!("min = {min} is above max = {max}")),
            ParamKind::Number {
                min: Some(min),
                max: Some(max),
                ..
            } if min > max => nothing(format!("min = {min} is above max = {max}")),
            ParamKind::Text { max_length: 0, .. } => nothing("max_length = 0".into()),
            ParamKind::Choice { options, .. } => options
                .iter()
                .find(|option| {
                    option.is_empty()
                        || option.trim() != option.as_str()
                        || option.chars().any(char::is_control)
                })
                .map(|option| {
                    format!(
                        "the option {option:?} could never be chosen: a value is trimmed, \
                         and holds no control character"
                    )
                }),
            _ => None,
        }
    }
}

impl Param {
    /// Whether the parameter takes several values at once (comma-separated,
    /// or its field repeated).
    pub(crate) fn takes_several(&self) -> bool {
        matches!(self.kind, ParamKind::Choice { multiple: true, .. })
    }

    /// Checks one value, and gives it as the command will see it.
    pub(super) fn check(&self, value: &str) -> Result<String, String> {
        if let Some(c) = value.chars().find(|c| c.is_control()) {
            return Err(format!(
                "holds the control character U+{:04X}; use printable characters",
                u32::from(c)
            ));
        }
        match &self.kind {
            ParamKind::Choice {
                options,
                multiple: true,
                alone,
                ..
            } => {
                let mut chosen: Vec<&str> = Vec::new();
                for one in value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
                    if !options.iter().any(|option| option == one) {
                        return Err(format!("'{one}' is not one of {}", options.join(", ")));
                    }
                    if !chosen.contains(&one) {
                        chosen.push(one);
                    }
                }
                if chosen.is_empty() {
                    return Err(format!(
                        "none chosen: choose at least one of {}",
                        options.join(", ")
                    ));
                }
                if chosen.len() > 1 {
                    if let Some((one, why)) = chosen.iter().find_map(|c| alone.get_key_value(*c)) {
                        return Err(format!("'{one}' is chosen only alone: {why}"));
                    }
                }
                Ok(chosen.join(","))
            }
            ParamKind::Choice { options, .. } => {
                if options.iter().any(|option| option == value) {
                    Ok(value.to_owned())
                } else {
                    Err(format!("'{value}' is not one of {}", options.join(", ")))
                }
            }
            ParamKind::Integer { min, max } => {
                let n: i64 = value
                    .parse()
                    .map_err(|_| format!("'{value}' is not a whole number"))?;
                in_bounds(n, *min, *max)?;
                Ok(n.to_string())
            }
            ParamKind::Number {
                min,
                max,
                above,
                below,
            } => {
                let n: f64 = value
                    .parse()
                    .ok()
                    .filter(|n: &f64| n.is_finite())
                    .ok_or_else(|| format!("'{value}' is not a number"))?;
                in_bounds(n, *min, *max)?;
                match (above, below) {
                    (Some(above), _) if n <= *above => {
                        return Err(format!("{n} is too small: it must be above {above}"))
                    }
                    (_, Some(below)) if n >= *below => {
                        return Err(format!("{n} is too large: it must be below {below}"))
                    }
                    _ => {}
                }
                // As given (`1e-5` stays `1e-5`): it parsed, so it is a number and nothing else.
                Ok(value.to_owned())
            }
            ParamKind::Boolean => match value.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Ok("true".into()),
                "false" | "no" | "off" | "0" => Ok("false".into()),
                _ => Err(format!("'{value}' is not true or false")),
            },
            ParamKind::Text {
                max_length, regex, ..
            } => {
                let chars = value.chars().count();
                if chars > *max_length {
                    return Err(format!(
                        "is {chars} characters long; at most {max_length} are allowed"
                    ));
                }
                match regex {
                    Some(regex) if !regex.is_match(value) => Err(format!(
                        "'{value}' does not match the pattern {}",
                        regex.as_str()
                    )),
                    _ => Ok(value.to_owned()),
                }
            }
        }
    }
}

fn in_bounds<T: PartialOrd + fmt::Display>(
    n: T,
    min: Option<T>,
    max: Option<T>,
) -> Result<(), String> {
    match (min, max) {
        (Some(min), _) if n < min => Err(format!("{n} is below the least allowed, {min}")),
        (_, Some(max)) if n > max => Err(format!("{n} is above the most allowed, {max}")),
        _ => Ok(()),
    }
}

/// Refuses a number's exclusive bounds that cannot stand: one given with
/// the inclusive bound of the same end, one not finite, or a range they
/// leave empty.
pub(super) fn check_exclusive(
    min: Option<f64>,
    max: Option<f64>,
    above: Option<f64>,
    below: Option<f64>,
) -> Result<(), String> {
    for (exclusive, inclusive, name, other) in
        [(above, min, "above", "min"), (below, max, "below", "max")]
    {
        match (exclusive, inclusive) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "give `{other}` or `{name}`, not both: one bound for each end"
                ))
            }
            (Some(bound), None) if !bound.is_finite() => {
                return Err(format!("{name} = {bound} is not a finite number"))
            }
            _ => {}
        }
    }
    let low = above
        .map(|a| (a, format!("above = {a}")))
        .or(min.map(|m| (m, format!("min = {m}"))));
    let high = below
        .map(|b| (b, format!("below = {b}")))
        .or(max.map(|m| (m, format!("max = {m}"))));
    match (low, high) {
        (Some((low, said_low)), Some((high, said_high)))
            if (above.is_some() || below.is_some()) && low >= high =>
        {
            Err(format!(
                "{said_low} and {said_high} leave no number to choose"
            ))
        }
        _ => Ok(()),
    }
}
