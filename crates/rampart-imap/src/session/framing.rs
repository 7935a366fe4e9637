//! Where one command ends: lines and literals, under hard limits.
//!
//! imap-codec 1.0 decodes a complete command, but cannot say where an unparseable one ends, and
//! a literal's bytes may contain anything (including what looks like a command). So framing is
//! lexical, like imap-codec 2's fragmentizer: a command is a line; when a line ends with a
//! literal announcement (`{n}`, `{n+}`, `~{n}`), the next `n` bytes belong to the command and
//! another line follows. Nothing here knows the grammar beyond that.
//!
//! Limits: a line holds at most [`MAX_LINE`] bytes, a literal at most [`MAX_LITERAL`] bytes
//! ([`Limits::append_literal`] for an `APPEND` message), a command at most [`MAX_COMMAND`] bytes
//! plus its APPEND message, with at most [`MAX_LITERALS`] literals. Memory per connection is
//! bounded by these, whatever a peer sends.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// Longest line (the part of a command between literals), CRLF included. RFC 7162 §4 asks for
/// at least 8192 octets; long UID sets from large mailboxes need more.
pub(crate) const MAX_LINE: usize = 64 * 1024;
/// Largest literal outside APPEND (a password, a search string, a mailbox name).
pub(crate) const MAX_LITERAL: u32 = 64 * 1024;
/// Largest command outside an APPEND message.
pub(crate) const MAX_COMMAND: usize = 256 * 1024;
/// Literals in one command.
pub(crate) const MAX_LITERALS: usize = 64;

/// How a read line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineRead {
    /// The line, with its `\n`, was appended.
    Complete,
    /// The line was longer than allowed; it was read to its end and dropped.
    TooLong,
    /// The peer closed the connection.
    Eof,
}

/// Appends one line (through its `\n`) to `buf`, keeping at most `max` bytes of it.
pub(crate) async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<LineRead> {
    let start = buf.len();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(LineRead::Eof);
        }
        let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let kept = buf.len() - start;
        if !too_long {
            if kept + chunk.len() > max {
                too_long = true;
                buf.truncate(start);
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let consumed = chunk.len();
        reader.consume(consumed);
        if found {
            return Ok(if too_long {
                LineRead::TooLong
            } else {
                LineRead::Complete
            });
        }
    }
}

/// Appends exactly `len` bytes to `buf`; `false` when the peer closed the connection first.
pub(crate) async fn read_literal<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    len: usize,
) -> std::io::Result<bool> {
    let start = buf.len();
    buf.reserve(len);
    let mut limited = reader.take(len as u64);
    limited.read_to_end(buf).await?;
    Ok(buf.len() - start == len)
}

/// A literal announced at the end of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Announcement {
    pub length: u32,
    /// `{n+}` (LITERAL+): the bytes follow without waiting for our `+`.
    pub non_sync: bool,
}

/// The literal a complete line (ending in `\n`) announces, if it ends with `{n}`, `{n+}` or
/// `~{n}` before its CRLF. `Err(())` for an announcement whose number does not fit 32 bits:
/// the peer will send more than we would ever take.
pub(crate) fn announcement(line: &[u8]) -> Result<Option<Announcement>, ()> {
    let Some(line) = line.strip_suffix(b"\r\n") else {
        return Ok(None);
    };
    let Some(inner) = line.strip_suffix(b"}") else {
        return Ok(None);
    };
    let Some(open) = inner.iter().rposition(|&b| b == b'{') else {
        return Ok(None);
    };
    let mut digits = &inner[open + 1..];
    let non_sync = digits.last() == Some(&b'+');
    if non_sync {
        digits = &digits[..digits.len() - 1];
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Ok(None);
    }
    let mut length: u64 = 0;
    for &d in digits {
        length = length * 10 + u64::from(d - b'0');
        if length > u64::from(u32::MAX) {
            return Err(());
        }
    }
    Ok(Some(Announcement {
        length: length as u32,
        non_sync,
    }))
}

/// The first two words of a command's first line, upper-cased (`("A1", "UID")`), for the few
/// decisions framing makes before the command is complete: the tag for a refusal, and whether a
/// large literal is an APPEND message.
pub(crate) fn head(msg: &[u8]) -> (Option<&str>, Vec<u8>) {
    let first = msg.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    let mut words = first.split(|&b| b == b' ');
    let tag = words
        .next()
        .and_then(|t| std::str::from_utf8(t).ok())
        .filter(|t| imap_codec::imap_types::core::Tag::validate(t).is_ok());
    let name = words.next().unwrap_or_default().to_ascii_uppercase();
    (tag, name)
}

/// Whether a line's announcement is a literal8 (`~{n}`, RFC 3516), which imap-codec 1.0 does
/// not decode (an APPEND with one is taken by the extension parser).
pub(crate) fn is_literal8(line: &[u8]) -> bool {
    line.iter()
        .rposition(|&b| b == b'{')
        .is_some_and(|open| open > 0 && line[open - 1] == b'~')
}

/// Whether the command being framed is an APPEND, whose message literal may be large.
pub(crate) fn is_append(msg: &[u8]) -> bool {
    head(msg).1 == b"APPEND"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_literal_announcements_at_line_ends_only() {
        assert_eq!(
            announcement(b"a LOGIN {5}\r\n"),
            Ok(Some(Announcement {
                length: 5,
                non_sync: false
            }))
        );
        assert_eq!(
            announcement(b"a APPEND x {12+}\r\n"),
            Ok(Some(Announcement {
                length: 12,
                non_sync: true
            }))
        );
        assert_eq!(announcement(b"a SELECT {x}\r\n"), Ok(None));
        assert_eq!(announcement(b"a SELECT {}\r\n"), Ok(None));
        assert_eq!(announcement(b"a SELECT {5}\n"), Ok(None));
        assert_eq!(announcement(b"a NOOP\r\n"), Ok(None));
        assert_eq!(announcement(b"a X {99999999999}\r\n"), Err(()));
    }

    #[test]
    fn head_reads_tag_and_command_name() {
        assert_eq!(head(b"a1 append INBOX {3}\r\n").1, b"APPEND");
        assert_eq!(head(b"a1 append INBOX {3}\r\n").0, Some("a1"));
        assert_eq!(head(b"* NOOP\r\n").0, None);
        assert_eq!(head(b"").0, None);
    }

    #[tokio::test]
    async fn long_lines_are_dropped_whole() {
        let data = [vec![b'x'; 100], b"\r\nnext\r\n".to_vec()].concat();
        let mut reader = tokio::io::BufReader::with_capacity(16, &data[..]);
        let mut buf = Vec::new();
        assert_eq!(
            read_line(&mut reader, &mut buf, 50).await.unwrap(),
            LineRead::TooLong
        );
        assert!(buf.is_empty());
        assert_eq!(
            read_line(&mut reader, &mut buf, 50).await.unwrap(),
            LineRead::Complete
        );
        assert_eq!(buf, b"next\r\n");
        assert_eq!(
            read_line(&mut reader, &mut buf, 50).await.unwrap(),
            LineRead::Eof
        );
    }
}
