//! Server-sent events read from a stream, as the HTML standard's
//! `EventSource` reads them: `event:`, `data:` and `id:` lines, a blank line
//! ending each event, comments (`: alive`) skipped. The id of the last event
//! is kept, so that a reconnection asks for what came after it.

use std::io::{self, BufRead, BufReader, Read};

/// One event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Its `event:` (`message` when it gives none).
    pub kind: String,
    /// Its `data:` lines, joined by line breaks.
    pub data: String,
}

/// Events as they arrive on `R`.
pub struct Events<R> {
    input: BufReader<R>,
    /// The last `id:` seen: what `Last-Event-ID` sends on a reconnection.
    pub last_id: Option<String>,
}

/// The longest line taken; the server's longest is a record, a few kilobytes.
const MAX_LINE: usize = 1024 * 1024;

impl<R: Read> Events<R> {
    pub fn new(input: R, last_id: Option<String>) -> Events<R> {
        Events {
            input: BufReader::new(input),
            last_id,
        }
    }

    /// The next event; `None` when the stream ended.
    pub fn next_event(&mut self) -> io::Result<Option<Event>> {
        let mut kind = String::new();
        let mut data: Option<String> = None;
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = (&mut self.input)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut line)?;
            if read == 0 {
                return Ok(None);
            }
            if line.last() != Some(&b'\n') && read == MAX_LINE {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "an event line longer than 1 MiB",
                ));
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches('\n').trim_end_matches('\r');
            if text.is_empty() {
                match data.take() {
                    Some(data) => {
                        let kind = match kind.as_str() {
                            "" => "message".to_owned(),
                            _ => std::mem::take(&mut kind),
                        };
                        return Ok(Some(Event { kind, data }));
                    }
                    None => {
                        kind.clear();
                        continue;
                    }
                }
            }
            if text.starts_with(':') {
                continue;
            }
            let (field, value) = match text.split_once(':') {
                Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
                None => (text, ""),
            };
            match field {
                "event" => kind = value.to_owned(),
                "data" => match &mut data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => data = Some(value.to_owned()),
                },
                "id" if !value.contains('\0') => self.last_id = Some(value.to_owned()),
                _ => {} // retry:, and fields the standard says to ignore
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_as_a_browser_reads_them() {
        let stream = "retry: 2000\n\n: alive\n\nid: 17.3\nevent: experiment\ndata: {\"id\":\"000001\"}\n\n\
                      event: backlog\r\ndata: a\r\ndata:b\r\n\r\nevent: reset\ndata: {}\n\ndata: cut";
        let mut events = Events::new(stream.as_bytes(), None);
        let first = events.next_event().unwrap().unwrap();
        assert_eq!(first.kind, "experiment");
        assert_eq!(first.data, r#"{"id":"000001"}"#);
        assert_eq!(events.last_id.as_deref(), Some("17.3"));
        let second = events.next_event().unwrap().unwrap();
        assert_eq!(
            (second.kind.as_str(), second.data.as_str()),
            ("backlog", "a\nb")
        );
        assert_eq!(events.next_event().unwrap().unwrap().kind, "reset");
        // An event the stream's end cut short is not one.
        assert_eq!(events.next_event().unwrap(), None);
        assert_eq!(events.last_id.as_deref(), Some("17.3"));
    }
}
