//! Percent coding of a URL's path segments: the file names the routes take
//! from their paths, and those the pages and results write into links. The
//! `percent-encoding` crate does the coding; what is ours is what a segment
//! keeps as it is, and that a malformed escape is refused, not passed on.

use std::borrow::Cow;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What a path segment keeps as it is: RFC 3986's unreserved characters.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a path segment (a file name in a link), keeping only
/// unreserved characters as they are.
pub fn encode_segment(text: &str) -> String {
    utf8_percent_encode(text, ESCAPED).to_string()
}

/// Decodes `%XX` escapes in a path segment; `None` if one is malformed or the
/// result is not UTF-8.
pub fn decode(text: &str) -> Option<String> {
    // The crate passes a malformed escape on as it is; a segment with one is refused.
    let malformed = text.split('%').skip(1).any(|after| {
        !after
            .as_bytes()
            .get(..2)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if malformed {
        return None;
    }
    percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_in_links_are_percent_encoded() {
        assert_eq!(encode_segment("hits top.tsv"), "hits%20top.tsv");
        assert_eq!(encode_segment("a\"b<c>/d"), "a%22b%3Cc%3E%2Fd");
        assert_eq!(encode_segment("é"), "%C3%A9");
        assert_eq!(encode_segment("A-z_0.9~"), "A-z_0.9~");
    }

    #[test]
    fn path_segments_are_percent_decoded_strictly() {
        assert_eq!(decode("hits%20top.tsv").as_deref(), Some("hits top.tsv"));
        assert_eq!(decode("%2e%2e").as_deref(), Some(".."));
        assert_eq!(decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(decode("bad%2"), None);
        assert_eq!(decode("bad%%41"), None);
        assert_eq!(decode("%zz"), None);
        assert_eq!(decode("%ff"), None);
    }
}
