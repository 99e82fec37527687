//! What an experiment's page says of its notifications: who is told of its
//! end, and, once it has ended, where each delivery stands (from its
//! outbox); and the page that shows a user the secret their receivers
//! verify with.

use maud::{html, Markup};

use super::layout::{layout, Frame, Script};
use crate::model::Record;
use crate::notify::{Delivery, Outbox, Status, Target};
use crate::time::Timestamp;

/// The page of a user's notifications secret (`who` is their name, or their
/// address when they are not signed in, `own` whether they are): the
/// secret, and how a receiver checks a signature with it.
pub(crate) fn secret(frame: &Frame, who: &str, secret: &str, own: bool) -> Markup {
    let main = html! {
        div.intro {
            h1 { "Your notifications secret" }
            p.lede {
                "What seqspool posts to the " code { "notify_url" } " of an experiment "
                @if own { "you submitted" } @else { "submitted from " (who) }
                " is signed with this secret, as Standard Webhooks says; your receiver "
                "checks each event's " code { "webhook-signature" } " with it, and refuses "
                "what does not check out. Nobody else's receiver has it."
            }
        }
        section.card aria-labelledby="secret-heading" {
            h2 id="secret-heading" { "Secret of " (who) }
            p { code data-secret { (secret) } }
            @if own {
                p.hint {
                    "It changes with your token: when the operator gives you a new one, "
                    "come back here for the new secret."
                }
            } @else {
                p.hint {
                    "You are not signed in: this is the secret of your address, which "
                    "everyone submitting from it shares. Sign in for a secret of your own."
                }
            }
        }
    };
    layout(frame, "Your notifications secret", Script::Still, main)
}

/// The value of the experiment page's Notifications line, or `None` when
/// nobody is to be told.
pub(super) fn value(record: &Record, outbox: Option<&Outbox>) -> Option<Markup> {
    if record.notify_url.is_none() && !record.notify_lab {
        return None;
    }
    Some(match outbox {
        None => html! {
            ul.notifications {
                @if let Some(url) = &record.notify_url {
                    li { code { (url) } " is told when it ends" }
                }
                @if record.notify_lab {
                    li { "The lab's notifications are told when it ends" }
                }
            }
        },
        Some(outbox) => html! {
            ul.notifications {
                @for delivery in &outbox.deliveries {
                    li data-delivery=(state_name(delivery.state)) {
                        (target(&delivery.target)) ": " (state(delivery))
                    }
                }
            }
            p.hint { "Event " code { (outbox.id) } " (" (outbox.kind) ")" }
        },
    })
    .map(|line| html! {
        (line)
        @if record.notify_url.is_some() {
            p.hint {
                "A receiver checks each event's signature with the secret of whoever submitted it; "
                a href="/notifications/secret" { "yours" } " is shown to you alone."
            }
        }
    })
}

fn target(target: &Target) -> Markup {
    html! {
        @match target {
            Target::NotifyUrl { url, signed_for } => {
                code { (url) }
                @if let Some(who) = signed_for {
                    " (signed with the secret of " (who) ")"
                }
            },
            Target::Lab => "The lab's address",
            Target::OnFinish => "The lab's on_finish command",
        }
    }
}

fn state_name(status: Status) -> &'static str {
    match status {
        Status::Pending => "pending",
        Status::Delivered => "delivered",
        Status::Failed => "failed",
    }
}

fn state(delivery: &Delivery) -> Markup {
    let attempts = |n: u32| {
        if n == 1 {
            "1 attempt".to_owned()
        } else {
            format!("{n} attempts")
        }
    };
    let error = delivery.last_error.as_deref().unwrap_or("failed");
    html! {
        @match delivery.state {
            Status::Delivered => {
                "delivered " (time(delivery.delivered_at))
                @if delivery.attempts > 1 { " after " (attempts(delivery.attempts)) }
            }
            Status::Pending if delivery.attempts == 0 => "being sent",
            Status::Pending => {
                "not delivered yet (" (attempts(delivery.attempts)) "; the last: " (error)
                "); next try " (time(delivery.next_attempt_at))
            }
            Status::Failed => {
                "failed after " (attempts(delivery.attempts)) ": " (error)
            }
        }
    }
}

/// `<time>` with the RFC 3339 instant; the page's script shows it in local time.
fn time(at: Option<Timestamp>) -> Markup {
    html! {
        @if let Some(at) = at { time datetime=(at) { (at) } }
    }
}
