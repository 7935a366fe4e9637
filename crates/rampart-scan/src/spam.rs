//! What the spam classifier sees of a message: decoded text of every text part, the visible text
//! of HTML parts, the subject and sender name, link domains, attachment types and HTML shape.
//!
//! Deliberately absent: upstream filter headers (`X-Spam-*`), Received lines, Message-IDs and the
//! sender's domain. In the public corpora those identify the corpus (Enron's ham all comes from
//! enron.com with JavaMail Message-IDs), and a model that learns them learns nothing about spam.

use rampart_classify::{FeatureBuilder, FeatureConfig, SparseVector};
use rampart_urls::{links_in_text, scan_html};

use crate::domain::registrable;
use crate::Mail;

/// Links, attachments and images counted in buckets, so "many" is one feature, not many.
fn bucket(n: usize) -> &'static str {
    match n {
        0 => "0",
        1 => "1",
        2..=3 => "2-3",
        4..=10 => "4-10",
        _ => "many",
    }
}

/// The feature vector of a message for `config`.
pub fn mail_features(mail: &Mail<'_>, config: &FeatureConfig) -> SparseVector {
    let mut b = FeatureBuilder::new(config);
    b.add_text("subject", mail.subject());
    if let Some((Some(name), _)) = mail.from() {
        b.add_text("from_name", name);
    }
    let mut link_count = 0;
    for text in mail.text_bodies() {
        b.add_text("body", text);
        for link in links_in_text(text) {
            b.add_token("url_domain", registrable(&link.host));
            link_count += 1;
        }
    }
    let htmls = mail.html_bodies();
    let mut images = 0;
    for html in &htmls {
        let scan = scan_html(html);
        b.add_text("body", &scan.visible_text);
        for link in &scan.links {
            if link.source.is_navigation() {
                b.add_token("url_domain", registrable(&link.host));
                link_count += 1;
            } else {
                images += 1;
            }
        }
        if scan.has_password_form {
            b.add_token("shape", "password_form");
        }
    }
    b.add_token(
        "shape",
        match (htmls.is_empty(), mail.text_bodies().is_empty()) {
            (true, _) => "text_only",
            (false, true) => "html_only",
            (false, false) => "text_and_html",
        },
    );
    b.add_token("links", bucket(link_count));
    b.add_token("images", bucket(images));
    let attachments = mail.attachments();
    b.add_token("attachments", bucket(attachments.len()));
    for a in &attachments {
        if let Some(ct) = &a.content_type {
            b.add_token("attachment_type", ct);
        }
        if let Some(ext) = a
            .name
            .as_deref()
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, e)| e)
        {
            b.add_token("attachment_ext", &ext.to_ascii_lowercase());
        }
    }
    if mail.parsed.is_none() {
        b.add_token("shape", "unparseable");
        b.add_text(
            "body",
            &String::from_utf8_lossy(&mail.raw[..mail.raw.len().min(16 * 1024)]),
        );
    }
    b.finish()
}
