//! The three access modes the operator chooses between (`--access`): the
//! value the rules of [`super`] read. It lives here, beside the rules, so
//! that the configuration names access and never the other way round.

use serde::{Deserialize, Serialize};

/// Who may do what, chosen by the operator (`--access`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Anyone who reaches the server may read, submit, cancel and pause.
    #[default]
    Open,
    /// Anyone may read; submitting and changing need a user's token.
    Members,
    /// Everything needs a user's token (the sign-in page aside).
    Closed,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Open => "open",
            Mode::Members => "members",
            Mode::Closed => "closed",
        }
    }
}
