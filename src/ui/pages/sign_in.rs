//! The sign-in page: a form to paste a token into, which carries, as
//! hidden fields, a submission that was refused for want of a user.

use maud::{html, Markup};

use super::home::Input;
use super::layout::{layout, Frame, Script};
use super::words::{described_by, field_error};

/// The sign-in page: a form to paste a token into, which comes back with
/// `error` when the token was refused; `next` is where it leads after. With
/// `submission`, a submission was refused for want of a user: the form
/// carries what was typed, to put it back in the home page's form.
pub(crate) fn sign_in(
    frame: &Frame,
    next: &str,
    error: Option<&str>,
    submission: Option<&Input>,
) -> Markup {
    let main = html! {
        div.intro {
            h1 { "Sign in" }
            p.lede {
                "Paste the token the workstation's operator gave you. \
                 It stays in this browser as a session until you sign out, \
                 for at most 12 hours, or until the server restarts."
            }
        }
        section.card.sign-in aria-labelledby="sign-in-heading" {
            h2.visually-hidden id="sign-in-heading" { "Your token" }
            @if let Some(user) = &frame.viewer.user {
                p.hint { "You are signed in as " strong { (user.name) } "; signing in again replaces it." }
            }
            @if let Some(input) = submission {
                p.notice role="alert" data-carried {
                    "Nothing was submitted yet: submitting needs a user. "
                    @if input.is_empty() {
                        "Sign in with your token, then submit again."
                    } @else {
                        "Sign in with your token, and the form comes back with what you typed \
                         (the name, the sequence, the pipeline and its parameters), ready to submit."
                    }
                    @if let Some(file) = &input.file {
                        " The file you chose (" (file) ") cannot be carried through a sign-in: \
                         choose it again after."
                    }
                }
            }
            form.stack method="post" action="/sign-in" {
                input type="hidden" name="next" value=(next);
                @if let Some(input) = submission {
                    (carried_fields(input))
                }
                div.field.invalid[error.is_some()] {
                    label for="token" { "Token" }
                    p.hint id="token-hint" {
                        "It starts with " code { "ssp_" } ". No token? Ask the operator to run "
                        code { "seqspool user add YOUR-NAME" } "."
                    }
                    (field_error("token", error))
                    input type="password" id="token" name="token" required
                        autocomplete="current-password" spellcheck="false" autofocus
                        aria-describedby=(described_by("token", error))
                        aria-invalid=[error.map(|_| "true")];
                }
                div.actions { button.primary type="submit" { "Sign in" } }
            }
        }
    };
    layout(frame, "Sign in", Script::Still, main)
}

/// A submission's fields as hidden ones, named as the home page's form names
/// them, so that the sign-in can put them back there.
fn carried_fields(input: &Input) -> Markup {
    html! {
        @if !input.name.is_empty() {
            input type="hidden" name="query_name" value=(input.name);
        }
        @if !input.sequence.is_empty() {
            input type="hidden" name="query_sequence" value=(input.sequence);
        }
        @if let Some(pipeline) = &input.pipeline {
            input type="hidden" name="pipeline" value=(pipeline);
        }
        @for (key, value) in &input.params {
            input type="hidden" name={ "param." (key) } value=(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_submission_carried_through_the_sign_in_is_escaped_in_its_hidden_fields() {
        let input = Input {
            name: "\"><script>alert(1)</script>".into(),
            sequence: ">a & b\nACGT\n>c\nGGCC".into(),
            pipeline: Some("blastn".into()),
            params: [("blastn.evalue".to_owned(), "1e-5".to_owned())].into(),
            file: Some("<plate>.fasta".into()),
        };
        let page = sign_in(&Frame::default(), "/", None, Some(&input)).into_string();
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains(
            r#"<input type="hidden" name="query_name" value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">"#
        ));
        assert!(page.contains(
            "<input type=\"hidden\" name=\"query_sequence\" value=\"&gt;a &amp; b\nACGT\n&gt;c\nGGCC\">"
        ));
        assert!(page.contains(r#"<input type="hidden" name="param.blastn.evalue" value="1e-5">"#));
        assert!(page.contains("The file you chose (&lt;plate&gt;.fasta) cannot be carried"));
        // Nothing to carry: the page says to submit again, and carries nothing.
        let page = sign_in(&Frame::default(), "/", None, Some(&Input::default())).into_string();
        assert!(
            page.contains("Sign in with your token, then submit again."),
            "{page}"
        );
        assert!(!page.contains("name=\"query_sequence\""));
    }
}
