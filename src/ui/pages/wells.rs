//! A plate's grid, above its batch's list: the plate as the scientist
//! pipetted it, a table whose row letters and column numbers are its
//! headers, each well a link to its experiment, coloured by its state and,
//! once complete, by whether its search found a hit. Colour is never the
//! only sign: each well has a mark, and words for a screen reader (its
//! name, its state, its result). `batch.js` keeps the wells current with the
//! same marks and words ([`Look`]).

use maud::{html, Markup};

use crate::model::State;
use crate::results::plate::{PlateWell, Wells};
use crate::results::wells::Well;

/// How a well looks: its class, its mark, and what it says.
struct Look {
    class: &'static str,
    mark: &'static str,
    words: &'static str,
}

impl Look {
    /// A well in `state` whose result found a hit (`Some(true)`), none
    /// (`Some(false)`), or says neither (`None`).
    fn of(state: State, hit: Option<bool>) -> Look {
        let (class, mark, words) = match (state, hit) {
            (State::Queued, _) => ("well-queued", "", "queued"),
            (State::Running, _) => ("well-running", "…", "running"),
            (State::Complete, Some(true)) => ("well-hit", "●", "hit"),
            (State::Complete, Some(false)) => ("well-no-hit", "○", "no hit"),
            (State::Complete, None) => ("well-complete", "✓", "complete"),
            (State::ExecutorError | State::SystemError, _) => ("well-failed", "✕", "failed"),
            (State::Canceled, _) => ("well-canceled", "–", "canceled"),
        };
        Look { class, mark, words }
    }
}

/// Every look a grid may show, in the legend's order.
const LEGEND: [(State, Option<bool>); 7] = [
    (State::Queued, None),
    (State::Running, None),
    (State::Complete, Some(true)),
    (State::Complete, Some(false)),
    (State::Complete, None),
    (State::ExecutorError, None),
    (State::Canceled, None),
];

/// The plate's section: its grid and the legend of its colours.
pub(super) fn grid(wells: &Wells) -> Markup {
    let format = wells.format;
    let size = format.wells();
    html! {
        section.card.plate-grid aria-labelledby="plate-heading" {
            h2 id="plate-heading" { "The plate" }
            div.table-scroll tabindex="0" role="region" aria-labelledby="plate-heading" {
                table.wells.(format!("wells-{size}")) data-wells {
                    caption.visually-hidden {
                        (size) "-well plate, rows A to " (Well::row_letter(format.rows - 1))
                        ", columns 1 to " (format.columns) ": each well opens its experiment."
                    }
                    thead {
                        tr {
                            td {}
                            @for column in 1..=format.columns {
                                th scope="col" { (column) }
                            }
                        }
                    }
                    tbody {
                        @for (row, cells) in wells.wells.chunks(usize::from(format.columns)).enumerate() {
                            tr {
                                th scope="row" { (Well::row_letter(row as u8)) }
                                @for cell in cells {
                                    (well(cell.as_ref()))
                                }
                            }
                        }
                    }
                }
            }
            ul.well-legend aria-label="What the colours say" {
                @for (state, hit) in LEGEND {
                    @let look = Look::of(state, hit);
                    li {
                        span.well-key.(look.class) aria-hidden="true" { (look.mark) }
                        " " (look.words)
                    }
                }
            }
        }
    }
}

/// What a well's words add to its look: the hit, the error; nothing the
/// look says already (`no hits`, `canceled`).
fn said(cell: &PlateWell) -> Option<&str> {
    let text = cell.summary.text.as_str();
    let adds =
        !text.is_empty() && cell.summary.hit != Some(false) && cell.record.state != State::Canceled;
    adds.then_some(text)
}

/// One well's cell: a link to its experiment, or an empty well.
fn well(cell: Option<&PlateWell>) -> Markup {
    let Some(cell) = cell else {
        return html! { td.well.well-empty { span.visually-hidden { "empty" } } };
    };
    let record = &cell.record;
    let look = Look::of(record.state, cell.summary.hit);
    let name = cell.well.name();
    let result = &cell.summary.text;
    let title = if result.is_empty() {
        format!("{name} · {} · {}", record.query_name, look.words)
    } else {
        format!("{name} · {} · {result}", record.query_name)
    };
    html! {
        td.well.(look.class) data-id=(record.id) data-well=(name) title=(title) {
            a href={ "/experiments/" (record.id) } {
                span.mark aria-hidden="true" { (look.mark) }
                span.visually-hidden {
                    (name) ": " (look.words)
                    @if let Some(result) = said(cell) { ", " (result) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Record;
    use crate::results::summary::Summary;
    use crate::results::wells::layout;

    /// A 96-well plate with A01 a hit, A02 no hit, A03 failed and B01 running.
    fn plate() -> Wells {
        let names = ["A01", "A02", "A03", "B01"];
        let layout = layout(names).unwrap();
        let states = [
            (State::Complete, Some(true), "ref03 (E = 2e-31)"),
            (State::Complete, Some(false), "no hits"),
            (State::ExecutorError, None, "exited with code 2"),
            (State::Running, None, ""),
        ];
        let records: Vec<(Record, Summary)> = names
            .iter()
            .zip(states)
            .enumerate()
            .map(|(n, (name, (state, hit, text)))| {
                let mut record = Record::for_test(n as u64 + 1, state);
                record.query_name = (*name).into();
                let summary = Summary {
                    text: text.into(),
                    hit,
                    ..Summary::default()
                };
                (record, summary)
            })
            .collect();
        Wells::place(&layout, records)
    }

    #[test]
    fn a_plate_is_a_table_with_headers_and_each_well_says_its_state_in_words() {
        let page = grid(&plate()).into_string();
        assert_eq!(page.matches("<th scope=\"col\">").count(), 12, "{page}");
        assert_eq!(page.matches("<th scope=\"row\">").count(), 8, "{page}");
        assert_eq!(page.matches("<td class=\"well").count(), 96, "{page}");
        assert_eq!(page.matches("well-empty").count(), 92, "{page}");
        for (well, id, class, words) in [
            ("A01", "000001", "well-hit", "A01: hit, ref03 (E = 2e-31)"),
            ("A02", "000002", "well-no-hit", "A02: no hit<"),
            (
                "A03",
                "000003",
                "well-failed",
                "A03: failed, exited with code 2<",
            ),
            ("B01", "000004", "well-running", "B01: running<"),
        ] {
            let at = page
                .find(&format!("data-well=\"{well}\""))
                .unwrap_or_else(|| panic!("{well} in {page}"));
            let cell = &page[page[..at].rfind("<td").unwrap()..];
            let cell = &cell[..cell.find("</td>").unwrap()];
            assert!(cell.contains(class), "{cell}");
            assert!(
                cell.contains(&format!("href=\"/experiments/{id}\"")),
                "{cell}"
            );
            assert!(cell.contains(words), "{cell}");
        }
        assert!(
            page.contains("96-well plate, rows A to H, columns 1 to 12"),
            "{page}"
        );
    }
}
