//! FETCH and UID FETCH: metadata from the store's rows, content rendered by [`crate::render`]
//! from the message bytes, which are read only when an item needs them and never kept.
//!
//! `BODY[...]` (not `.PEEK`), `RFC822` and `RFC822.TEXT` set `\Seen` in a read-write mailbox
//! before the data is sent, and the message's `FLAGS` go out with it (RFC 3501 §6.4.5); so
//! does `BINARY[...]` (not `.PEEK`, not `.SIZE`).
//!
//! `BINARY[part]<partial>` and `BINARY.SIZE[part]` (RFC 3516), which imap-codec 1.0 does not
//! know, arrive as [`Modifiers::binary`] and are written here: the decoded content from
//! [`render::binary`] as a literal, or a literal8 (`~{n}`) when it holds NUL bytes; the
//! response names the section without the partial's origin (the RFC 9051 ABNF,
//! `"BINARY" section-binary SP (nstring / literal8)`). A part with an unknown
//! Content-Transfer-Encoding is left out of its FETCH response and the command ends
//! `NO [UNKNOWN-CTE]` (the other messages and items are still sent); a multipart section
//! ends it `NO`, a part the message does not have is `NIL`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::num::NonZeroU32;

use bytes::Bytes;
use imap_codec::imap_types::core::{IString, Literal, NString, NonEmptyVec, Tag};
use imap_codec::imap_types::fetch::{
    Macro, MacroOrMessageDataItemNames, MessageDataItem, MessageDataItemName,
};
use imap_codec::imap_types::response::Data;
use imap_codec::imap_types::sequence::SequenceSet;
use rampart_model::{Flag, FlagChange, ImapMessage};

use super::extension::{BinaryItem, Modifiers};
use super::{respond, Flow, Session, OUT_FLUSH};
use crate::render;

impl Session {
    pub(super) async fn fetch(
        &mut self,
        tag: &Tag<'_>,
        set: &SequenceSet,
        items: MacroOrMessageDataItemNames<'_>,
        uid: bool,
        m: Modifiers,
    ) -> std::io::Result<Flow> {
        let mut names: Vec<MessageDataItemName<'_>> = match items {
            MacroOrMessageDataItemNames::Macro(mac) => expand(mac),
            MacroOrMessageDataItemNames::MessageDataItemNames(v) => v,
        };
        if m.fetch_placeholder && !uid {
            // The `UID` only stood in for extension items the codec cannot decode.
            names.retain(|n| *n != MessageDataItemName::Uid);
        }
        if uid && !names.contains(&MessageDataItemName::Uid) {
            names.insert(0, MessageDataItemName::Uid);
        }
        if m.fetch_modseq || m.changed_since.is_some() {
            self.condstore = true;
        }
        let with_modseq = self.condstore && (m.fetch_modseq || m.changed_since.is_some());
        let Some(sel) = self.selected.as_ref() else {
            return Ok(self.bad(tag, "Select a mailbox first"));
        };
        let positions = match sel.view.resolve(set, uid) {
            _ if m.saved_empty => Vec::new(),
            Ok(p) => p,
            Err(_) => return Ok(self.bad(tag, "Invalid message sequence number")),
        };
        let id = sel.info.id;
        let read_only = sel.read_only;
        let needs_raw = !m.binary.is_empty()
            || names.iter().any(|n| {
                matches!(
                    n,
                    MessageDataItemName::Body
                        | MessageDataItemName::BodyExt { .. }
                        | MessageDataItemName::BodyStructure
                        | MessageDataItemName::Envelope
                        | MessageDataItemName::Rfc822
                        | MessageDataItemName::Rfc822Header
                        | MessageDataItemName::Rfc822Text
                )
            });
        let sets_seen = !read_only
            && (m.binary.iter().any(|b| !b.peek && !b.size)
                || names.iter().any(|n| {
                    matches!(
                        n,
                        MessageDataItemName::BodyExt { peek: false, .. }
                            | MessageDataItemName::Rfc822
                            | MessageDataItemName::Rfc822Text
                    )
                }));
        let store = self.ctx.store.clone();
        let rows = match self.rows().await {
            Ok(r) => r,
            Err(e) => return Ok(self.store_failed(tag, "fetch", &e)),
        };
        // The first BINARY item that could not be given (the others still are, RFC 3516 §4.2).
        let mut binary_failure: Option<render::BinaryError> = None;
        // Rows this FETCH changed (\Seen), newer than the cached ones.
        let mut changed: HashMap<u32, ImapMessage> = HashMap::new();
        // Mark \Seen first, so the data and the new flags go out together.
        let mut seen_now: Vec<u32> = Vec::new();
        if sets_seen {
            let Some(sel) = self.selected.as_ref() else {
                return Ok(self.bad(tag, "Select a mailbox first"));
            };
            let unseen: Vec<u32> = positions
                .iter()
                .filter(|&&p| !sel.view.is_gone(p) && !sel.view.has(p, Flag::Seen))
                .map(|&p| sel.view.uid(p))
                .collect();
            if !unseen.is_empty() {
                let now = store.now();
                match store
                    .meta()
                    .store_flags(id, &unseen, FlagChange::Add, &[Flag::Seen], &[], None, now)
                    .await
                {
                    Ok((updated, _)) => {
                        for u in updated {
                            if let Some(sel) = self.selected.as_mut() {
                                if let Some(p) = sel.view.find(u.uid) {
                                    sel.view.set(p, &u.flags, &u.keywords);
                                }
                            }
                            seen_now.push(u.uid);
                            changed.insert(u.uid, u);
                        }
                    }
                    Err(e) => return Ok(self.store_failed(tag, "fetch", &e)),
                }
            }
        }
        for p in positions {
            let Some(sel) = self.selected.as_ref() else {
                break;
            };
            if sel.view.is_gone(p) {
                continue;
            }
            let msg_uid = sel.view.uid(p);
            let row = match changed.get(&msg_uid) {
                Some(row) => row,
                None => match rows.binary_search_by_key(&msg_uid, |r| r.uid) {
                    Ok(r) => &rows[r],
                    // Expunged since the view was built: nothing to send for it.
                    Err(_) => continue,
                },
            };
            if m.changed_since.is_some_and(|since| row.modseq <= since) {
                continue;
            }
            let flags = sel.view.imap_flags(p);
            let raw = if needs_raw {
                match store.imap_raw(row).await {
                    Ok(raw) => Some(raw),
                    Err(e) => {
                        tracing::error!(error = %e, uid = msg_uid, "cannot read a message's bytes");
                        return Ok(self.no(
                            tag,
                            Some(respond::RespCode::ext("SERVERBUG")),
                            "Cannot read a message; try again later",
                        ));
                    }
                }
            } else {
                None
            };
            let seen_changed = seen_now.contains(&msg_uid);
            let binary = match &raw {
                Some(raw) if !m.binary.is_empty() => {
                    binary_items(raw, &m.binary, &mut binary_failure)
                }
                _ => Vec::new(),
            };
            let line = fetch_line(
                p as u32 + 1,
                row,
                &names,
                flags,
                raw.as_ref(),
                seen_changed,
                with_modseq,
                &binary,
            );
            self.emit(line).await?;
        }
        drop(rows);
        // RFC 9051 §7.5.1: no EXPUNGE during FETCH by sequence number.
        self.refresh(uid).await?;
        let command = if uid { "UID FETCH" } else { "FETCH" };
        Ok(match binary_failure {
            None => self.ok(tag, None, &format!("{command} completed")),
            Some(render::BinaryError::UnknownCte(_)) => self.no(
                tag,
                Some(respond::RespCode::ext("UNKNOWN-CTE")),
                "Unknown Content-Transfer-Encoding; the part cannot be fetched as BINARY",
            ),
            Some(render::BinaryError::Undecodable) => self.no(
                tag,
                Some(respond::RespCode::ext("PARSE")),
                "The part's Content-Transfer-Encoding does not decode",
            ),
            Some(_) => self.no(tag, None, "BINARY of a multipart section is not defined"),
        })
    }

    /// Queues one response line; a large one (a big literal) is written straight through.
    pub(super) async fn emit(&mut self, line: Vec<u8>) -> std::io::Result<()> {
        if line.len() >= OUT_FLUSH {
            self.flush().await?;
            use tokio::io::AsyncWriteExt;
            let stream = self.conn.get_mut();
            stream.write_all(&line).await?;
            stream.flush().await?;
            return Ok(());
        }
        self.out.extend_from_slice(&line);
        self.flush_if_full().await
    }
}

/// What a FETCH macro stands for (RFC 3501 §6.4.5).
fn expand(mac: Macro) -> Vec<MessageDataItemName<'static>> {
    use MessageDataItemName as N;
    match mac {
        Macro::All => vec![N::Flags, N::InternalDate, N::Rfc822Size, N::Envelope],
        Macro::Fast => vec![N::Flags, N::InternalDate, N::Rfc822Size],
        Macro::Full => vec![
            N::Flags,
            N::InternalDate,
            N::Rfc822Size,
            N::Envelope,
            N::Body,
        ],
        _ => vec![N::Flags, N::InternalDate, N::Rfc822Size],
    }
}

/// The BINARY items of one message as response text (` BINARY[1] {n}\r\n...`, each with a
/// leading space). A part that cannot be given is left out and noted in `failure`; a part
/// the message does not have is `NIL`.
fn binary_items(
    raw: &[u8],
    items: &[BinaryItem],
    failure: &mut Option<render::BinaryError>,
) -> Vec<u8> {
    let message = render::MimeMessage::new(raw);
    let mut out = Vec::new();
    for item in items {
        let name = item.response_name();
        let value = if item.size {
            message
                .binary_size(&item.part)
                .map(|n| n.to_string().into_bytes())
        } else {
            message.binary(&item.part, item.partial).map(|data| {
                // RFC 3516: literal8 (`~{n}`) when the content has NUL, which a literal
                // cannot carry.
                let tilde = if data.contains(&0) { "~" } else { "" };
                let mut v = format!("{tilde}{{{}}}\r\n", data.len()).into_bytes();
                v.extend_from_slice(&data);
                v
            })
        };
        let value = match value {
            Ok(v) => v,
            Err(render::BinaryError::NoSuchPart) => b"NIL".to_vec(),
            Err(e) => {
                failure.get_or_insert(e);
                continue;
            }
        };
        out.push(b' ');
        out.extend_from_slice(name.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&value);
    }
    out
}

/// One `* n FETCH (...)` response; `binary` is spliced in at the end as it is.
#[allow(clippy::too_many_arguments)]
fn fetch_line(
    seq: u32,
    row: &ImapMessage,
    names: &[MessageDataItemName<'_>],
    flags: Vec<imap_codec::imap_types::flag::FlagFetch<'static>>,
    raw: Option<&Bytes>,
    seen_changed: bool,
    with_modseq: bool,
    binary: &[u8],
) -> Vec<u8> {
    let empty = Bytes::new();
    let raw = raw.unwrap_or(&empty);
    let mut items: Vec<MessageDataItem<'_>> = Vec::with_capacity(names.len() + 1);
    let mut extra: Vec<String> = Vec::new();
    let mut flags = Some(flags);
    let mut sent_flags = false;
    for name in names {
        match name {
            MessageDataItemName::Flags => {
                if let Some(f) = flags.take() {
                    items.push(MessageDataItem::Flags(f));
                    sent_flags = true;
                }
            }
            MessageDataItemName::Uid => {
                if let Some(u) = NonZeroU32::new(row.uid) {
                    items.push(MessageDataItem::Uid(u));
                }
            }
            MessageDataItemName::InternalDate => {
                // imap-types 1.0 takes a chrono date; the fixed RFC 3501 form is ours to write.
                extra.push(format!(
                    "INTERNALDATE \"{}\"",
                    internal_date(row.received_at.0)
                ));
            }
            MessageDataItemName::Rfc822Size => {
                items.push(MessageDataItem::Rfc822Size(
                    u32::try_from(row.size).unwrap_or(u32::MAX),
                ));
            }
            MessageDataItemName::Envelope => {
                items.push(MessageDataItem::Envelope(render::envelope(raw)));
            }
            MessageDataItemName::Body => {
                items.push(MessageDataItem::Body(render::body_structure(raw, false)));
            }
            MessageDataItemName::BodyStructure => {
                items.push(MessageDataItem::BodyStructure(render::body_structure(
                    raw, true,
                )));
            }
            MessageDataItemName::BodyExt {
                section, partial, ..
            } => {
                let data: Cow<'_, [u8]> = if section.is_none() && partial.is_none() {
                    Cow::Borrowed(&raw[..])
                } else {
                    Cow::Owned(render::section(raw, section.as_ref(), *partial).unwrap_or_default())
                };
                items.push(MessageDataItem::BodyExt {
                    section: section.clone(),
                    origin: partial.map(|(start, _)| start),
                    data: literal(data),
                });
            }
            MessageDataItemName::Rfc822 => {
                items.push(MessageDataItem::Rfc822(literal(Cow::Borrowed(&raw[..]))));
            }
            MessageDataItemName::Rfc822Header => {
                items.push(MessageDataItem::Rfc822Header(literal(Cow::Borrowed(
                    render::rfc822_header(raw),
                ))));
            }
            MessageDataItemName::Rfc822Text => {
                items.push(MessageDataItem::Rfc822Text(literal(Cow::Borrowed(
                    render::rfc822_text(raw),
                ))));
            }
        }
    }
    if seen_changed && !sent_flags {
        if let Some(f) = flags.take() {
            items.push(MessageDataItem::Flags(f));
        }
    }
    if with_modseq {
        extra.push(format!("MODSEQ ({})", row.modseq));
    }
    let Some(seq) = NonZeroU32::new(seq) else {
        return Vec::new();
    };
    let mut tail = extra.join(" ").into_bytes();
    tail.extend_from_slice(
        binary
            .strip_prefix(b" ")
            .filter(|_| tail.is_empty())
            .unwrap_or(binary),
    );
    let mut line = Vec::new();
    match NonEmptyVec::try_from(items) {
        Ok(items) => {
            respond::data(&mut line, Data::Fetch { seq, items });
            respond::splice_list_tail_bytes(&mut line, &tail);
        }
        Err(_) => {
            // Only extension items were asked for (INTERNALDATE, MODSEQ, BINARY).
            line.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
            line.extend_from_slice(&tail);
            line.extend_from_slice(b")\r\n");
        }
    }
    line
}

/// Message bytes as a literal. IMAP4rev1 literals cannot carry NUL; like other servers we send
/// 0x80 in its place (same length, so partial offsets stay right).
fn literal(data: Cow<'_, [u8]>) -> NString<'_> {
    let data = if data.contains(&0) {
        Cow::Owned(
            data.iter()
                .map(|&b| if b == 0 { 0x80 } else { b })
                .collect::<Vec<u8>>(),
        )
    } else {
        data
    };
    let lit = match data {
        Cow::Borrowed(b) => Literal::try_from(b),
        Cow::Owned(v) => Literal::try_from(v),
    };
    match lit {
        Ok(l) => NString(Some(IString::Literal(l))),
        Err(_) => NString(None),
    }
}

/// RFC 3501 `date-time`: `"27-Nov-2026 21:07:09 +0000"` (always UTC).
pub(crate) fn internal_date(unix: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS[usize::from(u8::from(t.month())) - 1];
    format!(
        "{:02}-{}-{:04} {:02}:{:02}:{:02} +0000",
        t.day(),
        month,
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_dates_in_rfc_form() {
        assert_eq!(internal_date(0), "01-Jan-1970 00:00:00 +0000");
        assert_eq!(internal_date(1_795_000_000), "18-Nov-2026 11:06:40 +0000");
    }

    #[test]
    fn nul_bytes_do_not_break_literals() {
        let n = literal(Cow::Borrowed(b"a\0b"));
        assert_eq!(n.into_option().unwrap().as_ref(), b"a\x80b");
    }
}
