//! One message's bytes, MIME-parsed at most once for all the FETCH items that need it.

use std::cell::OnceCell;
use std::num::NonZeroU32;

use imap_codec::imap_types::body::BodyStructure;
use imap_codec::imap_types::envelope::Envelope;
use imap_codec::imap_types::fetch::Section;
use mail_parser::Message;

use super::envelope::{envelope, envelope_of};
use super::mime::{parse_guarded, tree, Parsed};
use super::section::{cut, numbered_section, unnumbered_section};
use super::structure::structure;

/// A message's raw bytes, parsed lazily: the session builds one per message of a FETCH, so
/// that `BODYSTRUCTURE BODY[1] BODY[2.MIME]` parse the MIME structure once, and a FETCH of
/// headers only never parses it at all. The free functions ([`body_structure`],
/// [`section`], [`envelope`]) are this type used once.
///
/// [`body_structure`]: super::body_structure
/// [`section`]: super::section
///
/// ```
/// use rampart_imap::render::MimeMessage;
///
/// let raw = b"Subject: hi\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
/// --b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\n";
/// let message = MimeMessage::new(raw);
/// let _structure = message.body_structure(true); // parses
/// let part2 = imap_codec::imap_types::fetch::Section::Part(
///     imap_codec::imap_types::fetch::Part(std::num::NonZeroU32::new(2).unwrap().into()),
/// );
/// // Reuses the parse:
/// assert_eq!(message.section(Some(&part2), None).as_deref(), Some(&b"two"[..]));
/// ```
pub struct MimeMessage<'r> {
    raw: &'r [u8],
    parsed: OnceCell<Option<Parsed<'r>>>,
}

/// By hand: a derived `Debug` would recurse through every encapsulated message.
impl std::fmt::Debug for MimeMessage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MimeMessage")
            .field("size", &self.raw.len())
            .field("parsed", &self.parsed.get().map(Option::is_some))
            .finish()
    }
}

impl<'r> MimeMessage<'r> {
    pub fn new(raw: &'r [u8]) -> Self {
        MimeMessage {
            raw,
            parsed: OnceCell::new(),
        }
    }

    /// The message's bytes.
    pub(crate) fn raw(&self) -> &'r [u8] {
        self.raw
    }

    /// The full parse (`None`: mail-parser failed or panicked; rendered as one text part).
    pub(crate) fn parsed(&self) -> Option<&Message<'r>> {
        self.parsed
            .get_or_init(|| parse_guarded(self.raw, false))
            .as_deref()
    }

    /// See [`envelope`](super::envelope); reuses the full parse when there already is one.
    pub fn envelope(&self) -> Envelope<'static> {
        match self.parsed.get().and_then(Option::as_deref) {
            Some(msg) => match msg.parts.first() {
                Some(root) => envelope_of(&root.headers, &msg.raw_message),
                None => envelope(self.raw),
            },
            None => envelope(self.raw),
        }
    }

    /// See [`body_structure`](super::body_structure).
    pub fn body_structure(&self, extensible: bool) -> BodyStructure<'static> {
        structure(&tree(self.raw, self.parsed()), extensible)
    }

    /// See [`section`](super::section).
    pub fn section(
        &self,
        section: Option<&Section<'_>>,
        partial: Option<(u32, NonZeroU32)>,
    ) -> Option<Vec<u8>> {
        if let Some(bytes) = unnumbered_section(self.raw, section) {
            return Some(cut(&bytes, partial).to_vec());
        }
        let root = tree(self.raw, self.parsed());
        let bytes = numbered_section(&root, section?)?;
        Some(cut(&bytes, partial).to_vec())
    }

    /// `RFC822.SIZE`: the message's octets as stored (saturating at `u32::MAX`).
    pub fn size(&self) -> u32 {
        super::rfc822_size(self.raw)
    }
}
