//! Line and chunk reading with hard limits: memory per connection stays bounded whatever a peer
//! sends, and a bare LF is reported instead of being silently accepted as a line end.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite};

/// Anything a session can talk over: plain TCP, or TLS after STARTTLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// How a line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnd {
    CrLf,
    /// `\n` without the `\r` before it: the ambiguity SMTP smuggling lives on.
    BareLf,
    /// The peer closed the connection mid-line (or before any byte, when the line is empty).
    Eof,
}

#[derive(Debug)]
pub struct Line {
    pub end: LineEnd,
    /// More than `max` bytes came before the line end; the excess was discarded.
    pub too_long: bool,
}

/// Reads one line into `buf` (cleared first, terminator removed), keeping at most `max` bytes.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Line> {
    buf.clear();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(Line {
                end: LineEnd::Eof,
                too_long,
            });
        }
        let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], Some(i)),
            None => (available, None),
        };
        let room = max.saturating_sub(buf.len());
        if chunk.len() > room {
            too_long = true;
        }
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let consumed = found.map_or(chunk.len(), |i| i + 1);
        reader.consume(consumed);
        if found.is_some() {
            let end = if buf.last() == Some(&b'\r') && !too_long {
                buf.pop();
                LineEnd::CrLf
            } else if too_long {
                // The CR (if any) was beyond what we kept; the line is rejected anyway.
                LineEnd::CrLf
            } else {
                LineEnd::BareLf
            };
            return Ok(Line { end, too_long });
        }
    }
}
