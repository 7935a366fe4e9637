//! Responses on the wire. Everything imap-codec 1.0 can represent is encoded by its
//! `ResponseCodec` / `GreetingCodec`; what it cannot (the response codes of RFC 4315, 5530,
//! 7162 and 9051, and the MODSEQ / INTERNALDATE / SIZE / HIGHESTMODSEQ items) is added here
//! from numbers and constant atoms only, never from client input, so nothing a peer sends can
//! end up unescaped in a response.

use std::borrow::Cow;

use imap_codec::encode::Encoder;
use imap_codec::imap_types::core::{Tag, Text};
use imap_codec::imap_types::response::{
    Code, CommandContinuationRequest, Data, Greeting, GreetingKind, Response, Status,
};
use imap_codec::{GreetingCodec, ResponseCodec};

/// The three tagged results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Ok,
    No,
    Bad,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Ok => "OK",
            Kind::No => "NO",
            Kind::Bad => "BAD",
        }
    }
}

/// A response code: one imap-codec knows, or an extension one it does not.
#[derive(Debug)]
pub(crate) enum RespCode<'a> {
    Std(Code<'a>),
    /// The inside of `[...]`, built by this crate from numbers and constant atoms.
    Ext(String),
}

impl<'a> RespCode<'a> {
    pub(crate) fn ext(s: impl Into<String>) -> Self {
        RespCode::Ext(s.into())
    }
}

/// Response text: one line of printable ASCII (imap-codec 1.0 follows RFC 3501's TEXT-CHAR),
/// never empty, never starting with `[` (which a client would read as a response code).
pub(crate) fn clean_text(text: &str) -> Cow<'_, str> {
    let trimmed = text.trim();
    let fine = |c: char| c.is_ascii() && !c.is_ascii_control();
    if !trimmed.is_empty() && !trimmed.starts_with('[') && trimmed.chars().all(fine) {
        return Cow::Borrowed(trimmed);
    }
    let s: String = trimmed
        .chars()
        .map(|c| {
            if fine(c) {
                c
            } else if c.is_ascii() {
                ' '
            } else {
                '?'
            }
        })
        .collect();
    let s = match s.strip_prefix('[') {
        Some(rest) => format!("({rest}"),
        None => s,
    };
    if s.trim().is_empty() {
        return Cow::Borrowed("done");
    }
    Cow::Owned(s)
}

/// `clean_text` always yields valid TEXT; if that ever broke, the raw fallback below still
/// writes a well-formed line.
fn text(s: &str) -> Option<Text<'static>> {
    Text::try_from(clean_text(s).into_owned()).ok()
}

pub(crate) fn encode_response(out: &mut Vec<u8>, response: &Response<'_>) {
    out.extend_from_slice(&ResponseCodec::default().encode(response).dump());
}

/// An untagged data response (`* ...`).
pub(crate) fn data(out: &mut Vec<u8>, data: Data<'_>) {
    encode_response(out, &Response::Data(data));
}

/// A tagged (`tag OK ...`) or untagged (`* OK ...`) status response.
pub(crate) fn status(
    out: &mut Vec<u8>,
    tag: Option<&Tag<'_>>,
    kind: Kind,
    code: Option<RespCode<'_>>,
    msg: &str,
) {
    match code {
        Some(RespCode::Ext(ext)) => {
            // imap-codec 1.0 has no such code: the line's shape is fixed, its parts are ours.
            out.extend_from_slice(tag.map_or("*", |t| t.inner()).as_bytes());
            out.push(b' ');
            out.extend_from_slice(kind.as_str().as_bytes());
            out.extend_from_slice(b" [");
            out.extend_from_slice(ext.as_bytes());
            out.extend_from_slice(b"] ");
            out.extend_from_slice(clean_text(msg).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        code => {
            let code = match code {
                Some(RespCode::Std(c)) => Some(c),
                _ => None,
            };
            let Some(text) = text(msg) else {
                return status(out, tag, kind, None, "done");
            };
            let tag = tag.cloned();
            let status = match kind {
                Kind::Ok => Status::Ok { tag, code, text },
                Kind::No => Status::No { tag, code, text },
                Kind::Bad => Status::Bad { tag, code, text },
            };
            encode_response(out, &Response::Status(status));
        }
    }
}

/// A tagged status response for a tag that could not be decoded as one (a garbled command):
/// `*` stands in for it, as RFC 9051 §7.1 allows for BAD.
pub(crate) fn status_raw_tag(out: &mut Vec<u8>, tag: Option<&str>, kind: Kind, msg: &str) {
    let tag = tag.and_then(|t| Tag::try_from(t).ok());
    status(out, tag.as_ref(), kind, None, msg);
}

/// `* BYE ...`: the server is closing the connection.
pub(crate) fn bye(out: &mut Vec<u8>, code: Option<RespCode<'_>>, msg: &str) {
    match code {
        Some(RespCode::Ext(ext)) => {
            out.extend_from_slice(b"* BYE [");
            out.extend_from_slice(ext.as_bytes());
            out.extend_from_slice(b"] ");
            out.extend_from_slice(clean_text(msg).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        code => {
            let code = match code {
                Some(RespCode::Std(c)) => Some(c),
                _ => None,
            };
            let Some(text) = text(msg) else {
                return bye(out, None, "closing");
            };
            encode_response(out, &Response::Status(Status::Bye { code, text }));
        }
    }
}

/// `+ text`: go on (a synchronising literal, IDLE).
pub(crate) fn continuation(out: &mut Vec<u8>, msg: &str) {
    match CommandContinuationRequest::basic(None, clean_text(msg).into_owned()) {
        Ok(c) => encode_response(out, &Response::CommandContinuationRequest(c)),
        Err(_) => out.extend_from_slice(b"+ go ahead\r\n"),
    }
}

/// `+ ` with empty base64 data: the SASL challenge of AUTHENTICATE PLAIN.
pub(crate) fn continuation_sasl(out: &mut Vec<u8>) {
    encode_response(
        out,
        &Response::CommandContinuationRequest(CommandContinuationRequest::base64(Vec::new())),
    );
}

/// `* OK [CAPABILITY ...] text` on connect.
pub(crate) fn greeting(out: &mut Vec<u8>, code: Option<Code<'_>>, msg: &str) {
    match Greeting::new(GreetingKind::Ok, code, &clean_text(msg)) {
        Ok(g) => out.extend_from_slice(&GreetingCodec::default().encode(&g).dump()),
        Err(_) => out.extend_from_slice(b"* OK IMAP server ready\r\n"),
    }
}

/// Adds `extra` (space-separated items, ours) to the parenthesised list that ends an encoded
/// untagged response (`* 3 FETCH (...)`, `* STATUS x (...)`).
pub(crate) fn splice_list_tail(line: &mut Vec<u8>, extra: &str) {
    splice_list_tail_bytes(line, extra.as_bytes());
}

/// [`splice_list_tail`] for bytes (a literal's data may be anything).
pub(crate) fn splice_list_tail_bytes(line: &mut Vec<u8>, extra: &[u8]) {
    if extra.is_empty() || !line.ends_with(b")\r\n") {
        return;
    }
    let at = line.len() - 3;
    let needs_space = at > 0 && line[at - 1] != b'(';
    let mut insert = Vec::with_capacity(extra.len() + 1);
    if needs_space {
        insert.push(b' ');
    }
    insert.extend_from_slice(extra);
    line.splice(at..at, insert);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_codes_keep_the_line_shape() {
        let mut out = Vec::new();
        let tag = Tag::try_from("a1").unwrap();
        status(
            &mut out,
            Some(&tag),
            Kind::Ok,
            Some(RespCode::ext("APPENDUID 7 42")),
            "APPEND completed",
        );
        assert_eq!(out, b"a1 OK [APPENDUID 7 42] APPEND completed\r\n");
    }

    #[test]
    fn text_from_elsewhere_cannot_break_the_line() {
        let mut out = Vec::new();
        let tag = Tag::try_from("a1").unwrap();
        status(
            &mut out,
            Some(&tag),
            Kind::No,
            Some(RespCode::ext("ALERT")),
            "approve at\r\nhttps://x/ [now]",
        );
        assert_eq!(out, b"a1 NO [ALERT] approve at  https://x/ [now]\r\n");
        assert_eq!(clean_text("[x] y"), "(x] y");
        assert_eq!(clean_text("caf\u{e9}"), "caf?");
        assert_eq!(clean_text("\r\n"), "done");
    }

    #[test]
    fn splices_items_into_a_list() {
        let mut line = b"* 1 FETCH (UID 4)\r\n".to_vec();
        splice_list_tail(&mut line, "MODSEQ (9)");
        assert_eq!(line, b"* 1 FETCH (UID 4 MODSEQ (9))\r\n");
        let mut line = b"* STATUS INBOX ()\r\n".to_vec();
        splice_list_tail(&mut line, "SIZE 10");
        assert_eq!(line, b"* STATUS INBOX (SIZE 10)\r\n");
    }
}
