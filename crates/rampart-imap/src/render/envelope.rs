//! `ENVELOPE` (RFC 3501 §7.4.2, RFC 9051 §7.5.2).

use imap_codec::imap_types::core::NString;
use imap_codec::imap_types::envelope::{Address as ImapAddress, Envelope};
use mail_parser::{Addr, Address, Header, HeaderName, HeaderValue};

use super::mime::{field, parse_guarded};
use super::value::{encode_words, nstring, raw_value};

/// The `ENVELOPE` of a message, from its header alone (the body is never parsed).
///
/// Date, subject, `In-Reply-To` and `Message-ID` are the raw field values, unfolded, encoded
/// words and 8-bit bytes left as they are (the RFC's "unparsed" form; 8-bit goes out as a
/// literal). Addresses come from mail-parser: display names that are not ASCII are re-encoded
/// as UTF-8 encoded words, groups become the RFC's start and end markers, and an address
/// without `@` gets an empty (not `NIL`) host so it cannot be mistaken for a group marker.
/// `Sender` and `Reply-To` default to `From`. Anything absent or unparseable is `NIL`; bytes
/// that are not a message at all give an envelope of `NIL`s.
pub fn envelope(raw: &[u8]) -> Envelope<'static> {
    match parse_guarded(raw, true) {
        Some(msg) => match msg.parts.first() {
            Some(root) => envelope_of(&root.headers, &msg.raw_message),
            None => empty(),
        },
        None => empty(),
    }
}

/// The `ENVELOPE` of parsed header `fields`, whose offsets index `buf`.
pub(crate) fn envelope_of(fields: &[Header<'_>], buf: &[u8]) -> Envelope<'static> {
    let raw = |name: HeaderName<'static>| nstring(field(fields, &name).map(|h| raw_value(buf, h)));
    let from = addresses(fields, HeaderName::From);
    let sender = addresses(fields, HeaderName::Sender);
    let reply_to = addresses(fields, HeaderName::ReplyTo);
    Envelope {
        date: raw(HeaderName::Date),
        subject: raw(HeaderName::Subject),
        sender: if sender.is_empty() {
            from.clone()
        } else {
            sender
        },
        reply_to: if reply_to.is_empty() {
            from.clone()
        } else {
            reply_to
        },
        from,
        to: addresses(fields, HeaderName::To),
        cc: addresses(fields, HeaderName::Cc),
        bcc: addresses(fields, HeaderName::Bcc),
        in_reply_to: raw(HeaderName::InReplyTo),
        message_id: raw(HeaderName::MessageId),
    }
}

fn empty() -> Envelope<'static> {
    Envelope {
        date: NString(None),
        subject: NString(None),
        from: Vec::new(),
        sender: Vec::new(),
        reply_to: Vec::new(),
        to: Vec::new(),
        cc: Vec::new(),
        bcc: Vec::new(),
        in_reply_to: NString(None),
        message_id: NString(None),
    }
}

/// The addresses of the first field called `name`, groups flattened into IMAP's markers.
fn addresses(fields: &[Header<'_>], name: HeaderName<'static>) -> Vec<ImapAddress<'static>> {
    let Some(HeaderValue::Address(list)) = field(fields, &name).map(|h| &h.value) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    match list {
        Address::List(addrs) => out.extend(addrs.iter().filter_map(address)),
        Address::Group(groups) => {
            for group in groups {
                // mail-parser puts addresses outside any group in a group without a name.
                let Some(name) = group.name.as_deref() else {
                    out.extend(group.addresses.iter().filter_map(address));
                    continue;
                };
                out.push(ImapAddress {
                    name: NString(None),
                    adl: NString(None),
                    mailbox: nstring(Some(encode_words(name))),
                    host: NString(None),
                });
                out.extend(group.addresses.iter().filter_map(address));
                out.push(ImapAddress {
                    name: NString(None),
                    adl: NString(None),
                    mailbox: NString(None),
                    host: NString(None),
                });
            }
        }
    }
    out
}

fn address(addr: &Addr<'_>) -> Option<ImapAddress<'static>> {
    let name = addr
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let spec = addr
        .address
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty());
    if name.is_none() && spec.is_none() {
        return None;
    }
    let (mailbox, host) = match spec.map(|s| s.rsplit_once('@').unwrap_or((s, ""))) {
        Some((mailbox, host)) => (mailbox, host),
        None => ("", ""),
    };
    Some(ImapAddress {
        name: nstring(name.map(encode_words)),
        adl: NString(None),
        // An addr-spec cannot hold encoded words: internationalised (RFC 6532) addresses go
        // out as UTF-8.
        mailbox: nstring(Some(mailbox.as_bytes())),
        host: nstring(Some(host.as_bytes())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: &NString<'_>) -> Option<String> {
        n.0.as_ref()
            .map(|s| String::from_utf8_lossy(s.as_ref()).into_owned())
    }

    #[test]
    fn group_becomes_start_and_end_markers() {
        let env = envelope(
            b"From: a@example.org\r\nTo: Team: b@example.org, c@example.org;, d@example.org\r\n\r\n",
        );
        let to: Vec<_> = env
            .to
            .iter()
            .map(|a| (text(&a.mailbox), text(&a.host)))
            .collect();
        assert_eq!(
            to,
            vec![
                (Some("Team".into()), None),
                (Some("b".into()), Some("example.org".into())),
                (Some("c".into()), Some("example.org".into())),
                (None, None),
                (Some("d".into()), Some("example.org".into())),
            ]
        );
    }

    #[test]
    fn address_without_domain_keeps_a_non_nil_host() {
        let env = envelope(b"From: root\r\n\r\n");
        assert_eq!(env.from.len(), 1);
        assert_eq!(text(&env.from[0].host).as_deref(), Some(""));
    }
}
