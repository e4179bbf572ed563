//! Text primitives the readers share:
//! - [`repair_mojibake`]: Meta writes its exports' UTF-8 as one `\u00XX` escape per
//!   byte, so "é" arrives as "Ã©" and "🔥" as four Latin-1 characters. A string
//!   whose characters are all below U+0100 and whose bytes, taken as Latin-1, are
//!   valid UTF-8 holding at least one multi-byte character is that mistake, and is
//!   decoded; any other string is left as it is (a real "Ã" in a real sentence is not
//!   valid UTF-8 once re-encoded, so it stays).
//! - [`Lines`]: lines of a reader with a bound on a line's length, so a file that is
//!   one 2 GB line is reported and skipped in constant memory instead of read whole.
//! - [`decode`]: bytes in a named charset (a MIME `charset=`, a vCard `CHARSET=`) as
//!   text. Labels are WHATWG's, so `ISO-8859-1` and `us-ascii` read as Windows-1252,
//!   its superset, as browsers and mail readers do. Without a label, or with one that
//!   says ASCII or UTF-8 or that nobody knows, bytes that are valid UTF-8 are UTF-8
//!   and any others Windows-1252: what Excel, Outlook and old mailers write. Nothing
//!   is lost either way: a byte no charset maps becomes U+FFFD.
//! - [`Utf8Reader`]: a file's bytes as UTF-8 whatever Unicode it was saved in: a file
//!   starting with a UTF-16 byte-order mark (Excel's "Unicode text", Outlook's vCards)
//!   is transcoded as it is read; any other is passed through untouched.

use std::borrow::Cow;
use std::io::{self, BufRead, Read};

/// The string as its writer meant it (see the module's first comment).
pub fn repair_mojibake(s: &str) -> Cow<'_, str> {
    if s.is_ascii() || s.chars().any(|c| c as u32 > 0xFF) {
        return Cow::Borrowed(s);
    }
    let bytes: Vec<u8> = s.chars().map(|c| c as u32 as u8).collect();
    match String::from_utf8(bytes) {
        Ok(fixed) if !fixed.is_ascii() => Cow::Owned(fixed),
        _ => Cow::Borrowed(s),
    }
}

/// `bytes` as text in the charset `label` names (see the module's first comment).
pub fn decode<'a>(bytes: &'a [u8], label: Option<&str>) -> Cow<'a, str> {
    let named = label
        .and_then(|l| encoding_rs::Encoding::for_label(l.trim().as_bytes()))
        .filter(|e| *e != encoding_rs::UTF_8 && *e != encoding_rs::WINDOWS_1252);
    if let Some(encoding) = named {
        return encoding.decode_without_bom_handling(bytes).0;
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}

/// A reader's bytes as UTF-8 (see the module's first comment).
#[derive(Debug)]
pub struct Utf8Reader<R> {
    inner: R,
    /// Set for a UTF-16 file, from its byte-order mark.
    decoder: Option<encoding_rs::Decoder>,
    /// The first bytes, read to see the byte-order mark, not yet given on.
    head: Vec<u8>,
    /// UTF-8 decoded and not yet given, from `at` on.
    out: Vec<u8>,
    at: usize,
    started: bool,
    ended: bool,
}

impl<R: Read> Utf8Reader<R> {
    pub fn new(inner: R) -> Utf8Reader<R> {
        Utf8Reader {
            inner,
            decoder: None,
            head: Vec::new(),
            out: Vec::new(),
            at: 0,
            started: false,
            ended: false,
        }
    }

    /// Reads the first two bytes (or fewer, at the end) and picks the decoder.
    fn start(&mut self) -> io::Result<()> {
        self.started = true;
        let mut two = [0u8; 2];
        let mut got = 0;
        while got < 2 {
            let n = self.inner.read(&mut two[got..])?;
            if n == 0 {
                break;
            }
            got += n;
        }
        self.head = two[..got].to_vec();
        let encoding = match self.head.as_slice() {
            [0xFF, 0xFE] => Some(encoding_rs::UTF_16LE),
            [0xFE, 0xFF] => Some(encoding_rs::UTF_16BE),
            _ => None,
        };
        if let Some(encoding) = encoding {
            self.decoder = Some(encoding.new_decoder_without_bom_handling());
            self.head.clear();
        }
        Ok(())
    }

    /// Decodes the next chunk of a UTF-16 file into `out`.
    fn decode_more(&mut self) -> io::Result<()> {
        let Some(decoder) = self.decoder.as_mut() else {
            return Ok(());
        };
        let mut chunk = [0u8; 8192];
        let n = self.inner.read(&mut chunk)?;
        let last = n == 0;
        let room = decoder.max_utf8_buffer_length(n).unwrap_or(n * 3 + 16);
        self.out.clear();
        self.out.resize(room, 0);
        self.at = 0;
        let (_, _, written, _) = decoder.decode_to_utf8(&chunk[..n], &mut self.out, last);
        self.out.truncate(written);
        self.ended = last;
        Ok(())
    }
}

impl<R: Read> Read for Utf8Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.started {
            self.start()?;
        }
        if self.decoder.is_none() {
            if !self.head.is_empty() {
                let n = buf.len().min(self.head.len());
                buf[..n].copy_from_slice(&self.head[..n]);
                self.head.drain(..n);
                return Ok(n);
            }
            return self.inner.read(buf);
        }
        while self.at == self.out.len() {
            if self.ended {
                return Ok(0);
            }
            self.decode_more()?;
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// One line read by [`Lines`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The line without its `\n` (and `\r`), with its 1-based number. Bytes that are
    /// not UTF-8 are kept as they are: the caller decodes.
    Text(u64, Vec<u8>),
    /// Line `n` was longer than the bound; it was skipped to its end unread.
    TooLong(u64),
}

/// The lines of `reader`, each at most `max` bytes.
#[derive(Debug)]
pub struct Lines<R> {
    reader: R,
    max: usize,
    number: u64,
}

impl<R: BufRead> Lines<R> {
    pub fn new(reader: R, max: usize) -> Lines<R> {
        Lines {
            reader,
            max,
            number: 0,
        }
    }

    /// The next line, `None` at the end.
    pub fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        let mut line = Vec::new();
        let mut too_long = false;
        let mut read_any = false;
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            read_any = true;
            let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..i], Some(i + 1)),
                None => (buf, None),
            };
            if !too_long {
                if line.len() + chunk.len() > self.max {
                    too_long = true;
                    line = Vec::new();
                } else {
                    line.extend_from_slice(chunk);
                }
            }
            let used = done.unwrap_or(buf.len());
            self.reader.consume(used);
            if done.is_some() {
                break;
            }
        }
        if !read_any {
            return Ok(None);
        }
        self.number += 1;
        if too_long {
            return Ok(Some(Line::TooLong(self.number)));
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(Some(Line::Text(self.number, line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metas_escaped_utf8_is_repaired_and_real_text_is_left_alone() {
        // "Júlia 🔥" as Meta writes it: each UTF-8 byte one code point.
        let broken: String = "Júlia 🔥".bytes().map(char::from).collect();
        assert_eq!(broken, "JÃºlia ð\u{9f}\u{94}¥");
        assert_eq!(repair_mojibake(&broken), "Júlia 🔥");
        assert_eq!(repair_mojibake("plain ascii"), "plain ascii");
        // Real Latin-1 text that is not UTF-8 in disguise stays.
        assert_eq!(repair_mojibake("café Ã la carte"), "café Ã la carte");
        // Already right (a character past U+00FF): untouched.
        assert_eq!(repair_mojibake("Júlia 🔥"), "Júlia 🔥");
    }

    #[test]
    fn bytes_are_decoded_in_their_charset_or_as_utf8_then_windows_1252() {
        // "café" in Latin-1, labelled as such and as ASCII (a common lie), and unlabelled.
        assert_eq!(decode(b"caf\xe9", Some("ISO-8859-1")), "café");
        assert_eq!(decode(b"caf\xe9", Some("us-ascii")), "café");
        assert_eq!(decode(b"caf\xe9", None), "café");
        // Windows-1252's euro sign and curly quotes (0x80, 0x93/0x94).
        assert_eq!(
            decode(b"\x93\x80 5\x94", Some("windows-1252")),
            "\u{201c}€ 5\u{201d}"
        );
        // UTF-8 mislabelled as ASCII stays UTF-8; a real legacy charset is honoured.
        assert_eq!(decode("café".as_bytes(), Some("us-ascii")), "café");
        assert_eq!(decode(b"\xbf", Some("iso-8859-2")), "ż");
        assert_eq!(decode(b"\xc1\xc2", Some("koi8-r")), "аб");
        assert_eq!(decode(b"x\xff", Some("no-such-charset")), "xÿ");
    }

    #[test]
    fn utf16_files_are_read_as_utf8_and_others_passed_through() {
        let text = "Name;E-mail\r\nJosé 🔥;j@x.com\r\n";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        for bytes in [le, be] {
            // A reader giving one byte at a time splits every character.
            let slow = std::io::BufReader::with_capacity(1, &bytes[..]);
            let mut out = String::new();
            Utf8Reader::new(slow).read_to_string(&mut out).unwrap();
            assert_eq!(out, text);
        }
        for plain in [&b"a"[..], b"", b"\xff", b"plain, caf\xe9"] {
            let mut out = Vec::new();
            Utf8Reader::new(plain).read_to_end(&mut out).unwrap();
            assert_eq!(out, plain);
        }
    }

    #[test]
    fn a_line_past_the_bound_is_skipped_and_numbered() {
        let data = b"short\r\n0123456789abcdef\nlast";
        let mut lines = Lines::new(&data[..], 10);
        assert_eq!(
            lines.next_line().unwrap(),
            Some(Line::Text(1, b"short".to_vec()))
        );
        assert_eq!(lines.next_line().unwrap(), Some(Line::TooLong(2)));
        assert_eq!(
            lines.next_line().unwrap(),
            Some(Line::Text(3, b"last".to_vec()))
        );
        assert_eq!(lines.next_line().unwrap(), None);
    }

    #[test]
    fn a_long_line_is_bounded_across_buffer_refills() {
        let mut data = vec![b'x'; 100_000];
        data.extend_from_slice(b"\nok\n");
        let reader = std::io::BufReader::with_capacity(64, &data[..]);
        let mut lines = Lines::new(reader, 1_000);
        assert_eq!(lines.next_line().unwrap(), Some(Line::TooLong(1)));
        assert_eq!(
            lines.next_line().unwrap(),
            Some(Line::Text(2, b"ok".to_vec()))
        );
        assert_eq!(lines.next_line().unwrap(), None);
    }
}
