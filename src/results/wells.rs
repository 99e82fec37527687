//! A batch named as a plate's wells, laid out as the plate the scientist
//! pipetted: which batches are plates, the plate's size, and where each
//! experiment sits. Data only; `ui::pages` draws it as a grid.
//!
//! The rule is strict: a batch is a plate when *every* record is named as a
//! well (`A1` or `A01`, either case), no well twice, and it fits a 96-well
//! plate (rows A to H, columns 1 to 12) or a 384-well one (rows A to P,
//! columns 1 to 24). A batch with one record named otherwise (`blank`,
//! `ctrl`) is a list: a grid that leaves a record out would hide it, and one
//! that guesses where it goes would mislead.

/// The largest plate drawn: 384 wells (16 x 24), the largest plate a lab's
/// sequencing runs come on (1536-well plates are a screening format, not a
/// sequencing one).
pub(crate) const MAX_WELLS: usize = 384;

/// A plate's size: 8 x 12 (96 wells) or 16 x 24 (384).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Format {
    pub rows: u8,
    pub columns: u8,
}

/// The plates a batch is laid out on, the smallest first.
const FORMATS: [Format; 2] = [
    Format {
        rows: 8,
        columns: 12,
    },
    Format {
        rows: 16,
        columns: 24,
    },
];

impl Format {
    /// How many wells it has.
    pub(crate) fn wells(self) -> usize {
        usize::from(self.rows) * usize::from(self.columns)
    }

    /// The well at `at`, counting row by row from A01.
    pub(crate) fn well(self, at: usize) -> Well {
        let columns = usize::from(self.columns);
        Well {
            row: (at / columns) as u8,
            column: (at % columns) as u8,
        }
    }
}

/// A well's place on a plate, counted from 0: `A01` is row 0, column 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Well {
    pub row: u8,
    pub column: u8,
}

impl Well {
    /// The well a name names: a row letter A to P (either case), then its
    /// column, 1 to 24, in one or two digits (`A1`, `a01`, `P24`). Nothing
    /// else: not `A001`, `A0`, `A 1` or `plate1_A01`.
    pub(crate) fn parse(name: &str) -> Option<Well> {
        let mut chars = name.chars();
        let letter = chars.next()?.to_ascii_uppercase();
        if !('A'..='P').contains(&letter) {
            return None;
        }
        let digits = chars.as_str();
        if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let column: u8 = digits.parse().ok()?;
        if !(1..=24).contains(&column) {
            return None;
        }
        Some(Well {
            row: letter as u8 - b'A',
            column: column - 1,
        })
    }

    /// Its row's letter: `A` to `P`.
    pub(crate) fn row_letter(row: u8) -> char {
        char::from(b'A' + row)
    }

    /// Its name as plates print it: `A01`.
    pub(crate) fn name(self) -> String {
        format!("{}{:02}", Well::row_letter(self.row), self.column + 1)
    }
}

/// Where each record of a batch sits on its plate.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub format: Format,
    /// One per well, row by row (A01, A02, ... H12): the index of the record
    /// in that well, if one is.
    pub wells: Vec<Option<usize>>,
}

/// Lays out records named `names` (in the batch's order) on the smallest
/// plate they fit, or `None` when the batch is no plate (see the module's
/// rule).
pub(crate) fn layout<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Layout> {
    let wells: Vec<Well> = names.into_iter().map(Well::parse).collect::<Option<_>>()?;
    if wells.is_empty() || wells.len() > MAX_WELLS {
        return None;
    }
    let format = FORMATS.into_iter().find(|format| {
        wells
            .iter()
            .all(|well| well.row < format.rows && well.column < format.columns)
    })?;
    let mut slots = vec![None; format.wells()];
    for (index, well) in wells.iter().enumerate() {
        let slot = &mut slots
            [usize::from(well.row) * usize::from(format.columns) + usize::from(well.column)];
        if slot.replace(index).is_some() {
            // The same well twice: two records in one well is no plate.
            return None;
        }
    }
    Some(Layout {
        format,
        wells: slots,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_is_a_row_letter_and_a_column_of_one_or_two_digits() {
        assert_eq!(Well::parse("A1"), Some(Well { row: 0, column: 0 }));
        assert_eq!(Well::parse("a01"), Some(Well { row: 0, column: 0 }));
        assert_eq!(Well::parse("H12"), Some(Well { row: 7, column: 11 }));
        assert_eq!(
            Well::parse("P24"),
            Some(Well {
                row: 15,
                column: 23
            })
        );
        for not in [
            "",
            "A",
            "A0",
            "A00",
            "A001",
            "A25",
            "Q1",
            "1A",
            "A 1",
            "A1 ",
            "plate1_A01",
            "AA1",
            "A+1",
            "Á1",
        ] {
            assert_eq!(Well::parse(not), None, "{not:?}");
        }
        assert_eq!(Well { row: 7, column: 11 }.name(), "H12");
        assert_eq!(Well { row: 0, column: 0 }.name(), "A01");
    }

    fn all(rows: u8, columns: u8, zero_padded: bool) -> Vec<String> {
        let mut names = Vec::new();
        for row in 0..rows {
            for column in 1..=columns {
                let letter = Well::row_letter(row);
                names.push(if zero_padded {
                    format!("{letter}{column:02}")
                } else {
                    format!("{letter}{column}")
                });
            }
        }
        names
    }

    #[test]
    fn a_batch_every_record_of_which_is_a_well_lies_on_the_smallest_plate_it_fits() {
        let names = all(8, 12, true);
        let plate = layout(names.iter().map(String::as_str)).unwrap();
        assert_eq!(plate.format.wells(), 96);
        assert_eq!(plate.wells[0], Some(0));
        assert_eq!(plate.wells[95], Some(95));
        assert_eq!(plate.wells[13], Some(13));
        assert_eq!(plate.format.well(13), Well { row: 1, column: 1 });

        // Column by column, unpadded, and only half a plate: still 96 wells, each in its place.
        let mut names = all(8, 6, false);
        names.sort_by_key(|name| Well::parse(name).unwrap().column);
        let plate = layout(names.iter().map(String::as_str)).unwrap();
        assert_eq!(plate.format.wells(), 96);
        assert_eq!(plate.wells[1], Some(8), "A2 is the ninth record");
        assert_eq!(plate.wells[6], None, "A7 is empty");

        let names = all(16, 24, true);
        let plate = layout(names.iter().map(String::as_str)).unwrap();
        assert_eq!(plate.format.wells(), 384);
        assert_eq!(layout(["A01", "I01"]).unwrap().format.wells(), 384);
        assert_eq!(layout(["A01", "A13"]).unwrap().format.wells(), 384);
    }

    #[test]
    fn a_batch_with_one_record_not_a_well_or_a_well_twice_is_no_plate() {
        assert_eq!(layout(["A01", "A02", "blank"]), None);
        assert_eq!(layout(["A01", "A1"]), None);
        assert_eq!(layout(Vec::<&str>::new()), None);
    }
}
