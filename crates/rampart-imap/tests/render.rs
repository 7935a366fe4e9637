//! The FETCH and SEARCH renderers on real-world message shapes: what a client sees in
//! `ENVELOPE`, `BODYSTRUCTURE` and `BODY[...]`, that all of it serialises with imap-codec, that
//! part numbers in a structure resolve to exactly the bytes its sizes announce (also over the
//! real corpora when they are unpacked), every search key both ways, and no panic on any input.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use imap_codec::decode::Decoder;
use imap_codec::encode::Encoder;
use imap_codec::imap_types::body::{BasicFields, BodyStructure, SpecificFields};
use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::core::{AString, IString, NString, NonEmptyVec};
use imap_codec::imap_types::envelope::{Address, Envelope};
use imap_codec::imap_types::fetch::{
    MacroOrMessageDataItemNames, MessageDataItem, MessageDataItemName, Part, Section,
};
use imap_codec::imap_types::response::{Data, Response};
use imap_codec::imap_types::search::SearchKey;
use imap_codec::{CommandCodec, ResponseCodec};
use proptest::prelude::*;
use rampart_imap::render::{
    body_structure, decode_mailbox_name, encode_mailbox_name, envelope, matches, needs_content,
    rfc822_header, rfc822_size, rfc822_text, section, SearchInput,
};
use rampart_model::Flag;

// ---------------------------------------------------------------------------------------------
// Fixtures

const PLAIN: &str = "Return-Path: <ann@example.org>\r\n\
Date: Tue, 5 Mar 2024 07:15:00 +0800\r\n\
From: Ann Example <ann@example.org>\r\n\
To: Bob <bob@example.com>, carol@example.com\r\n\
Cc: Dave <dave@example.net>\r\n\
Subject: Quarterly report\r\n is ready\r\n\
Message-ID: <20240305.1@example.org>\r\n\
In-Reply-To: <prev@example.com>\r\n\
X-Priority: 1\r\n\
\r\n\
Hello Bob,\r\n\
the numbers are attached to the wiki page.\r\n";

const PLAIN_BODY: &str = "Hello Bob,\r\nthe numbers are attached to the wiki page.\r\n";

const ALTERNATIVE: &str = "From: news@example.org\r\n\
To: bob@example.com\r\n\
Subject: Newsletter\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"alt-1\"\r\n\
\r\n\
This is a multi-part message in MIME format.\r\n\
--alt-1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Caf=C3=A9 news\r\n\
second line\r\n\
--alt-1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Caf&eacute; <b>specials</b></p>\r\n\
--alt-1--\r\n";

const MIXED: &str = "From: Ann <ann@example.org>\r\n\
To: bob@example.com\r\n\
Subject: Report\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"mix\"\r\n\
\r\n\
--mix\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
See attached.\r\n\
--mix\r\n\
Content-Type: application/pdf; name=\"report.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-ID: <att1@example.org>\r\n\
Content-Description: Q1 report\r\n\
Content-Language: en, de\r\n\
Content-Location: http://example.org/report.pdf\r\n\
Content-Disposition: attachment; filename*=utf-8''%E6%8A%A5%E5%91%8A.pdf\r\n\
\r\n\
JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoK\r\n\
--mix--\r\n";

const NESTED: &str = "From: Bob <bob@example.com>\r\n\
To: ann@example.org\r\n\
Subject: Fwd: Lunch\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
--outer\r\n\
Content-Type: text/plain\r\n\
\r\n\
See the forwarded message.\r\n\
--outer\r\n\
Content-Type: message/rfc822\r\n\
Content-Disposition: inline\r\n\
\r\n\
From: Carol <carol@example.net>\r\n\
To: bob@example.com\r\n\
Subject: Lunch\r\n\
Date: Mon, 4 Mar 2024 12:00:00 +0000\r\n\
Message-ID: <lunch@example.net>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"inner\"\r\n\
\r\n\
--inner\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Pizza at noon?\r\n\
--inner\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Pizza at noon?</p>\r\n\
--inner--\r\n\
\r\n\
--outer--\r\n";

/// GB2312 and UTF-8 encoded words, a GB2312 base64 body.
const CHINESE: &str = "From: =?GB2312?B?1cXOsA==?= <zhangwei@example.cn>\r\n\
To: =?UTF-8?B?5p2O5aic?= <lina@example.cn>\r\n\
Subject: =?GB2312?B?xPq6w6Os0rvG8LPUzue3ucLw?=\r\n\
Date: Wed, 6 Mar 2024 09:00:00 +0800\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=GB2312\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
w/fM7MnPzufKrrXjv6q74aOsx+vXvMqxss6806GjDQo=\r\n";

const NO_BOUNDARY: &str = "From: a@example.org\r\n\
Subject: broken\r\n\
Content-Type: multipart/mixed\r\n\
\r\n\
--xyz\r\n\
Content-Type: text/plain\r\n\
\r\n\
hello\r\n\
--xyz--\r\n";

const GARBAGE: &[u8] = b"\x00\xff\xfe\x80garbage: \x81\r\n\r\n--\x00\x01 more\r\n\r\n";

fn encoded_rfc822() -> Vec<u8> {
    let inner = "From: inner@example.org\r\nSubject: Encoded inner\r\n\r\nInner body\r\n";
    let b64 = base64::engine::general_purpose::STANDARD.encode(inner);
    format!(
        "From: a@example.org\r\n\
Subject: carrier\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain\r\n\
\r\n\
carrier text\r\n\
--b\r\n\
Content-Type: message/rfc822\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
{b64}\r\n\
--b--\r\n"
    )
    .into_bytes()
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn part(path: &[u32]) -> Part {
    Part(NonEmptyVec::try_from(path.iter().map(|&n| nz(n)).collect::<Vec<_>>()).unwrap())
}

fn fields(names: &[&'static str]) -> NonEmptyVec<AString<'static>> {
    NonEmptyVec::try_from(
        names
            .iter()
            .map(|n| AString::try_from(*n).unwrap())
            .collect::<Vec<_>>(),
    )
    .unwrap()
}

fn sec(raw: impl AsRef<[u8]>, s: Section<'_>) -> Option<String> {
    section(raw.as_ref(), Some(&s), None).map(|b| String::from_utf8(b).unwrap())
}

fn text(n: &NString<'_>) -> Option<String> {
    n.0.as_ref()
        .map(|s| String::from_utf8_lossy(s.as_ref()).into_owned())
}

fn istr(s: &IString<'_>) -> String {
    String::from_utf8_lossy(s.as_ref()).into_owned()
}

/// (name, mailbox, host) of each address.
fn addrs(list: &[Address<'_>]) -> Vec<(Option<String>, Option<String>, Option<String>)> {
    list.iter()
        .map(|a| (text(&a.name), text(&a.mailbox), text(&a.host)))
        .collect()
}

fn single<'b>(bs: &'b BodyStructure<'b>) -> (&'b BasicFields<'b>, &'b SpecificFields<'b>) {
    match bs {
        BodyStructure::Single { body, .. } => (&body.basic, &body.specific),
        other => panic!("expected a single part, got {other:?}"),
    }
}

fn multi<'b>(bs: &'b BodyStructure<'b>) -> (&'b [BodyStructure<'b>], String) {
    match bs {
        BodyStructure::Multi {
            bodies, subtype, ..
        } => (bodies.as_ref(), istr(subtype)),
        other => panic!("expected a multipart, got {other:?}"),
    }
}

/// "type/subtype" of a single part.
fn media(bs: &BodyStructure<'_>) -> String {
    match single(bs).1 {
        SpecificFields::Basic { r#type, subtype } => format!("{}/{}", istr(r#type), istr(subtype)),
        SpecificFields::Text { subtype, .. } => format!("text/{}", istr(subtype)),
        SpecificFields::Message { .. } => "message/rfc822".into(),
    }
}

fn params(basic: &BasicFields<'_>) -> Vec<(String, String)> {
    basic
        .parameter_list
        .iter()
        .map(|(k, v)| (istr(k), istr(v)))
        .collect()
}

/// Encodes a FETCH response with imap-codec and decodes it back: what the session would send
/// must be valid IMAP and mean the same.
fn encode_fetch(items: Vec<MessageDataItem<'static>>) -> Vec<u8> {
    let response = Response::Data(Data::Fetch {
        seq: nz(1),
        items: NonEmptyVec::try_from(items).unwrap(),
    });
    let bytes = ResponseCodec::default().encode(&response).dump();
    let (rest, decoded) = ResponseCodec::default()
        .decode(&bytes)
        .unwrap_or_else(|e| panic!("{e:?}: {}", String::from_utf8_lossy(&bytes)));
    assert!(rest.is_empty());
    assert_eq!(
        ResponseCodec::default().encode(&decoded).dump(),
        bytes,
        "re-encoding the decoded response differs"
    );
    bytes
}

fn encode_all(raw: &[u8]) -> Vec<u8> {
    encode_fetch(vec![
        MessageDataItem::Envelope(envelope(raw)),
        MessageDataItem::BodyStructure(body_structure(raw, true)),
        MessageDataItem::Body(body_structure(raw, false)),
    ])
}

/// A search key as a client would send it (`a SEARCH <criteria>`), decoded by imap-codec.
fn key(criteria: &str) -> SearchKey<'static> {
    let line: &'static str = Box::leak(format!("a SEARCH {criteria}\r\n").into_boxed_str());
    let (_, command) = CommandCodec::default()
        .decode(line.as_bytes())
        .unwrap_or_else(|e| panic!("{criteria}: {e:?}"));
    match command.body {
        CommandBody::Search { criteria, .. } => criteria,
        other => panic!("{other:?}"),
    }
}

fn astr(s: &str) -> AString<'static> {
    AString::try_from(s.to_string()).unwrap()
}

/// Checks that every part number a structure announces resolves, and to exactly as many bytes
/// as its size says (RFC 3501 §6.4.5 numbering).
fn check_part_sizes(raw: &[u8], bs: &BodyStructure<'_>, path: Vec<u32>) {
    match bs {
        BodyStructure::Multi { bodies, .. } => {
            for (i, body) in bodies.as_ref().iter().enumerate() {
                let mut child = path.clone();
                child.push(i as u32 + 1);
                check_part_sizes(raw, body, child);
            }
        }
        BodyStructure::Single { body, .. } => {
            let path = if path.is_empty() { vec![1] } else { path };
            let bytes = section(raw, Some(&Section::Part(part(&path))), None)
                .unwrap_or_else(|| panic!("part {path:?} does not resolve"));
            assert_eq!(bytes.len() as u32, body.basic.size, "size of part {path:?}");
            assert!(section(raw, Some(&Section::Mime(part(&path))), None).is_some());
            if let SpecificFields::Message { body_structure, .. } = &body.specific {
                assert!(section(raw, Some(&Section::Header(Some(part(&path)))), None).is_some());
                match body_structure.as_ref() {
                    BodyStructure::Multi { .. } => check_part_sizes(raw, body_structure, path),
                    BodyStructure::Single { .. } => {
                        let mut inner = path.clone();
                        inner.push(1);
                        check_part_sizes(raw, body_structure, inner);
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ENVELOPE

#[test]
fn envelope_of_plain_message_keeps_raw_values_and_defaults_sender_to_from() {
    let env = envelope(PLAIN.as_bytes());
    assert_eq!(
        text(&env.date).as_deref(),
        Some("Tue, 5 Mar 2024 07:15:00 +0800")
    );
    assert_eq!(
        text(&env.subject).as_deref(),
        Some("Quarterly report is ready")
    );
    let ann = (
        Some("Ann Example".to_string()),
        Some("ann".to_string()),
        Some("example.org".to_string()),
    );
    assert_eq!(addrs(&env.from), vec![ann.clone()]);
    assert_eq!(env.sender, env.from);
    assert_eq!(env.reply_to, env.from);
    assert_eq!(
        addrs(&env.to),
        vec![
            (
                Some("Bob".into()),
                Some("bob".into()),
                Some("example.com".into())
            ),
            (None, Some("carol".into()), Some("example.com".into())),
        ]
    );
    assert_eq!(addrs(&env.cc).len(), 1);
    assert!(env.bcc.is_empty());
    assert_eq!(
        text(&env.in_reply_to).as_deref(),
        Some("<prev@example.com>")
    );
    assert_eq!(
        text(&env.message_id).as_deref(),
        Some("<20240305.1@example.org>")
    );
    assert!(env.from.iter().all(|a| a.adl.0.is_none()));
}

#[test]
fn envelope_uses_sender_and_reply_to_when_present() {
    let env = envelope(
        b"From: a@example.org\r\nSender: list@example.org\r\nReply-To: list@example.org\r\n\r\n",
    );
    assert_eq!(addrs(&env.sender)[0].1.as_deref(), Some("list"));
    assert_eq!(addrs(&env.reply_to)[0].1.as_deref(), Some("list"));
    assert_eq!(addrs(&env.from)[0].1.as_deref(), Some("a"));
}

#[test]
fn envelope_of_chinese_message_keeps_encoded_subject_and_encodes_names_as_utf8_words() {
    let env = envelope(CHINESE.as_bytes());
    assert_eq!(
        text(&env.subject).as_deref(),
        Some("=?GB2312?B?xPq6w6Os0rvG8LPUzue3ucLw?=")
    );
    // 张伟 decoded from GB2312 by mail-parser, sent on as a UTF-8 encoded word.
    assert_eq!(
        text(&env.from[0].name).as_deref(),
        Some("=?utf-8?b?5byg5Lyf?=")
    );
    assert_eq!(
        text(&env.to[0].name).as_deref(),
        Some("=?utf-8?b?5p2O5aic?=")
    );
    assert_eq!(text(&env.to[0].host).as_deref(), Some("example.cn"));
    encode_all(CHINESE.as_bytes());
}

#[test]
fn raw_eight_bit_subject_goes_out_as_a_literal() {
    let raw = "From: a@example.org\r\nSubject: 季度报告\r\n\r\nbody\r\n";
    let env = envelope(raw.as_bytes());
    assert_eq!(text(&env.subject).as_deref(), Some("季度报告"));
    assert!(matches!(env.subject.0, Some(IString::Literal(_))));
    let bytes = encode_fetch(vec![MessageDataItem::Envelope(env)]);
    assert!(bytes.windows(4).any(|w| w == b"{12}"));
}

#[test]
fn envelope_absent_fields_are_nil() {
    let env = envelope(b"X-Only: this\r\n\r\nbody");
    assert_eq!(env.date.0, None);
    assert_eq!(env.subject.0, None);
    assert!(env.from.is_empty() && env.sender.is_empty() && env.reply_to.is_empty());
    assert_eq!(env.message_id.0, None);
    let nothing = envelope(b"");
    assert_eq!(nothing.subject.0, None);
    encode_fetch(vec![MessageDataItem::Envelope(nothing)]);
}

#[test]
fn envelope_renders_groups_with_markers() {
    let env = envelope(
        b"From: a@example.org\r\nTo: undisclosed-recipients:;\r\nCc: Team: b@example.org;\r\n\r\n",
    );
    assert_eq!(
        addrs(&env.to),
        vec![
            (None, Some("undisclosed-recipients".into()), None),
            (None, None, None)
        ]
    );
    assert_eq!(
        addrs(&env.cc),
        vec![
            (None, Some("Team".into()), None),
            (None, Some("b".into()), Some("example.org".into())),
            (None, None, None)
        ]
    );
    encode_fetch(vec![MessageDataItem::Envelope(env)]);
}

// ---------------------------------------------------------------------------------------------
// BODYSTRUCTURE

#[test]
fn plain_message_is_one_text_part_with_default_charset() {
    let bs = body_structure(PLAIN.as_bytes(), true);
    let (basic, specific) = single(&bs);
    assert_eq!(media(&bs), "text/plain");
    assert_eq!(params(basic), vec![("charset".into(), "us-ascii".into())]);
    assert_eq!(istr(&basic.content_transfer_encoding), "7BIT");
    assert_eq!(basic.size as usize, PLAIN_BODY.len());
    assert!(matches!(
        specific,
        SpecificFields::Text {
            number_of_lines: 2,
            ..
        }
    ));
    check_part_sizes(PLAIN.as_bytes(), &bs, vec![]);
    encode_all(PLAIN.as_bytes());
}

#[test]
fn alternative_has_text_and_html_parts() {
    let raw = ALTERNATIVE.as_bytes();
    let bs = body_structure(raw, true);
    let (parts, subtype) = multi(&bs);
    assert_eq!(subtype, "alternative");
    assert_eq!(parts.len(), 2);
    assert_eq!(media(&parts[0]), "text/plain");
    assert_eq!(media(&parts[1]), "text/html");
    let (basic, specific) = single(&parts[0]);
    assert_eq!(istr(&basic.content_transfer_encoding), "QUOTED-PRINTABLE");
    assert_eq!(params(basic), vec![("charset".into(), "utf-8".into())]);
    // The CRLF before a boundary belongs to the boundary.
    assert_eq!(basic.size as usize, "Caf=C3=A9 news\r\nsecond line".len());
    assert!(matches!(
        specific,
        SpecificFields::Text {
            number_of_lines: 2,
            ..
        }
    ));
    match &bs {
        BodyStructure::Multi {
            extension_data: Some(ext),
            ..
        } => assert!(ext
            .parameter_list
            .iter()
            .any(|(k, v)| istr(k) == "boundary" && istr(v) == "alt-1")),
        other => panic!("{other:?}"),
    }
    check_part_sizes(raw, &bs, vec![]);
    encode_all(raw);
}

#[test]
fn body_without_extension_data_when_not_extensible() {
    let bs = body_structure(MIXED.as_bytes(), false);
    match &bs {
        BodyStructure::Multi {
            bodies,
            extension_data,
            ..
        } => {
            assert!(extension_data.is_none());
            for b in bodies.as_ref() {
                assert!(matches!(
                    b,
                    BodyStructure::Single {
                        extension_data: None,
                        ..
                    }
                ));
            }
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn attachment_carries_id_description_disposition_language_and_location() {
    let raw = MIXED.as_bytes();
    let bs = body_structure(raw, true);
    let (parts, subtype) = multi(&bs);
    assert_eq!(subtype, "mixed");
    assert_eq!(media(&parts[1]), "application/pdf");
    let (basic, _) = single(&parts[1]);
    assert_eq!(params(basic), vec![("name".into(), "report.pdf".into())]);
    assert_eq!(text(&basic.id).as_deref(), Some("<att1@example.org>"));
    assert_eq!(text(&basic.description).as_deref(), Some("Q1 report"));
    assert_eq!(istr(&basic.content_transfer_encoding), "BASE64");
    let BodyStructure::Single {
        extension_data: Some(ext),
        ..
    } = &parts[1]
    else {
        panic!("no extension data");
    };
    assert_eq!(ext.md5.0, None);
    let disposition = ext.tail.as_ref().unwrap();
    let (kind, dparams) = disposition.disposition.as_ref().unwrap();
    assert_eq!(istr(kind), "attachment");
    // RFC 2231 decoded by mail-parser, then sent as a UTF-8 encoded word.
    assert_eq!(istr(&dparams[0].0), "filename");
    assert_eq!(istr(&dparams[0].1), "=?utf-8?b?5oql5ZGKLnBkZg==?=");
    let language = disposition.tail.as_ref().unwrap();
    let tags: Vec<_> = language.language.iter().map(istr).collect();
    assert_eq!(tags, vec!["en", "de"]);
    let location = language.tail.as_ref().unwrap();
    assert_eq!(
        text(&location.location).as_deref(),
        Some("http://example.org/report.pdf")
    );
    check_part_sizes(raw, &bs, vec![]);
    encode_all(raw);
}

#[test]
fn forwarded_message_nests_envelope_and_structure() {
    let raw = NESTED.as_bytes();
    let bs = body_structure(raw, true);
    let (parts, _) = multi(&bs);
    assert_eq!(parts.len(), 2);
    let (basic, specific) = single(&parts[1]);
    let SpecificFields::Message {
        envelope,
        body_structure: inner,
        number_of_lines,
    } = specific
    else {
        panic!("{specific:?}");
    };
    assert_eq!(text(&envelope.subject).as_deref(), Some("Lunch"));
    assert_eq!(
        text(&envelope.message_id).as_deref(),
        Some("<lunch@example.net>")
    );
    let (inner_parts, inner_subtype) = multi(inner);
    assert_eq!(inner_subtype, "alternative");
    assert_eq!(inner_parts.len(), 2);
    let encapsulated = sec(raw, Section::Part(part(&[2]))).unwrap();
    assert_eq!(basic.size as usize, encapsulated.len());
    assert!(encapsulated.ends_with("--inner--\r\n"));
    assert_eq!(
        *number_of_lines as usize,
        encapsulated.matches('\n').count()
    );
    check_part_sizes(raw, &bs, vec![]);
    encode_all(raw);
}

/// RFC 2046 §5.2.1 allows no transfer encoding on message/rfc822; one that has it is parsed as
/// it stands (as Dovecot does), never decoded: still a message/rfc822, sizes consistent.
#[test]
fn base64_encoded_message_part_is_parsed_as_it_stands() {
    let raw = encoded_rfc822();
    let bs = body_structure(&raw, true);
    let (parts, _) = multi(&bs);
    let (basic, specific) = single(&parts[1]);
    assert!(
        matches!(specific, SpecificFields::Message { .. }),
        "{specific:?}"
    );
    assert_eq!(istr(&basic.content_transfer_encoding), "BASE64");
    let body = sec(&raw, Section::Part(part(&[2]))).unwrap();
    assert!(body.starts_with("RnJvbTog"), "{body}");
    check_part_sizes(&raw, &bs, vec![]);
    encode_all(&raw);
}

#[test]
fn chinese_body_part_is_text_with_its_charset() {
    let bs = body_structure(CHINESE.as_bytes(), true);
    let (basic, _) = single(&bs);
    assert_eq!(media(&bs), "text/plain");
    let charset = &params(basic)[0];
    assert_eq!(charset.0, "charset");
    assert!(charset.1.eq_ignore_ascii_case("gb2312"), "{charset:?}");
    check_part_sizes(CHINESE.as_bytes(), &bs, vec![]);
}

#[test]
fn multipart_without_boundary_falls_back_to_text_plain() {
    let raw = NO_BOUNDARY.as_bytes();
    let bs = body_structure(raw, true);
    assert_eq!(media(&bs), "text/plain");
    check_part_sizes(raw, &bs, vec![]);
    assert_eq!(
        sec(raw, Section::Part(part(&[1]))),
        sec(raw, Section::Text(None))
    );
    encode_all(raw);

    let never =
        "Subject: x\r\nContent-Type: multipart/mixed; boundary=\"nope\"\r\n\r\njust text\r\n";
    let bs = body_structure(never.as_bytes(), true);
    assert_eq!(media(&bs), "text/plain");
    check_part_sizes(never.as_bytes(), &bs, vec![]);
}

#[test]
fn garbage_is_one_text_part_and_still_serialises() {
    for raw in [GARBAGE, b"", b"\r\n", b"no header at all", b"\xff\xfe\xfd"] {
        let bs = body_structure(raw, true);
        check_part_sizes(raw, &bs, vec![]);
        encode_all(raw);
    }
}

#[test]
fn deep_nesting_is_capped_but_still_consistent() {
    let mut raw = String::from("Subject: deep\r\n");
    for i in 0..200 {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
        ));
    }
    raw.push_str("Content-Type: text/plain\r\n\r\nbottom\r\n");
    let bs = body_structure(raw.as_bytes(), true);
    check_part_sizes(raw.as_bytes(), &bs, vec![]);
    let _ = envelope(raw.as_bytes());
}

/// 100 000 nested `message/rfc822` in 3 MB, as is and base64-encoded inside an attachment:
/// mail-parser nests them by value (recursive drop; recursive copy when it decodes), which
/// overflows the stack (an abort, not a panic) unless we keep it from doing either.
#[test]
fn hundred_thousand_nested_messages_do_not_overflow_the_stack() {
    let mut deep = String::from("Subject: deep\r\n");
    for _ in 0..100_000 {
        deep.push_str("Content-Type: message/rfc822\r\n\r\n");
    }
    deep.push_str("Subject: bottom\r\n\r\nbody\r\n");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&deep);
    let wrapped = format!(
        "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b--\r\n"
    );
    for raw in [deep.as_bytes(), wrapped.as_bytes()] {
        let _ = body_structure(raw, true);
        let m = input(Some(raw), &[], &[]);
        assert!(!matches(&key("BODY nothing"), &m, 10, 50));
        assert!(section(raw, Some(&Section::Part(part(&[1, 1]))), None).is_some());
    }
    assert!(section(deep.as_bytes(), Some(&Section::Part(part(&[1; 20]))), None).is_some());
}

// ---------------------------------------------------------------------------------------------
// BODY[section]

#[test]
fn whole_header_and_text_sections_are_byte_exact() {
    let raw = PLAIN.as_bytes();
    let split = PLAIN.find("\r\n\r\n").unwrap() + 4;
    assert_eq!(section(raw, None, None).as_deref(), Some(raw));
    assert_eq!(
        sec(raw, Section::Header(None)).as_deref(),
        Some(&PLAIN[..split])
    );
    assert_eq!(sec(raw, Section::Text(None)).as_deref(), Some(PLAIN_BODY));
    assert_eq!(rfc822_header(raw), &raw[..split]);
    assert_eq!(rfc822_text(raw), PLAIN_BODY.as_bytes());
    assert_eq!(rfc822_size(raw) as usize, raw.len());
    // Part 1 of a single-part message is its body; its MIME header is the message header.
    assert_eq!(
        sec(raw, Section::Part(part(&[1]))).as_deref(),
        Some(PLAIN_BODY)
    );
    assert_eq!(
        sec(raw, Section::Mime(part(&[1]))).as_deref(),
        Some(&PLAIN[..split])
    );
    assert_eq!(sec(raw, Section::Part(part(&[2]))), None);
    assert_eq!(sec(raw, Section::Part(part(&[1, 1]))), None);
}

#[test]
fn header_fields_and_fields_not_select_by_name() {
    let raw = PLAIN.as_bytes();
    assert_eq!(
        sec(
            raw,
            Section::HeaderFields(None, fields(&["subject", "FROM", "X-Absent"]))
        )
        .as_deref(),
        Some(
            "From: Ann Example <ann@example.org>\r\nSubject: Quarterly report\r\n is ready\r\n\r\n"
        )
    );
    let not = sec(
        raw,
        Section::HeaderFieldsNot(
            None,
            fields(&[
                "Return-Path",
                "Received",
                "To",
                "Cc",
                "Subject",
                "Message-ID",
            ]),
        ),
    )
    .unwrap();
    assert_eq!(
        not,
        "Date: Tue, 5 Mar 2024 07:15:00 +0800\r\nFrom: Ann Example <ann@example.org>\r\n\
In-Reply-To: <prev@example.com>\r\nX-Priority: 1\r\n\r\n"
    );
    // No field matches: only the blank line.
    assert_eq!(
        sec(raw, Section::HeaderFields(None, fields(&["X-Nothing"]))).as_deref(),
        Some("\r\n")
    );
}

#[test]
fn multipart_sections_are_byte_exact() {
    let raw = ALTERNATIVE.as_bytes();
    assert_eq!(
        sec(raw, Section::Part(part(&[1]))).as_deref(),
        Some("Caf=C3=A9 news\r\nsecond line")
    );
    assert_eq!(
        sec(raw, Section::Mime(part(&[1]))).as_deref(),
        Some("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
    );
    assert_eq!(
        sec(raw, Section::Part(part(&[2]))).as_deref(),
        Some("<p>Caf&eacute; <b>specials</b></p>")
    );
    assert_eq!(sec(raw, Section::Part(part(&[3]))), None);
    // HEADER after a part number needs a message/rfc822 part.
    assert_eq!(sec(raw, Section::Header(Some(part(&[1])))), None);
    assert_eq!(sec(raw, Section::Text(Some(part(&[2])))), None);
}

#[test]
fn nested_message_sections_follow_rfc_numbering() {
    let raw = NESTED.as_bytes();
    let start = NESTED.find("From: Carol").unwrap();
    let inner_split = NESTED[start..].find("\r\n\r\n").unwrap() + start + 4;
    let end = NESTED.rfind("\r\n--outer--").unwrap();
    assert_eq!(
        sec(raw, Section::Part(part(&[2]))).as_deref(),
        Some(&NESTED[start..end])
    );
    assert_eq!(
        sec(raw, Section::Mime(part(&[2]))).as_deref(),
        Some("Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n")
    );
    assert_eq!(
        sec(raw, Section::Header(Some(part(&[2])))).as_deref(),
        Some(&NESTED[start..inner_split])
    );
    assert_eq!(
        sec(raw, Section::Text(Some(part(&[2])))).as_deref(),
        Some(&NESTED[inner_split..end])
    );
    assert_eq!(
        sec(
            raw,
            Section::HeaderFields(Some(part(&[2])), fields(&["Subject"]))
        )
        .as_deref(),
        Some("Subject: Lunch\r\n\r\n")
    );
    assert_eq!(
        sec(
            raw,
            Section::HeaderFieldsNot(
                Some(part(&[2])),
                fields(&[
                    "Subject",
                    "From",
                    "To",
                    "Date",
                    "Message-ID",
                    "MIME-Version"
                ])
            )
        )
        .as_deref(),
        Some("Content-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n")
    );
    assert_eq!(
        sec(raw, Section::Part(part(&[2, 1]))).as_deref(),
        Some("Pizza at noon?")
    );
    assert_eq!(
        sec(raw, Section::Part(part(&[2, 2]))).as_deref(),
        Some("<p>Pizza at noon?</p>")
    );
    assert_eq!(
        sec(raw, Section::Mime(part(&[2, 2]))).as_deref(),
        Some("Content-Type: text/html; charset=utf-8\r\n\r\n")
    );
    assert_eq!(sec(raw, Section::Part(part(&[2, 3]))), None);
    assert_eq!(
        sec(raw, Section::Part(part(&[1]))).as_deref(),
        Some("See the forwarded message.")
    );
    assert_eq!(sec(raw, Section::Part(part(&[1, 1]))), None);
    assert_eq!(sec(raw, Section::Header(Some(part(&[1])))), None);
}

#[test]
fn partials_cut_and_run_past_the_end() {
    let raw = PLAIN.as_bytes();
    let body = |start, len| section(raw, Some(&Section::Text(None)), Some((start, nz(len))));
    assert_eq!(body(0, 5).as_deref(), Some(&b"Hello"[..]));
    assert_eq!(body(6, 3).as_deref(), Some(&b"Bob"[..]));
    let len = PLAIN_BODY.len() as u32;
    assert_eq!(body(len - 2, 100).as_deref(), Some(&b"\r\n"[..]));
    assert_eq!(body(len, 10).as_deref(), Some(&b""[..]));
    assert_eq!(body(u32::MAX, u32::MAX).as_deref(), Some(&b""[..]));
    assert_eq!(
        section(raw, None, Some((0, nz(6)))).as_deref(),
        Some(&b"Return"[..])
    );
    assert_eq!(
        section(
            NESTED.as_bytes(),
            Some(&Section::Part(part(&[2, 1]))),
            Some((6, nz(2)))
        )
        .as_deref(),
        Some(&b"at"[..])
    );
}

#[test]
fn sections_parsed_from_a_fetch_command_resolve() {
    let line = b"a FETCH 1 (BODY.PEEK[2.1]<0.5> BODY[2.HEADER.FIELDS (SUBJECT)] BODY[1.MIME])\r\n";
    let (_, command) = CommandCodec::default().decode(line).unwrap();
    let CommandBody::Fetch {
        macro_or_item_names: MacroOrMessageDataItemNames::MessageDataItemNames(names),
        ..
    } = command.body
    else {
        panic!("{:?}", command.body);
    };
    let got: Vec<_> = names
        .iter()
        .map(|n| match n {
            MessageDataItemName::BodyExt {
                section: s,
                partial,
                ..
            } => String::from_utf8(section(NESTED.as_bytes(), s.as_ref(), *partial).unwrap())
                .unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        got,
        vec![
            "Pizza",
            "Subject: Lunch\r\n\r\n",
            "Content-Type: text/plain\r\n\r\n"
        ]
    );
}

#[test]
fn header_fetches_do_not_parse_the_body() {
    // A 16 MiB attachment: 100 header fetches must cost what the header costs.
    let mut raw = MIXED.replace("--mix--\r\n", "").into_bytes();
    raw.extend_from_slice(b"--mix\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2\r\n";
    while raw.len() < 16 << 20 {
        raw.extend_from_slice(line);
    }
    raw.extend_from_slice(b"--mix--\r\n");
    let names = fields(&["From", "Subject", "Date"]);
    let started = Instant::now();
    for _ in 0..100 {
        assert!(section(
            &raw,
            Some(&Section::HeaderFields(None, names.clone())),
            None
        )
        .is_some());
        assert!(section(&raw, Some(&Section::Header(None)), None).is_some());
        let _ = envelope(&raw);
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(2),
        "100 header fetches took {elapsed:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// SEARCH

/// 2024-03-05 12:00:00 UTC.
const MARCH_5_NOON: i64 = 1_709_640_000;

fn input<'a>(raw: Option<&'a [u8]>, flags: &'a [Flag], keywords: &'a [String]) -> SearchInput<'a> {
    SearchInput {
        uid: 42,
        seq: 7,
        flags,
        keywords,
        size: 1234,
        internal_date: MARCH_5_NOON,
        modseq: 9,
        raw,
    }
}

/// Asserts `yes` matches and `no` does not, on `m`.
fn both_ways(m: &SearchInput<'_>, yes: &SearchKey<'_>, no: &SearchKey<'_>) {
    assert!(matches(yes, m, 10, 50), "{yes:?} should match");
    assert!(!matches(no, m, 10, 50), "{no:?} should not match");
}

#[test]
fn flag_keys_match_both_ways() {
    let keywords = vec!["$Forwarded".to_string()];
    let m = input(None, &[Flag::Seen, Flag::Flagged], &keywords);
    both_ways(&m, &key("ALL"), &key("NOT ALL"));
    both_ways(&m, &key("SEEN"), &key("UNSEEN"));
    both_ways(&m, &key("FLAGGED"), &key("UNFLAGGED"));
    both_ways(&m, &key("UNANSWERED"), &key("ANSWERED"));
    both_ways(&m, &key("UNDRAFT"), &key("DRAFT"));
    both_ways(&m, &key("UNDELETED"), &key("DELETED"));
    let deleted = input(None, &[Flag::Deleted, Flag::Answered, Flag::Draft], &[]);
    both_ways(&deleted, &key("DELETED"), &key("UNDELETED"));
    both_ways(&deleted, &key("ANSWERED"), &key("UNANSWERED"));
    both_ways(&deleted, &key("DRAFT"), &key("UNDRAFT"));
    both_ways(&m, &key("KEYWORD $forwarded"), &key("KEYWORD $Junk"));
    both_ways(&m, &key("UNKEYWORD $Junk"), &key("UNKEYWORD $Forwarded"));
    // No \Recent is kept.
    both_ways(&m, &key("OLD"), &key("NEW"));
    both_ways(&m, &key("NOT RECENT"), &key("RECENT"));
}

#[test]
fn size_date_and_set_keys_match_both_ways() {
    let m = input(None, &[], &[]);
    both_ways(&m, &key("LARGER 1233"), &key("LARGER 1234"));
    both_ways(&m, &key("SMALLER 1235"), &key("SMALLER 1234"));
    both_ways(&m, &key("BEFORE 6-Mar-2024"), &key("BEFORE 5-Mar-2024"));
    both_ways(&m, &key("ON 5-Mar-2024"), &key("ON 4-Mar-2024"));
    both_ways(&m, &key("SINCE 5-Mar-2024"), &key("SINCE 6-Mar-2024"));
    both_ways(&m, &key("UID 40:45"), &key("UID 1:41"));
    both_ways(&m, &key("UID 50:40"), &key("UID 43:*"));
    both_ways(&m, &key("7"), &key("1:6,8"));
    both_ways(&m, &key("5:*"), &key("*"));
    let last = SearchInput {
        seq: 10,
        uid: 50,
        ..m
    };
    both_ways(&last, &key("*"), &key("1:9"));
    both_ways(&last, &key("UID *"), &key("UID 1:49"));
}

#[test]
fn boolean_keys_combine() {
    let m = input(None, &[Flag::Seen], &[]);
    both_ways(&m, &key("OR DRAFT SEEN"), &key("OR DRAFT DELETED"));
    both_ways(&m, &key("SEEN UNDRAFT"), &key("SEEN DRAFT"));
    both_ways(&m, &key("(SEEN (UNFLAGGED))"), &key("NOT (SEEN UNFLAGGED)"));
    both_ways(&m, &key("NOT NOT SEEN"), &key("NOT OR SEEN DRAFT"));
}

#[test]
fn header_keys_match_decoded_text_without_regard_to_case() {
    let m = input(Some(PLAIN.as_bytes()), &[], &[]);
    both_ways(&m, &key("FROM ann@"), &key("FROM bob"));
    both_ways(&m, &key("FROM \"ann example\""), &key("FROM carol"));
    both_ways(&m, &key("TO carol"), &key("TO ann"));
    both_ways(&m, &key("CC DAVE"), &key("CC carol"));
    both_ways(&m, &key("SUBJECT \"REPORT IS\""), &key("SUBJECT missing"));
    both_ways(&m, &key("HEADER X-Priority 1"), &key("HEADER X-Priority 2"));
    both_ways(
        &m,
        &key("HEADER x-priority \"\""),
        &key("HEADER X-Absent \"\""),
    );
    both_ways(
        &m,
        &key("HEADER Message-ID 20240305.1"),
        &key("HEADER Message-ID other"),
    );
    let bcc = input(
        Some(b"From: a@example.org\r\nBcc: secret@example.org\r\n\r\nx"),
        &[],
        &[],
    );
    both_ways(&bcc, &key("BCC secret"), &key("BCC public"));
    both_ways(&m, &key("NOT BCC x"), &key("BCC x"));
}

#[test]
fn sent_date_keys_use_the_date_field_as_written() {
    // Date: Tue, 5 Mar 2024 07:15:00 +0800 (4 March in UTC): the written day counts.
    let m = input(Some(PLAIN.as_bytes()), &[], &[]);
    both_ways(&m, &key("SENTON 5-Mar-2024"), &key("SENTON 4-Mar-2024"));
    both_ways(
        &m,
        &key("SENTBEFORE 6-Mar-2024"),
        &key("SENTBEFORE 5-Mar-2024"),
    );
    both_ways(
        &m,
        &key("SENTSINCE 5-Mar-2024"),
        &key("SENTSINCE 6-Mar-2024"),
    );
    let undated = input(Some(b"Subject: x\r\n\r\nbody"), &[], &[]);
    both_ways(
        &undated,
        &key("NOT SENTBEFORE 1-Jan-2100"),
        &key("SENTBEFORE 1-Jan-2100"),
    );
}

#[test]
fn body_and_text_keys_search_decoded_content() {
    let m = input(Some(PLAIN.as_bytes()), &[], &[]);
    both_ways(&m, &key("BODY \"WIKI page\""), &key("BODY Quarterly"));
    both_ways(&m, &key("TEXT Quarterly"), &key("TEXT nowhere"));
    both_ways(&m, &key("TEXT wiki"), &key("TEXT \"wiki pages\""));
    // Quoted-printable and HTML decoded; nested messages searched.
    let alt = input(Some(ALTERNATIVE.as_bytes()), &[], &[]);
    both_ways(
        &alt,
        &SearchKey::Body(astr("café news")),
        &SearchKey::Body(astr("C3=A9")),
    );
    both_ways(&alt, &key("BODY specials"), &key("BODY \"<b>\""));
    let nested = input(Some(NESTED.as_bytes()), &[], &[]);
    both_ways(&nested, &key("BODY pizza"), &key("BODY pasta"));
    both_ways(&nested, &key("BODY carol"), &key("FROM carol"));
}

#[test]
fn chinese_text_matches_after_charset_decoding() {
    let m = input(Some(CHINESE.as_bytes()), &[], &[]);
    both_ways(
        &m,
        &SearchKey::Subject(astr("一起吃午饭")),
        &SearchKey::Subject(astr("晚饭")),
    );
    both_ways(
        &m,
        &SearchKey::From(astr("张伟")),
        &SearchKey::From(astr("李娜")),
    );
    both_ways(
        &m,
        &SearchKey::To(astr("李娜")),
        &SearchKey::To(astr("张伟")),
    );
    both_ways(
        &m,
        &SearchKey::Body(astr("准时参加")),
        &SearchKey::Body(astr("您好")),
    );
    both_ways(
        &m,
        &SearchKey::Text(astr("您好")),
        &SearchKey::Text(astr("再见")),
    );
}

#[test]
fn content_keys_are_announced_and_need_the_bytes() {
    for criteria in [
        "FROM a",
        "SUBJECT a",
        "BODY a",
        "TEXT a",
        "HEADER X a",
        "SENTON 1-Jan-2024",
        "OR SEEN (NOT CC a)",
    ] {
        assert!(needs_content(&key(criteria)), "{criteria}");
    }
    for criteria in [
        "ALL",
        "SEEN",
        "UID 1:*",
        "1:5",
        "LARGER 10",
        "SINCE 1-Jan-2024",
        "OR SEEN NOT KEYWORD x",
    ] {
        assert!(!needs_content(&key(criteria)), "{criteria}");
    }
    // Without the bytes, a content key cannot match.
    let m = input(None, &[], &[]);
    assert!(!matches(&key("SUBJECT a"), &m, 10, 50));
    assert!(!matches(&key("BODY a"), &m, 10, 50));
}

#[test]
fn garbage_never_matches_text_and_never_panics() {
    let m = input(Some(GARBAGE), &[], &[]);
    assert!(matches(&key("TEXT garbage"), &m, 10, 50));
    assert!(!matches(&key("FROM garbage"), &m, 10, 50));
    assert!(!matches(&key("SENTON 1-Jan-2024"), &m, 10, 50));
}

// ---------------------------------------------------------------------------------------------
// Real corpora (skipped when not unpacked into target/corpora)

/// rspamd's MIME edge cases, and the first 60 messages of each folder of every indexed corpus
/// (all of them with `RAMPART_FULL_CORPORA=1`).
fn corpus_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/corpora");
    let per_folder = if std::env::var_os("RAMPART_FULL_CORPORA").is_some() {
        usize::MAX
    } else {
        60
    };
    let mut files = Vec::new();
    if let Ok(dir) = std::fs::read_dir(root.join("rspamd-fixtures/messages")) {
        files.extend(dir.flatten().map(|e| e.path()).filter(|p| p.is_file()));
    }
    for corpus in [
        "spamassassin",
        "enron-spam",
        "csdmc2010",
        "nazario-phishing",
    ] {
        let Ok(index) = std::fs::read_to_string(root.join(corpus).join("index")) else {
            continue;
        };
        let mut taken = std::collections::HashMap::<&str, usize>::new();
        for line in index.lines() {
            let Some(path) = line.split_whitespace().nth(1) else {
                continue;
            };
            let n = taken
                .entry(path.split('/').next().unwrap_or_default())
                .or_default();
            if *n < per_folder {
                *n += 1;
                files.push(root.join(corpus).join(path));
            }
        }
    }
    files
}

#[test]
fn real_messages_render_consistently_and_serialise() {
    let files = corpus_files();
    if files.is_empty() {
        eprintln!("no corpora under target/corpora; skipped");
        return;
    }
    eprintln!("{} corpus messages", files.len());
    for path in &files {
        let Ok(raw) = std::fs::read(path) else {
            continue;
        };
        let bs = body_structure(&raw, true);
        check_part_sizes(&raw, &bs, vec![]);
        let env: Envelope<'static> = envelope(&raw);
        let response = Response::Data(Data::Fetch {
            seq: nz(1),
            items: NonEmptyVec::try_from(vec![
                MessageDataItem::Envelope(env),
                MessageDataItem::BodyStructure(bs),
            ])
            .unwrap(),
        });
        let bytes = ResponseCodec::default().encode(&response).dump();
        assert!(
            ResponseCodec::default().decode(&bytes).is_ok(),
            "{} does not round-trip",
            path.display()
        );
        let split = section(&raw, Some(&Section::Header(None)), None)
            .unwrap()
            .len();
        assert_eq!(
            split
                + section(&raw, Some(&Section::Text(None)), None)
                    .unwrap()
                    .len(),
            raw.len()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Mailbox names

#[test]
fn mailbox_names_in_common_clients_languages() {
    for (utf8, utf7) in [
        ("INBOX", "INBOX"),
        ("Gesendete Objekte", "Gesendete Objekte"),
        ("Entwürfe", "Entw&APw-rfe"),
        ("已发送", "&XfJT0ZAB-"),
        ("Входящие", "&BBIERQQ+BDQETwRJBDgENQ-"),
        ("R&D/Q1", "R&-D/Q1"),
    ] {
        assert_eq!(encode_mailbox_name(utf8), utf7);
        assert_eq!(decode_mailbox_name(utf7).as_deref(), Ok(utf8));
    }
}

// ---------------------------------------------------------------------------------------------
// Properties

fn sections() -> Vec<Section<'static>> {
    vec![
        Section::Header(None),
        Section::Text(None),
        Section::HeaderFields(None, fields(&["Subject", "From"])),
        Section::HeaderFieldsNot(None, fields(&["Subject"])),
        Section::Part(part(&[1])),
        Section::Part(part(&[2])),
        Section::Part(part(&[1, 1])),
        Section::Part(part(&[2, 1, 1])),
        Section::Mime(part(&[1])),
        Section::Mime(part(&[2, 2])),
        Section::Header(Some(part(&[2]))),
        Section::Text(Some(part(&[1]))),
    ]
}

/// Messages that look like mail: fixture fragments spliced with arbitrary bytes.
fn mail_like() -> impl Strategy<Value = Vec<u8>> {
    let fixtures: Vec<Vec<u8>> = vec![
        PLAIN.into(),
        ALTERNATIVE.into(),
        MIXED.into(),
        NESTED.into(),
        CHINESE.into(),
        NO_BOUNDARY.into(),
        encoded_rfc822(),
    ];
    (
        proptest::sample::select(fixtures),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(fixture, cut, cut_len, noise)| {
            let at = cut.index(fixture.len());
            let len = cut_len.index(fixture.len() - at + 1);
            let mut out = fixture[..at].to_vec();
            out.extend_from_slice(&noise);
            out.extend_from_slice(&fixture[at + len..]);
            out
        })
}

fn assert_total(raw: &[u8]) {
    let _ = envelope(raw);
    let bs = body_structure(raw, true);
    check_part_sizes(raw, &bs, vec![]);
    let _ = body_structure(raw, false);
    for s in sections() {
        let _ = section(raw, Some(&s), Some((3, nz(17))));
    }
    let m = input(Some(raw), &[], &[]);
    for criteria in [
        "TEXT a",
        "BODY b",
        "FROM c",
        "HEADER Subject d",
        "SENTSINCE 1-Jan-2000",
    ] {
        let _ = matches(&key(criteria), &m, 10, 50);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_bytes_make_a_renderer_panic(raw in prop::collection::vec(any::<u8>(), 0..512)) {
        assert_total(&raw);
    }

    #[test]
    fn no_mangled_message_makes_a_renderer_panic(raw in mail_like()) {
        assert_total(&raw);
        encode_all(&raw);
    }

    #[test]
    fn mailbox_names_round_trip(name in any::<String>()) {
        let encoded = encode_mailbox_name(&name);
        prop_assert!(encoded.bytes().all(|b| (0x20..=0x7e).contains(&b)));
        prop_assert_eq!(decode_mailbox_name(&encoded), Ok(name));
    }

    #[test]
    fn decoding_any_name_is_total_and_canonical(name in "[ -~&]{0,40}|[A-Za-z0-9+,&-]{0,40}") {
        if let Ok(decoded) = decode_mailbox_name(&name) {
            prop_assert_eq!(encode_mailbox_name(&decoded), name);
        }
    }

    #[test]
    fn decoding_arbitrary_strings_never_panics(name in any::<String>()) {
        let _ = decode_mailbox_name(&name);
    }
}
