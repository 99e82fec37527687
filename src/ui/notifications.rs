//! The experiment page's Notifications line: who is told of its end, and,
//! once it has ended, where each delivery stands (from its outbox).

use maud::{html, Markup};

use crate::model::Record;
use crate::notify::{Delivery, Outbox, Status, Target};
use crate::time::Timestamp;

/// The line's value, or `None` when nobody is to be told.
pub fn value(record: &Record, outbox: Option<&Outbox>) -> Option<Markup> {
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
}

fn target(target: &Target) -> Markup {
    html! {
        @match target {
            Target::NotifyUrl { url } => code { (url) },
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
