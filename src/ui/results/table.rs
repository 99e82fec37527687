//! A table result on the page: a note of what is shown (how many rows, and
//! where the count comes from), BLAST's comment lines, and the first rows,
//! sortable by a column with JavaScript on (`results.js`). What the file
//! holds is read by [`crate::results::table`].

use maud::{html, Markup};

use super::Context;
use crate::results::table::{Kind, Table, Total, MAX_READ};
use crate::results::thousands;

/// The table on the page: a note of what is shown, and the table, sortable
/// by a column with JavaScript on (`results.js`).
pub(super) fn render(table: &Table, context: &Context) -> Markup {
    let shown = table.rows.len() as u64;
    let heading = context.heading_id();
    html! {
        @if !table.comments.is_empty() {
            ul.blast-comments {
                @for comment in &table.comments { li { (comment) } }
            }
        }
        p.result-note {
            @match table.total {
                Total::Exact(0) => { "No rows." }
                Total::Exact(n) if n == shown => {
                    (thousands(n)) @if n == 1 { " row." } @else { " rows." }
                }
                Total::Exact(n) => {
                    "The first " (thousands(shown)) " rows of " (thousands(n)) "."
                }
                Total::About(n) => {
                    "The first " (thousands(shown)) " rows of about " (thousands(n.max(shown)))
                    " (counted from its first " (crate::store::bytes(MAX_READ)) ")."
                }
            }
            @if table.kind == Kind::Blast { " BLAST tabular output." }
            @if table.hidden_columns > 0 {
                " " (table.hidden_columns) " more columns are in the file."
            }
            @if shown < match table.total { Total::Exact(n) | Total::About(n) => n } {
                " " a href=(context.download_url()) { "Download the whole file" } "."
            }
        }
        @if !table.rows.is_empty() {
            div.table-scroll tabindex="0" role="region" aria-labelledby=(heading) {
                table.data data-sortable {
                    thead {
                        tr {
                            @for column in &table.columns {
                                th class=[column.numeric.then_some("num")] scope="col"
                                    data-type=[column.numeric.then_some("number")]
                                    title=[column.code.as_deref()] {
                                    (column.label)
                                }
                            }
                        }
                    }
                    tbody {
                        @for row in &table.rows {
                            tr {
                                @for (i, column) in table.columns.iter().enumerate() {
                                    td class=[column.numeric.then_some("num")] {
                                        (row.get(i).map(String::as_str).unwrap_or(""))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
