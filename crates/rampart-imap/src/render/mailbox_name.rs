//! Mailbox names in modified UTF-7 (RFC 3501 §5.1.3), the form IMAP4rev1 clients use; the
//! store keeps UTF-8 (IMAP4rev2 and `UTF8=ACCEPT` clients use that directly).
//!
//! Printable US-ASCII stands for itself, except `&`, written `&-`; any other run of characters
//! is `&`, their UTF-16 in base64 with `,` for `/` and no padding, then `-`.

use base64::alphabet::Alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

/// A mailbox name that is not modified UTF-7 in canonical form. `at` is the byte offset of the
/// offending byte or of the `&` that opens the offending run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailboxNameError {
    #[error("byte {at}: modified UTF-7 is printable US-ASCII only")]
    NotPrintableAscii { at: usize },
    #[error("byte {at}: `&` without its closing `-`")]
    Unterminated { at: usize },
    #[error("byte {at}: not modified base64 of UTF-16")]
    InvalidEncoding { at: usize },
    /// Printable ASCII encoded, or two encoded runs in a row: another spelling of a name that
    /// has a canonical one, refused so that one mailbox has one IMAP name.
    #[error("byte {at}: not the canonical spelling")]
    NotCanonical { at: usize },
}

const MODIFIED_BASE64: GeneralPurpose = GeneralPurpose::new(
    &match Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,") {
        Ok(alphabet) => alphabet,
        Err(_) => panic!("the modified base64 alphabet is valid"),
    },
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

fn is_printable_ascii(c: char) -> bool {
    (' '..='~').contains(&c)
}

/// `name` (UTF-8, as stored) in modified UTF-7. Total: every string has exactly one encoding.
///
/// ```
/// use rampart_imap::render::encode_mailbox_name;
/// assert_eq!(encode_mailbox_name("Entwürfe"), "Entw&APw-rfe");
/// assert_eq!(encode_mailbox_name("台北"), "&U,BTFw-");
/// assert_eq!(encode_mailbox_name("R&D"), "R&-D");
/// ```
pub fn encode_mailbox_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    let mut run: Vec<u8> = Vec::new();
    let flush = |run: &mut Vec<u8>, out: &mut String| {
        if !run.is_empty() {
            out.push('&');
            out.push_str(&MODIFIED_BASE64.encode(&run));
            out.push('-');
            run.clear();
        }
    };
    for c in name.chars() {
        if is_printable_ascii(c) {
            flush(&mut run, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                run.extend_from_slice(&unit.to_be_bytes());
            }
        }
    }
    flush(&mut run, &mut out);
    out
}

/// `name` from modified UTF-7 to UTF-8; only the canonical spelling is accepted (what
/// [`encode_mailbox_name`] produces), so the mapping is one-to-one both ways.
///
/// ```
/// use rampart_imap::render::decode_mailbox_name;
/// assert_eq!(decode_mailbox_name("Entw&APw-rfe").unwrap(), "Entwürfe");
/// assert!(decode_mailbox_name("&U,BTFw").is_err()); // no closing `-`
/// ```
pub fn decode_mailbox_name(name: &str) -> Result<String, MailboxNameError> {
    let bytes = name.as_bytes();
    let mut out = String::with_capacity(name.len());
    let mut at = 0;
    let mut after_run = false;
    while let Some(&b) = bytes.get(at) {
        if !is_printable_ascii(char::from(b)) {
            return Err(MailboxNameError::NotPrintableAscii { at });
        }
        if b != b'&' {
            out.push(char::from(b));
            at += 1;
            after_run = false;
            continue;
        }
        let close = bytes[at + 1..]
            .iter()
            .position(|&c| c == b'-')
            .map(|p| at + 1 + p)
            .ok_or(MailboxNameError::Unterminated { at })?;
        // All bytes so far are ASCII, so these are char boundaries.
        let encoded = &name[at + 1..close];
        if encoded.is_empty() {
            out.push('&');
            after_run = false;
        } else {
            if after_run {
                return Err(MailboxNameError::NotCanonical { at });
            }
            decode_run(encoded, at, &mut out)?;
            after_run = true;
        }
        at = close + 1;
    }
    Ok(out)
}

/// One `&...-` run (without the delimiters) onto `out`.
fn decode_run(encoded: &str, at: usize, out: &mut String) -> Result<(), MailboxNameError> {
    let invalid = MailboxNameError::InvalidEncoding { at };
    let utf16 = MODIFIED_BASE64
        .decode(encoded)
        .map_err(|_| invalid.clone())?;
    if utf16.len() % 2 != 0 {
        return Err(invalid);
    }
    let units = utf16
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
    for c in char::decode_utf16(units) {
        let c = c.map_err(|_| invalid.clone())?;
        if is_printable_ascii(c) {
            return Err(MailboxNameError::NotCanonical { at });
        }
        out.push(c);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_rfc_example() {
        // RFC 3501 §5.1.3: "~peter/mail/台北/日本語".
        assert_eq!(
            encode_mailbox_name("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(
            decode_mailbox_name("~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap(),
            "~peter/mail/台北/日本語"
        );
    }

    #[test]
    fn ampersand_and_control_characters() {
        assert_eq!(encode_mailbox_name("a&b"), "a&-b");
        assert_eq!(decode_mailbox_name("a&-b").unwrap(), "a&b");
        assert_eq!(encode_mailbox_name("tab\there"), "tab&AAk-here");
        assert_eq!(decode_mailbox_name("tab&AAk-here").unwrap(), "tab\there");
    }

    #[test]
    fn astral_characters_use_surrogate_pairs() {
        let name = "📬 Inbox";
        assert_eq!(
            decode_mailbox_name(&encode_mailbox_name(name)).unwrap(),
            name
        );
    }

    #[test]
    fn refuses_non_canonical_and_broken_spellings() {
        use MailboxNameError::*;
        // "A" encoded.
        assert_eq!(decode_mailbox_name("&AEE-"), Err(NotCanonical { at: 0 }));
        // Two runs in a row.
        assert_eq!(
            decode_mailbox_name("&U,A-&U,A-"),
            Err(NotCanonical { at: 5 })
        );
        // Padding, trailing bits, odd byte count, lone surrogate.
        assert!(matches!(
            decode_mailbox_name("&U,BTFw=-"),
            Err(InvalidEncoding { .. })
        ));
        assert!(matches!(
            decode_mailbox_name("&U,BTFx-"),
            Err(InvalidEncoding { .. })
        ));
        assert!(matches!(
            decode_mailbox_name("&AAkA-"),
            Err(InvalidEncoding { .. })
        ));
        assert!(matches!(
            decode_mailbox_name("&2D0-"),
            Err(InvalidEncoding { .. })
        ));
        assert_eq!(decode_mailbox_name("&U,BTFw"), Err(Unterminated { at: 0 }));
        assert_eq!(
            decode_mailbox_name("Entwürfe"),
            Err(NotPrintableAscii { at: 4 })
        );
        assert_eq!(
            decode_mailbox_name("a\tb"),
            Err(NotPrintableAscii { at: 1 })
        );
    }
}
