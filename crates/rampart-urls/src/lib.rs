//! Rampart's link engine: find every link in a message's text and HTML, then judge each one.
//!
//! The model has two steps, both pure functions over strings (no I/O, no network, nothing is ever
//! fetched):
//!
//! 1. **Extraction.** [`links_in_text`] finds links in plain text (`http(s)://`, `www.`, bare
//!    domains with a path, defanged `hxxp://evil[.]com`); [`scan_html`] runs a small streaming
//!    HTML tokenizer that decodes character references, honours `<base href>`, pairs each `<a>`
//!    with its anchor text and also reports the visible text, forms and password fields. Each
//!    [`Link`] carries its absolute, normalised URL (WHATWG parsing, as a browser would see it),
//!    its host and how it was written, so that disguises survive normalisation.
//! 2. **Judgement.** [`judge`] turns links into [`Finding`]s (`url.lookalike`, `url.ip_literal`,
//!    `url.blocklisted`, ...) under a [`UrlPolicy`]: the organisation's own domains, the brands
//!    worth protecting and an optional hot-reloadable [`Blocklist`]. One finding per name, with the
//!    highest score seen and up to five pieces of evidence.
//!
//! **Architecture invariant:** this crate knows nothing of mail. The scan pipeline hands it decoded
//! text and HTML parts; what happens to a message is the policy's decision, not this crate's.
//!
//! ```
//! use rampart_urls::{judge, scan_html, UrlPolicy};
//!
//! let html = r#"<p>Your account is locked.
//!   <a href="http://paypal.com.account-check.test/login">https://www.paypal.com/signin</a></p>"#;
//! let scan = scan_html(html);
//! assert_eq!(scan.links[0].host, "paypal.com.account-check.test");
//!
//! let findings = judge(&scan.links, &UrlPolicy::default());
//! let names: Vec<&str> = findings.iter().map(|f| f.name.as_str()).collect();
//! assert!(names.contains(&"url.text_href_mismatch"));
//! assert!(names.contains(&"url.lookalike"));
//! ```
//!
//! HTML is tokenized by hand (memchr over `<` and `&`, the tokenizer states of the HTML standard
//! that matter for links: tags, quoted attributes, comments, raw-text elements) rather than with
//! `lol_html` or `html5ever`: we need links, anchor text and visible text, not a DOM or a
//! rewritten document; `lol_html` hands out text and attribute values with entities still encoded
//! and runs a selector engine per element, and `html5ever` builds a tree. The hand-written pass
//! does a 10 KB newsletter in a few microseconds and has no dependency.

use std::fmt;

pub use rampart_model::Finding;

mod blocklist;
mod domain;
mod entities;
mod entity_table;
mod html;
mod judge;
mod link;
mod policy;
mod text;

pub use blocklist::{BlockMatch, Blocklist, BlocklistError, BlocklistSet, BlocklistStats};
pub use html::{scan_html, HtmlScan, MAX_VISIBLE_TEXT};
pub use judge::judge;
pub use policy::{UrlPolicy, DEFAULT_BRANDS};
pub use text::links_in_text;

/// One link found in a message part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Absolute and normalised (WHATWG URL serialisation: lower-case host, IDN as punycode,
    /// numeric IPv4 forms as dotted quads, default port dropped). For `javascript:` and `data:`
    /// links, the first bytes of the link as written.
    pub url: String,
    /// Lower-case ASCII host (`xn--` for IDN, `[::1]` for IPv6); empty for `javascript:`/`data:`.
    pub host: String,
    /// The anchor text a reader sees for this link (HTML `<a>` only), whitespace collapsed.
    pub shown_text: Option<String>,
    pub source: LinkSource,
    /// The link as written (after HTML character references are decoded), bounded. It keeps what
    /// normalisation erases: `hxxp://`, `[.]`, `%70aypal.com`, `http://3232235777/`.
    pub written: String,
}

/// Where a link was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkSource {
    /// A URL written in text (a plain-text part, or text in HTML outside any link).
    Text,
    /// A clickable link: `<a href>`, `<area href>`, a VML button's `href`.
    Href,
    /// A resource the client may load by itself: `<img src>`, `background`, `<iframe src>`, ...
    Src,
    /// Where a form submits: `<form action>`, `formaction`.
    FormAction,
    /// `<meta http-equiv="refresh" content="0; url=...">`.
    MetaRefresh,
}

impl LinkSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkSource::Text => "text",
            LinkSource::Href => "href",
            LinkSource::Src => "src",
            LinkSource::FormAction => "form-action",
            LinkSource::MetaRefresh => "meta-refresh",
        }
    }

    /// Whether a reader follows this link by clicking (or the page follows it by itself), as
    /// opposed to a resource fetched for display.
    pub fn is_navigation(self) -> bool {
        !matches!(self, LinkSource::Src)
    }
}

impl fmt::Display for LinkSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
