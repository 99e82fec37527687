//! The graphical overview of a BLAST search: the query as an axis with
//! ticks, and below it one row per hit with a bar for each HSP where it lies
//! on the query, coloured by its bit score in NCBI's five bands, with a
//! legend. Drawn on the server as SVG (no script, no canvas): it is there
//! without JavaScript, and the page policy allows it as it is. The same
//! drawing downloads as an SVG file, from a `data:` link the page carries
//! (no request, no script).

use maud::{html, Markup};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::blast::report::{evalue, QueryHits};

/// The drawing's width in its own units; it is scaled to the page's width.
pub(super) const WIDTH: f64 = 800.0;
/// Where the axis begins: the hits' names are left of it.
pub(super) const PLOT_LEFT: f64 = 170.0;
/// Where the axis ends.
pub(super) const PLOT_RIGHT: f64 = 785.0;
/// The height of a hit's row, and of its bars.
const ROW: f64 = 16.0;
const BAR: f64 = 10.0;
/// Where the first hit's row begins, below the legend and the axis.
const FIRST_ROW: f64 = 74.0;
/// Hits drawn; the table below lists all that were kept.
pub(super) const MAX_ROWS: usize = 50;
/// Characters of a hit's name beside its row: as many fit left of the
/// axis in the larger type a phone gets (`style.css`).
const LABEL: usize = 16;

/// NCBI's colour key for alignment scores: below 40, 40 to 50, 50 to 80,
/// 80 to 200, and 200 or more bits.
pub(super) const BANDS: [(f64, &str, &str); 5] = [
    (0.0, "#3b3b3b", "< 40"),
    (40.0, "#2f5fd0", "40–50"),
    (50.0, "#27933f", "50–80"),
    (80.0, "#b4359f", "80–200"),
    (200.0, "#d23c2a", "≥ 200"),
];

/// The colour of a bit score.
pub(super) fn colour(bit_score: f64) -> &'static str {
    BANDS
        .iter()
        .rev()
        .find(|(from, _, _)| bit_score >= *from)
        .map_or(BANDS[0].1, |(_, colour, _)| colour)
}

/// Where position `position` (1-based) of a query of `len` begins on the axis.
pub(super) fn x(position: u64, len: u64) -> f64 {
    let len = len.max(1) as f64;
    let offset = (position.max(1) - 1) as f64;
    PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * offset.min(len) / len
}

/// A bar for the positions `from..=to` (in either order): its left edge and width.
pub(super) fn bar(from: u64, to: u64, len: u64) -> (f64, f64) {
    let (from, to) = (from.min(to), from.max(to));
    let left = x(from, len);
    let right = x(to + 1, len);
    (left, (right - left).max(1.0))
}

/// Tick positions along a query of `len`: 1, then round numbers (a 1, 2 or
/// 5 times a power of ten apart, four to ten of them), and the end.
pub(super) fn ticks(len: u64) -> Vec<u64> {
    let len = len.max(1);
    let mut step = 1u64;
    'find: for power in 0..19 {
        for factor in [1, 2, 5] {
            let candidate = factor * 10u64.pow(power);
            if len / candidate <= 8 {
                step = candidate;
                break 'find;
            }
        }
    }
    let mut ticks = vec![1];
    let mut at = step;
    while at < len {
        // Not so close to the end that the labels run into each other.
        if (len - at) * 20 >= len && at > 1 {
            ticks.push(at);
        }
        at += step;
    }
    if len > 1 {
        ticks.push(len);
    }
    ticks
}

/// What a `data:` URL of an SVG must escape: what would end or confuse the
/// URL (`#`, `%`, quotes, spaces) or the attribute it sits in.
const DATA_ESCAPED: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'\'')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'&');

/// The overview of one query's hits, and a link that downloads it as
/// `file_name`; `prefix` makes its ids and links the query's own.
pub(super) fn render(query: &QueryHits, prefix: &str, file_name: &str) -> Markup {
    let drawing = drawing(query, prefix);
    let file = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}\n",
        drawing.0
    );
    let href = format!(
        "data:image/svg+xml;charset=utf-8,{}",
        utf8_percent_encode(&file, DATA_ESCAPED)
    );
    let shown = query.hits.len().min(MAX_ROWS);
    html! {
        figure.overview {
            (drawing)
            p.overview-download {
                a href=(href) download=(file_name) type="image/svg+xml" { "Download the overview (SVG)" }
            }
            @if query.hits.len() > shown {
                figcaption.hint { "The best " (shown) " of " (query.hits.len()) " hits; the table lists all." }
            }
        }
    }
}

/// The drawing itself: an `svg` element that stands on its own.
fn drawing(query: &QueryHits, prefix: &str) -> Markup {
    let hits: Vec<_> = query.hits.iter().take(MAX_ROWS).collect();
    let height = FIRST_ROW + ROW * hits.len() as f64 + 6.0;
    let title_id = format!("{prefix}-overview-title");
    let desc_id = format!("{prefix}-overview-desc");
    let axis_y = 58.0;
    html! {
            svg.overview-svg viewBox={ "0 0 " (WIDTH) " " (height) } width=(WIDTH) height=(height)
                preserveAspectRatio="xMinYMin meet" role="img"
                aria-labelledby=(title_id) aria-describedby=(desc_id)
                xmlns="http://www.w3.org/2000/svg" {
                title id=(title_id) { "Where the hits align on the query" }
                desc id=(desc_id) {
                    "The query, " (query.len) " long, as an axis; below it one row per hit, best first, \
                     with a bar for each aligned segment, coloured by its bit score."
                }
                g.legend font-size="11" {
                    text x=(PLOT_LEFT - 8.0) y="14" text-anchor="end" { "Bit score" }
                    @for (i, (_, fill, words)) in BANDS.iter().enumerate() {
                        @let left = PLOT_LEFT + i as f64 * 92.0;
                        rect x=(left) y="5" width="22" height="10" fill=(fill) {}
                        text x=(left + 27.0) y="14" { (words) }
                    }
                }
                g.axis font-size="11" {
                    text.axis-label x=(PLOT_LEFT - 8.0) y=(axis_y + 4.0) text-anchor="end" { "Query" }
                    line x1=(PLOT_LEFT) x2=(PLOT_RIGHT) y1=(axis_y) y2=(axis_y) stroke="currentColor" stroke-width="2" {}
                    @for tick in ticks(query.len) {
                        @let at = if tick == 1 { PLOT_LEFT } else { x(tick + 1, query.len) };
                        line x1=(at) x2=(at) y1=(axis_y - 5.0) y2=(axis_y + 5.0) stroke="currentColor" {}
                        text x=(at) y=(axis_y - 9.0) text-anchor="middle" data-tick=(tick) { (tick) }
                    }
                }
                @for (row, hit) in hits.iter().enumerate() {
                    @let top = FIRST_ROW + ROW * row as f64;
                    g.hit data-hit=(hit.num) {
                        a href={ "#" (prefix) "-hit-" (hit.num) } {
                            title {
                                (hit.num) ". " (hit.id) " " (hit.title)
                                @if let Some(e) = hit.evalue() { " · E-value " (evalue(e)) }
                                @if let Some(bits) = hit.bits() { " · " (bits) " bits" }
                            }
                            text.hit-label x=(PLOT_LEFT - 8.0) y=(top + BAR - 1.0) text-anchor="end" font-size="11" {
                                (label(&hit.id))
                            }
                            // Best first: a weaker HSP within a stronger one's span still shows.
                            @for hsp in &hit.hsps {
                                @let (left, width) = bar(hsp.query_from, hsp.query_to, query.len);
                                rect.hsp x=(round(left)) y=(top) width=(round(width)) height=(BAR)
                                    fill=(colour(hsp.bit_score)) rx="2"
                                    data-from=(hsp.query_from.min(hsp.query_to))
                                    data-to=(hsp.query_from.max(hsp.query_to)) {}
                            }
                        }
                    }
                }
            }
    }
}

/// A hit's name as its row shows it.
fn label(id: &str) -> String {
    match id.char_indices().nth(LABEL) {
        Some((end, _)) => format!("{}…", &id[..end]),
        None => id.to_owned(),
    }
}

/// Two decimals are finer than any screen.
fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blast::report::tests::report;

    /// The number in attribute `name` of a start tag.
    fn attribute(tag: &str, name: &str) -> f64 {
        let start = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        let end = start + tag[start..].find('"').unwrap();
        tag[start..end].parse().unwrap()
    }

    #[test]
    fn bars_sit_where_their_hsps_lie_on_the_query() {
        let width = PLOT_RIGHT - PLOT_LEFT;
        assert_eq!(bar(1, 300, 300), (PLOT_LEFT, width));
        let (left, w) = bar(42, 53, 300);
        assert!((left - (PLOT_LEFT + width * 41.0 / 300.0)).abs() < 1e-9);
        assert!((w - width * 12.0 / 300.0).abs() < 1e-9);
        // Either order, the same bar.
        assert_eq!(bar(53, 42, 300), bar(42, 53, 300));
        // A single position is still seen.
        assert!(bar(5, 5, 1_000_000).1 >= 1.0);
    }

    #[test]
    fn one_group_per_hit_with_a_bar_per_hsp_scaled_to_the_query() {
        let report = report();
        let svg = render(&report.queries[0], "r1-q1", "000007-q1-overview.svg").into_string();
        assert_eq!(svg.matches("<g class=\"hit\"").count(), 2, "{svg}");
        assert!(svg.contains("<g class=\"hit\" data-hit=\"1\">"));
        assert!(svg.contains("<g class=\"hit\" data-hit=\"2\">"));
        let rects: Vec<&str> = svg
            .split("<rect class=\"hsp\"")
            .skip(1)
            .map(|rest| &rest[..rest.find('>').unwrap()])
            .collect();
        assert_eq!(rects.len(), 3);
        let width = PLOT_RIGHT - PLOT_LEFT;
        // Hit 1's HSPs, best first: 1..300, then 42..53 over it.
        assert_eq!(attribute(rects[0], "x"), PLOT_LEFT);
        assert_eq!(attribute(rects[0], "width"), width);
        assert!((attribute(rects[1], "x") - (PLOT_LEFT + width * 41.0 / 300.0)).abs() < 0.01);
        assert!((attribute(rects[1], "width") - width * 12.0 / 300.0).abs() < 0.01);
        assert!(rects[0].contains(&format!("fill=\"{}\"", BANDS[4].1)));
        assert!(rects[1].contains(&format!("fill=\"{}\"", BANDS[0].1)));
        // Hit 2, a row lower.
        assert!((attribute(rects[2], "x") - (PLOT_LEFT + width * 251.0 / 300.0)).abs() < 0.01);
        assert_eq!(attribute(rects[2], "y") - attribute(rects[1], "y"), ROW);
        // Its links go to the hits' alignments; its text is escaped.
        assert!(svg.contains("<a href=\"#r1-q1-hit-1\">"));
        assert!(svg.contains("&lt;script&gt;"), "{svg}");
        assert!(!svg.contains("<script>"));
        // The legend names every band.
        for (_, fill, words) in BANDS {
            let words = words.replace('<', "&lt;");
            assert!(svg.contains(fill) && svg.contains(&words), "{words}");
        }
    }

    #[test]
    fn ticks_are_round_numbers_from_one_to_the_end() {
        assert_eq!(ticks(300), vec![1, 50, 100, 150, 200, 250, 300]);
        // 1600 would crowd 1655.
        assert_eq!(
            ticks(1655),
            vec![1, 200, 400, 600, 800, 1000, 1200, 1400, 1655]
        );
        assert_eq!(ticks(1), vec![1]);
        assert_eq!(ticks(7), vec![1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(colour(542.0), BANDS[4].1);
        assert_eq!(colour(45.0), BANDS[1].1);
        assert_eq!(colour(10.0), BANDS[0].1);
    }
}
