//! `BODY` and `BODYSTRUCTURE` (RFC 3501 §7.4.2, RFC 9051 §7.5.2).

use imap_codec::imap_types::body::{
    BasicFields, Body, BodyStructure, Disposition, Language, Location, MultiPartExtensionData,
    SinglePartExtensionData, SpecificFields,
};
use imap_codec::imap_types::core::{IString, NonEmptyVec};
use mail_parser::{Attribute, Header, HeaderName, HeaderValue};

use super::envelope::{envelope, envelope_of};
use super::mime::{field, Entity, Kind};
use super::value::{encode_words, istring, nstring, number, raw_value};
use super::MimeMessage;

/// The `BODYSTRUCTURE` (`extensible`) or `BODY` (not) of a message.
///
/// Types, subtypes and parameter names are lower case; parameter values mail-parser decoded
/// (RFC 2231, encoded words) go out as UTF-8 encoded words when they are not ASCII. Sizes are
/// octets of the body as stored (still transfer-encoded), lines are counted for `text/*` and
/// `message/rfc822` (a last line without a line break counts). With `extensible`, every part
/// carries its extension data up to the location: MD5, disposition, language, location
/// (multiparts: their parameters, boundary included, then the same).
///
/// What mail-parser cannot make sense of degrades instead of failing: a message it cannot parse
/// (or panics on) is one `text/plain` part; a multipart without a usable boundary is
/// `text/plain`; an encapsulated message it could not read is still `message/rfc822`, with the
/// envelope and a single text part of what its bytes hold; nesting beyond
/// [`MAX_DEPTH`](super::MAX_DEPTH) ends in `application/octet-stream` leaves. A base64 or
/// quoted-printable `message/rfc822` (RFC 2046 forbids both) is parsed as it stands, not
/// decoded. `message/global` is reported as `MESSAGE/RFC822` (imap-codec 1.0 spells no other).
pub fn body_structure(raw: &[u8], extensible: bool) -> BodyStructure<'static> {
    MimeMessage::new(raw).body_structure(extensible)
}

pub(crate) fn structure(entity: &Entity<'_>, extensible: bool) -> BodyStructure<'static> {
    if let Kind::Multipart(children) = &entity.kind {
        let bodies: Vec<_> = children.iter().map(|c| structure(c, extensible)).collect();
        if let Ok(bodies) = NonEmptyVec::try_from(bodies) {
            let ct = entity.content_type();
            let subtype = ct
                .and_then(|ct| ct.c_subtype.as_deref())
                .map_or_else(|| "mixed".to_string(), str::to_ascii_lowercase);
            let extension_data = extensible.then(|| MultiPartExtensionData {
                parameter_list: parameters(ct.and_then(|ct| ct.attributes.as_deref())),
                tail: Some(disposition(entity)),
            });
            return BodyStructure::Multi {
                bodies,
                subtype: istring(subtype),
                extension_data,
            };
        }
    }
    single(entity, extensible)
}

fn single(entity: &Entity<'_>, extensible: bool) -> BodyStructure<'static> {
    let media = Media::of(entity);
    let body_bytes = entity.body_bytes();
    let basic = BasicFields {
        parameter_list: media.parameters,
        id: raw_field(entity, HeaderName::ContentId),
        description: raw_field(entity, HeaderName::ContentDescription),
        content_transfer_encoding: istring(transfer_encoding(entity)),
        size: number(body_bytes.len()),
    };
    let specific = match &entity.kind {
        Kind::Message(inner) => SpecificFields::Message {
            envelope: Box::new(if inner.fields.is_empty() {
                envelope(inner.header_bytes())
            } else {
                envelope_of(inner.fields, inner.buf)
            }),
            body_structure: Box::new(structure(inner, extensible)),
            number_of_lines: lines(body_bytes),
        },
        _ if media.r#type == "text" => SpecificFields::Text {
            subtype: istring(media.subtype),
            number_of_lines: lines(body_bytes),
        },
        _ => SpecificFields::Basic {
            r#type: istring(media.r#type),
            subtype: istring(media.subtype),
        },
    };
    BodyStructure::Single {
        body: Body { basic, specific },
        extension_data: extensible.then(|| SinglePartExtensionData {
            md5: raw_field(entity, HeaderName::ContentMd5),
            tail: Some(disposition(entity)),
        }),
    }
}

/// The media type a leaf or message entity is rendered with.
struct Media {
    r#type: String,
    subtype: String,
    parameters: Vec<(IString<'static>, IString<'static>)>,
}

impl Media {
    fn of(entity: &Entity<'_>) -> Media {
        let us_ascii = || vec![(istring("charset"), istring("us-ascii"))];
        let plain = |parameters| Media {
            r#type: "text".into(),
            subtype: "plain".into(),
            parameters,
        };
        if let Kind::Message(_) = entity.kind {
            // imap-codec writes MESSAGE/RFC822 itself; only the parameters are ours.
            return Media {
                r#type: "message".into(),
                subtype: "rfc822".into(),
                parameters: parameters(
                    entity
                        .content_type()
                        .and_then(|ct| ct.attributes.as_deref()),
                ),
            };
        }
        let Some(ct) = entity.content_type() else {
            // RFC 2045 §5.2: no Content-Type means text/plain; charset=us-ascii.
            return plain(us_ascii());
        };
        let r#type = ct.c_type.trim().to_ascii_lowercase();
        let Some(subtype) = ct
            .c_subtype
            .as_deref()
            .map(|s| s.trim().to_ascii_lowercase())
        else {
            // RFC 2045 §5.2: a type without a subtype is invalid, hence text/plain.
            return plain(us_ascii());
        };
        let parameters = parameters(ct.attributes.as_deref());
        match (r#type.as_str(), subtype.as_str()) {
            // A leaf that says multipart had no boundary mail-parser could find.
            ("multipart", _) => plain(us_ascii()),
            // An encapsulated message below the depth cap, not rendered as one.
            ("message", "rfc822" | "global") => Media {
                r#type: "application".into(),
                subtype: "octet-stream".into(),
                parameters: Vec::new(),
            },
            _ => Media {
                r#type,
                subtype,
                parameters,
            },
        }
    }
}

fn parameters(attributes: Option<&[Attribute<'_>]>) -> Vec<(IString<'static>, IString<'static>)> {
    attributes
        .unwrap_or_default()
        .iter()
        .map(|a| {
            (
                istring(a.name.trim().to_ascii_lowercase()),
                istring(encode_words(&a.value)),
            )
        })
        .collect()
}

/// The raw value of the entity's first field called `name`, `NIL` when absent.
fn raw_field(
    entity: &Entity<'_>,
    name: HeaderName<'static>,
) -> imap_codec::imap_types::core::NString<'static> {
    nstring(field(entity.fields, &name).map(|h| raw_value(entity.buf, h)))
}

/// `Content-Transfer-Encoding` upper-cased, `7BIT` when absent (RFC 2045 §6.1).
fn transfer_encoding(entity: &Entity<'_>) -> Vec<u8> {
    match field(entity.fields, &HeaderName::ContentTransferEncoding) {
        Some(h) => {
            let value = raw_value(entity.buf, h).to_ascii_uppercase();
            if value.is_empty() {
                b"7BIT".to_vec()
            } else {
                value
            }
        }
        None => b"7BIT".to_vec(),
    }
}

/// Disposition, language and location: the extension data after MD5 (or the multipart
/// parameters), always spelled out to the location.
fn disposition(entity: &Entity<'_>) -> Disposition<'static> {
    let disposition = field(entity.fields, &HeaderName::ContentDisposition)
        .and_then(|h| h.value.as_content_type())
        .map(|cd| {
            (
                istring(cd.c_type.trim().to_ascii_lowercase()),
                parameters(cd.attributes.as_deref()),
            )
        });
    Disposition {
        disposition,
        tail: Some(Language {
            language: languages(entity.fields),
            tail: Some(Location {
                location: raw_field(entity, HeaderName::ContentLocation),
                extensions: Vec::new(),
            }),
        }),
    }
}

fn languages(fields: &[Header<'_>]) -> Vec<IString<'static>> {
    match field(fields, &HeaderName::ContentLanguage).map(|h| &h.value) {
        Some(HeaderValue::Text(tag)) => vec![istring(tag.trim())],
        Some(HeaderValue::TextList(tags)) => tags.iter().map(|t| istring(t.trim())).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|tag| !tag.as_ref().is_empty())
    .collect()
}

/// Lines of a body: line breaks, plus a last line that has none.
fn lines(body: &[u8]) -> u32 {
    let breaks = body.iter().filter(|&&b| b == b'\n').count();
    let unterminated = usize::from(body.last().is_some_and(|&b| b != b'\n'));
    number(breaks + unterminated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_an_unterminated_last_line() {
        assert_eq!(lines(b""), 0);
        assert_eq!(lines(b"a"), 1);
        assert_eq!(lines(b"a\r\n"), 1);
        assert_eq!(lines(b"a\r\nb"), 2);
        assert_eq!(lines(b"\r\n\r\n"), 2);
    }
}
