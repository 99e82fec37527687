//! A ZIP archive written as a stream: stored entries (no compression), each
//! file copied once, in order, to any `Write`, with ZIP64 where an entry, an
//! offset or the count outgrows the classic format.
//!
//! Stored, because the workstation's cores belong to the runs (one takes the
//! whole machine) and a download on the lab's network is not the bottleneck;
//! hand-written, because stored entries need only their headers and a CRC,
//! where the `zip` crate would bring a compression stack the server does not
//! use, and keep several times more per entry in memory until the end. Each entry's
//! CRC and size follow its data in a data descriptor (bit 3), so a file is
//! read once and never held; only the central directory, about 80 bytes an
//! entry, stays in memory until [`ZipStream::finish`].
//!
//! Names are checked here, whatever the caller made them from: relative, `/`
//! between components, none empty, `.` or `..`, no `\`, so no entry can be
//! extracted outside the folder it is extracted into.

use std::io::{self, Read, Write};

use crate::time::Timestamp;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY: u32 = 0x0606_4b50;
const ZIP64_END_LOCATOR: u32 = 0x0706_4b50;
/// The extra field of ZIP64 sizes and offsets.
const ZIP64_EXTRA: u16 = 0x0001;
/// The extended timestamp extra field: the modification time in Unix seconds.
const TIMESTAMP_EXTRA: u16 = 0x5455;

/// Sizes and CRC follow the data (bit 3); the name is UTF-8 (bit 11).
const FLAGS: u16 = 0x0008 | 0x0800;
/// Version 2.0: stored entries, folders, data descriptors.
const VERSION: u16 = 20;
/// Version 4.5: ZIP64.
const VERSION_ZIP64: u16 = 45;
/// Made by: Unix (3), so the permissions in the external attributes count.
const MADE_BY: u16 = (3 << 8) | VERSION_ZIP64;
/// A regular file readable by all (`-rw-r--r--`), in the high half.
const FILE_ATTRIBUTES: u32 = 0o100_644 << 16;
/// What the classic fields hold at most; at it, the value is in ZIP64's.
const MAX_32: u64 = u32::MAX as u64;
const MAX_16: u64 = u16::MAX as u64;

/// Bytes copied from a file at a time.
const COPY_BUFFER: usize = 64 * 1024;

/// An entry as the central directory needs it.
struct Entry {
    name: Box<str>,
    offset: u64,
    crc: u32,
    size: u64,
    /// The DOS date (high half) and time (low half).
    dos: u32,
    unix_time: u32,
}

/// A ZIP archive being written to `W`.
pub struct ZipStream<W: Write> {
    out: W,
    /// Bytes written so far: the next entry's offset.
    written: u64,
    entries: Vec<Entry>,
    buffer: Vec<u8>,
    /// Sizes and offsets from which ZIP64's fields hold them: the classic
    /// fields' most, but lower in tests, which cannot write 4 GiB.
    zip64_from: u64,
}

impl<W: Write> ZipStream<W> {
    pub fn new(out: W) -> ZipStream<W> {
        ZipStream {
            out,
            written: 0,
            entries: Vec::new(),
            buffer: vec![0; COPY_BUFFER],
            zip64_from: MAX_32,
        }
    }

    /// How many entries it holds.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds the file `name` (`folder/file.txt`) with at most `length` bytes of
    /// `data` (its size when opened: a log still growing is archived as it
    /// was, one that shrank as it is), modified at `modified`.
    pub fn add(
        &mut self,
        name: &str,
        data: impl Read,
        length: u64,
        modified: Timestamp,
    ) -> io::Result<()> {
        if !is_safe_name(name) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("'{name}' is not a safe name inside an archive"),
            ));
        }
        let offset = self.written;
        let (dos, unix_time) = (dos_time(modified), (modified.millis() / 1000) as u32);
        // Decided before the data, as readers decide it from the local header.
        let zip64 = length >= self.zip64_from;
        let mut header = Vec::with_capacity(30 + name.len() + 29);
        put32(&mut header, LOCAL_HEADER);
        put16(&mut header, if zip64 { VERSION_ZIP64 } else { VERSION });
        put16(&mut header, FLAGS);
        put16(&mut header, 0); // stored
        put32(&mut header, dos);
        put32(&mut header, 0); // the CRC and sizes are in the data descriptor
        let size_field = if zip64 { u32::MAX } else { 0 };
        put32(&mut header, size_field);
        put32(&mut header, size_field);
        put16(&mut header, name.len() as u16);
        put16(&mut header, if zip64 { 20 + 9 } else { 9 });
        header.extend_from_slice(name.as_bytes());
        if zip64 {
            put16(&mut header, ZIP64_EXTRA);
            put16(&mut header, 16);
            put64(&mut header, 0);
            put64(&mut header, 0);
        }
        put_timestamp(&mut header, unix_time);
        self.write(&header)?;

        let mut crc = Crc32::default();
        let mut size = 0u64;
        let mut data = data.take(length);
        loop {
            let read = match data.read(&mut self.buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            crc.update(&self.buffer[..read]);
            size += read as u64;
            self.out.write_all(&self.buffer[..read])?;
            self.written += read as u64;
        }
        let crc = crc.finish();

        let mut descriptor = Vec::with_capacity(24);
        put32(&mut descriptor, DATA_DESCRIPTOR);
        put32(&mut descriptor, crc);
        if zip64 {
            put64(&mut descriptor, size);
            put64(&mut descriptor, size);
        } else {
            put32(&mut descriptor, size as u32);
            put32(&mut descriptor, size as u32);
        }
        self.write(&descriptor)?;
        self.entries.push(Entry {
            name: name.into(),
            offset,
            crc,
            size,
            dos,
            unix_time,
        });
        Ok(())
    }

    /// Writes the central directory and gives the writer back.
    pub fn finish(mut self) -> io::Result<W> {
        let start = self.written;
        let entries = std::mem::take(&mut self.entries);
        let count = entries.len() as u64;
        let mut record = Vec::with_capacity(256);
        for entry in &entries {
            record.clear();
            let mut zip64 = Vec::new();
            let size = if entry.size >= self.zip64_from {
                put64(&mut zip64, entry.size); // uncompressed
                put64(&mut zip64, entry.size); // compressed
                u32::MAX
            } else {
                entry.size as u32
            };
            let offset = if entry.offset >= self.zip64_from {
                put64(&mut zip64, entry.offset);
                u32::MAX
            } else {
                entry.offset as u32
            };
            let extra_length = if zip64.is_empty() { 0 } else { 4 + zip64.len() } + 9;
            put32(&mut record, CENTRAL_HEADER);
            put16(&mut record, MADE_BY);
            put16(
                &mut record,
                if zip64.is_empty() {
                    VERSION
                } else {
                    VERSION_ZIP64
                },
            );
            put16(&mut record, FLAGS);
            put16(&mut record, 0); // stored
            put32(&mut record, entry.dos);
            put32(&mut record, entry.crc);
            put32(&mut record, size);
            put32(&mut record, size);
            put16(&mut record, entry.name.len() as u16);
            put16(&mut record, extra_length as u16);
            put16(&mut record, 0); // comment
            put16(&mut record, 0); // disk
            put16(&mut record, 0); // internal attributes
            put32(&mut record, FILE_ATTRIBUTES);
            put32(&mut record, offset);
            record.extend_from_slice(entry.name.as_bytes());
            if !zip64.is_empty() {
                put16(&mut record, ZIP64_EXTRA);
                put16(&mut record, zip64.len() as u16);
                record.extend_from_slice(&zip64);
            }
            put_timestamp(&mut record, entry.unix_time);
            self.write(&record)?;
        }
        let size = self.written - start;
        let mut end = Vec::with_capacity(98);
        let zip64_end = count >= MAX_16 || size >= self.zip64_from || start >= self.zip64_from;
        if zip64_end {
            let record_at = self.written;
            put32(&mut end, ZIP64_END_OF_CENTRAL_DIRECTORY);
            put64(&mut end, 44); // the size of the rest of this record
            put16(&mut end, MADE_BY);
            put16(&mut end, VERSION_ZIP64);
            put32(&mut end, 0); // this disk
            put32(&mut end, 0); // the disk of the central directory
            put64(&mut end, count);
            put64(&mut end, count);
            put64(&mut end, size);
            put64(&mut end, start);
            put32(&mut end, ZIP64_END_LOCATOR);
            put32(&mut end, 0);
            put64(&mut end, record_at);
            put32(&mut end, 1); // disks
        }
        put32(&mut end, END_OF_CENTRAL_DIRECTORY);
        put16(&mut end, 0);
        put16(&mut end, 0);
        let (count, size, start) = match zip64_end {
            true => (MAX_16, MAX_32, MAX_32),
            false => (count, size, start),
        };
        put16(&mut end, count as u16);
        put16(&mut end, count as u16);
        put32(&mut end, size as u32);
        put32(&mut end, start as u32);
        put16(&mut end, 0); // comment
        self.write(&end)?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

/// Whether `name` may name an entry: relative, its components separated by
/// `/`, none empty, `.` or `..`, and nothing a file system reads otherwise
/// (`\`, NUL, control characters); short enough for its length field.
pub fn is_safe_name(name: &str) -> bool {
    name.len() <= MAX_16 as usize
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && !name.chars().any(|c| c == '\\' || c.is_control())
}

/// A user's text (a query's name) as one safe component of an entry's name:
/// ASCII letters, digits, `-`, `_`, and dots each after a letter or digit;
/// any run of anything else becomes one `_`; at most `max` characters, with
/// no dot or `_` at the end. Empty when nothing is left.
pub fn component(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.chars() {
        let c = match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' => c,
            // A dot only after a letter or a digit: never `..`, never leading.
            '.' if out.ends_with(|c: char| c.is_ascii_alphanumeric()) => '.',
            _ if out.ends_with('_') => continue,
            _ => '_',
        };
        if out.len() == max {
            break;
        }
        out.push(c);
    }
    out.trim_end_matches(['.', '_']).to_owned()
}

/// An MS-DOS date and time (UTC; two-second steps; from 1980).
fn dos_time(at: Timestamp) -> u32 {
    let (year, month, day, hour, minute, second) = at.civil();
    if year < 1980 {
        return (1 << 5 | 1) << 16; // 1980-01-01 00:00
    }
    let year = (year - 1980).min(127) as u32;
    let date = year << 9 | (month as u32) << 5 | day as u32;
    let time = (hour as u32) << 11 | (minute as u32) << 5 | ((second as u32) / 2);
    date << 16 | time
}

/// The extended timestamp extra field, with the modification time only.
fn put_timestamp(out: &mut Vec<u8>, unix_time: u32) {
    put16(out, TIMESTAMP_EXTRA);
    put16(out, 5);
    out.push(1); // the modification time is present
    put32(out, unix_time);
}

fn put16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// CRC-32 (IEEE 802.3, as ZIP and gzip use it), a byte at a time from a
/// table: about 400 MB/s, more than a download on the lab's network.
#[derive(Default)]
struct Crc32(u32);

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

impl Crc32 {
    fn update(&mut self, bytes: &[u8]) {
        let mut crc = !self.0;
        for &byte in bytes {
            crc = CRC_TABLE[((crc ^ u32::from(byte)) & 0xFF) as usize] ^ (crc >> 8);
        }
        self.0 = !crc;
    }

    fn finish(&self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    /// Reads an archive back with the `zip` crate: its names and contents, in order.
    fn read_back(bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
        let mut archive = ::zip::ZipArchive::new(Cursor::new(bytes)).expect("a readable archive");
        (0..archive.len())
            .map(|i| {
                let mut entry = archive.by_index(i).unwrap();
                let mut data = Vec::new();
                // The reader checks each entry's CRC as it reaches its end.
                entry
                    .read_to_end(&mut data)
                    .expect("the entry's CRC matches");
                (entry.name().to_owned(), data)
            })
            .collect()
    }

    fn at() -> Timestamp {
        Timestamp::parse("2026-05-04T13:14:16Z").unwrap()
    }

    #[test]
    fn entries_are_stored_in_order_with_their_contents_and_times() {
        let mut zip = ZipStream::new(Vec::new());
        let big: Vec<u8> = (0..200_000u32).map(|n| (n * 7 % 251) as u8).collect();
        zip.add("000001-A01/query.fasta", &b">A01\nACGT\n"[..], 10, at())
            .unwrap();
        zip.add("000001-A01/empty.txt", &b""[..], 0, at()).unwrap();
        zip.add("000002-A02/hits.tsv", &big[..], big.len() as u64, at())
            .unwrap();
        assert_eq!(zip.len(), 3);
        let bytes = zip.finish().unwrap();
        let entries = read_back(bytes.clone());
        let names: Vec<&str> = entries.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "000001-A01/query.fasta",
                "000001-A01/empty.txt",
                "000002-A02/hits.tsv"
            ]
        );
        assert_eq!(entries[0].1, b">A01\nACGT\n");
        assert!(entries[1].1.is_empty());
        assert_eq!(entries[2].1, big);

        let mut archive = ::zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let entry = archive.by_index(0).unwrap();
        assert_eq!(entry.unix_mode(), Some(0o100_644));
        let modified = entry.last_modified().unwrap();
        assert_eq!(
            (modified.year(), modified.month(), modified.day()),
            (2026, 5, 4)
        );
        assert_eq!(
            (modified.hour(), modified.minute(), modified.second()),
            (13, 14, 16)
        );
    }

    #[test]
    fn a_file_is_archived_as_long_as_it_was_when_opened_or_as_it_is_if_shorter() {
        let mut zip = ZipStream::new(Vec::new());
        zip.add("a/grew.txt", &b"first line\nsecond line\n"[..], 11, at())
            .unwrap();
        zip.add("a/shrank.txt", &b"short"[..], 1000, at()).unwrap();
        let entries = read_back(zip.finish().unwrap());
        assert_eq!(entries[0].1, b"first line\n");
        assert_eq!(entries[1].1, b"short");
    }

    #[test]
    fn an_empty_archive_is_a_valid_one() {
        let zip = ZipStream::new(Vec::new());
        assert!(zip.is_empty());
        let bytes = zip.finish().unwrap();
        assert_eq!(bytes.len(), 22);
        assert!(read_back(bytes).is_empty());
    }

    #[test]
    fn more_entries_than_the_classic_format_counts_take_zip64() {
        let mut zip = ZipStream::new(Vec::new());
        let count = u16::MAX as usize + 10;
        for n in 0..count {
            zip.add(&format!("{n:06}/f"), &b"x"[..], 1, at()).unwrap();
        }
        let bytes = zip.finish().unwrap();
        let archive = ::zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(archive.len(), count);
        assert_eq!(archive.name_for_index(count - 1), Some("065544/f"));
    }

    #[test]
    fn sizes_and_offsets_past_the_classic_fields_take_zip64() {
        // As if 4 GiB were 100 bytes: the second file, every offset past the
        // first file and the central directory's own are ZIP64's.
        let mut zip = ZipStream::new(Vec::new());
        zip.zip64_from = 100;
        let large: Vec<u8> = (0..150u8).collect();
        zip.add("a/small", &b"0123456789"[..], 10, at()).unwrap();
        zip.add("a/large", &large[..], 150, at()).unwrap();
        zip.add("b/after", &b"after"[..], 5, at()).unwrap();
        let entries = read_back(zip.finish().unwrap());
        assert_eq!(entries[0], ("a/small".to_owned(), b"0123456789".to_vec()));
        assert_eq!(entries[1], ("a/large".to_owned(), large));
        assert_eq!(entries[2], ("b/after".to_owned(), b"after".to_vec()));
    }

    #[test]
    fn no_name_can_leave_the_folder_it_is_extracted_into() {
        for bad in [
            "../etc/passwd",
            "a/../../b",
            "/abs",
            "a//b",
            "a/./b",
            "a\\..\\b",
            "dir/",
            "",
            "a/\u{0}b",
            "a\nb",
        ] {
            let mut zip = ZipStream::new(Vec::new());
            let err = zip.add(bad, &b"x"[..], 1, at()).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
            assert!(zip.is_empty());
        }
        assert!(is_safe_name("000001-A01/query.fasta"));
        assert!(is_safe_name("000001-a.b/hits.tsv"));
    }

    #[test]
    fn a_query_name_becomes_a_safe_component() {
        assert_eq!(component("A01", 60), "A01");
        assert_eq!(component("sp|P69905|HBA_HUMAN", 60), "sp_P69905_HBA_HUMAN");
        assert_eq!(component("../../etc/passwd", 60), "_etc_passwd");
        assert_eq!(component("..", 60), "");
        assert_eq!(component("a..b...c", 60), "a._b._c");
        assert_eq!(component("trailing dot.", 60), "trailing_dot");
        assert_eq!(component("C:\\Windows\\x", 60), "C_Windows_x");
        assert_eq!(
            component("échantillon 7 / réplica", 60),
            "_chantillon_7_r_plica"
        );
        assert_eq!(component(&"x".repeat(100), 60).len(), 60);
        for text in ["..", "a/../b", ".hidden", "x\0y", "~/../..", "名前"] {
            let part = component(text, 60);
            assert!(
                !part.contains(['/', '\\']) && !part.contains(".."),
                "{text:?} → {part:?}"
            );
            assert!(!part.starts_with('.'), "{text:?} → {part:?}");
        }
    }

    #[test]
    fn the_crc_is_the_one_zip_and_gzip_use() {
        let mut crc = Crc32::default();
        crc.update(b"123456789");
        assert_eq!(crc.finish(), 0xCBF4_3926);
        let mut split = Crc32::default();
        split.update(b"1234");
        split.update(b"56789");
        assert_eq!(split.finish(), 0xCBF4_3926);
    }
}
