//! Phishing links: every URL in text and HTML bodies (and in attachments' text, handed over by
//! the attachments check), judged by rampart-urls against the organisation's own domains, the
//! protected brands and the blocklists; credential forms in the body; a From domain that looks
//! like a protected one.

use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use rampart_model::Finding;
use rampart_urls::{judge, links_in_text, scan_html, Blocklist, Link, LinkSource, UrlPolicy};

use crate::checks::CheckOutput;
use crate::domain::{registrable, registrable_label};
use crate::{Check, Envelope, Mail, OrgDirectory};

pub struct Links {
    org: Arc<RwLock<OrgDirectory>>,
    brands: Vec<String>,
    blocklist: Option<Arc<Blocklist>>,
    /// The policy for the organisation's domains as last seen; rebuilt when they change.
    policy: Mutex<(Vec<String>, Arc<UrlPolicy>)>,
}

impl Links {
    pub fn new(
        org: Arc<RwLock<OrgDirectory>>,
        brands: Vec<String>,
        blocklist: Option<Arc<Blocklist>>,
    ) -> Self {
        Links {
            org,
            brands,
            blocklist,
            policy: Mutex::new((Vec::new(), Arc::new(UrlPolicy::default()))),
        }
    }

    fn policy(&self) -> Arc<UrlPolicy> {
        let domains = self
            .org
            .read()
            .map(|o| o.local_domains.clone())
            .unwrap_or_default();
        let mut cached = self.policy.lock().unwrap_or_else(|p| p.into_inner());
        if cached.0 != domains || (cached.0.is_empty() && cached.1.brands().next().is_none()) {
            let mut policy = UrlPolicy::default()
                .with_protected_domains(domains.iter().cloned())
                .with_brands(self.brands.iter().cloned());
            if let Some(b) = &self.blocklist {
                policy = policy.with_blocklist(Arc::clone(b));
            }
            *cached = (domains, Arc::new(policy));
        }
        Arc::clone(&cached.1)
    }
}

#[async_trait]
impl Check for Links {
    fn name(&self) -> &'static str {
        "url"
    }

    async fn run(&self, mail: &Mail<'_>, _: &Envelope, out: &mut CheckOutput) {
        if let Some(b) = &self.blocklist {
            if let Err(e) = b.reload_if_changed() {
                tracing::warn!(error = %e, "blocklist reload failed; keeping the previous list");
            }
        }
        let policy = self.policy();
        let mut links: Vec<Link> = Vec::new();
        for text in mail.text_bodies() {
            links.extend(links_in_text(text));
        }
        let mut credential_form = false;
        for html in mail.html_bodies() {
            let scan = scan_html(html);
            credential_form |= scan.has_password_form;
            links.extend(scan.links);
            out.visible_texts.push(scan.visible_text);
        }
        for text in &out.linked_texts {
            links.extend(links_in_text(text));
        }
        if credential_form {
            out.push(
                Finding::new("phish.credential_form", 5.0)
                    .with_evidence("the message body asks for a password in a form"),
            );
        }
        out.navigation_links = links.iter().filter(|l| l.source.is_navigation()).count();
        out.resource_links = links.len() - out.navigation_links;
        out.findings.extend(judge(&links, &policy));
        if let Some(f) = brand_link_mismatch(mail, &links) {
            out.push(f);
        }
        out.findings.extend(unusual_ports(&links));
        out.findings.extend(embedded_domains(&links));
        if let Some((_, Some(address))) = mail.from() {
            let sender = address
                .rsplit_once('@')
                .map_or("", |(_, d)| d)
                .to_ascii_lowercase();
            let sender = registrable(&sender).to_string();
            out.links_to_sender_domain = links.iter().any(|l| {
                l.source.is_navigation()
                    && (l.host == sender || l.host.ends_with(&format!(".{sender}")))
            });
        }

        // A sender domain that imitates ours or a brand's is the same trick as a lookalike link.
        if let Some((_, Some(address))) = mail.from() {
            if let Some((_, domain)) = address.rsplit_once('@') {
                let host = domain.trim().to_ascii_lowercase();
                let sender = Link {
                    url: format!("http://{host}/"),
                    host: host.clone(),
                    shown_text: None,
                    source: LinkSource::Text,
                    written: host,
                };
                for f in judge(std::slice::from_ref(&sender), &policy) {
                    if f.name == "url.lookalike" {
                        let mut renamed = Finding::new("phish.from_lookalike", f.score);
                        renamed.evidence = f.evidence;
                        out.push(renamed);
                    }
                }
            }
        }
    }
}

/// Brand names (the label of each protected brand domain), lower-case.
fn brand_labels() -> &'static [String] {
    static LABELS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    LABELS.get_or_init(|| {
        let mut labels: Vec<String> = rampart_urls::DEFAULT_BRANDS
            .iter()
            .filter_map(|d| d.split('.').next())
            .filter(|l| l.len() >= 3)
            .map(str::to_string)
            .collect();
        labels.sort();
        labels.dedup();
        labels
    })
}

/// A message that presents itself as a well-known brand (its From domain or display name) but
/// sends the reader somewhere that is not the brand's: the classic shape of brand phishing,
/// whatever the links' text says.
fn brand_link_mismatch(mail: &Mail<'_>, links: &[Link]) -> Option<Finding> {
    let (display, address) = mail.from()?;
    let from_host = address?.rsplit_once('@')?.1.to_ascii_lowercase();
    let from_label = registrable_label(&from_host).unwrap_or("").to_string();
    let display = display.unwrap_or("").to_lowercase();
    let display_words: Vec<&str> = display
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let brand = brand_labels()
        .iter()
        .find(|b| from_label == **b || display_words.iter().any(|w| w == b))?;
    let off_brand: Vec<&str> = links
        .iter()
        .filter(|l| matches!(l.source, LinkSource::Href | LinkSource::FormAction))
        .filter(|l| !l.host.is_empty())
        .filter(|l| {
            let label = registrable_label(&l.host).unwrap_or(&l.host);
            !label.contains(brand.as_str()) && label != from_label
        })
        .map(|l| l.host.as_str())
        .collect();
    let first = off_brand.first()?;
    Some(
        Finding::new("phish.brand_link_mismatch", 4.0).with_evidence(format!(
            "presents itself as {brand} but links to {first} ({} such link(s))",
            off_brand.len()
        )),
    )
}

/// Ports a web link normally has; anything else in a link a reader is asked to click is the mark
/// of a phishing kit on a compromised host.
const USUAL_PORTS: &[&str] = &["80", "443", "8080", "8443"];

fn port_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let after_host = match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']')?.1,
        None => authority,
    };
    let port = after_host
        .strip_prefix(':')
        .or_else(|| after_host.split_once(':').map(|(_, p)| p))?;
    (!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())).then_some(port)
}

fn unusual_ports(links: &[Link]) -> Option<Finding> {
    let odd: Vec<&str> = links
        .iter()
        .filter(|l| l.source.is_navigation())
        .filter(|l| port_of(&l.url).is_some_and(|p| !USUAL_PORTS.contains(&p)))
        .map(|l| l.url.as_str())
        .collect();
    let first = odd.first()?;
    Some(
        Finding::new("url.unusual_port", 3.0)
            .with_evidence(format!("{first} ({} link(s))", odd.len())),
    )
}

/// The domain a link's text shows, planted at the front of a host that belongs to someone else:
/// `www.bank.com` shown, `bank.com.account-update.info` linked.
fn embedded_domains(links: &[Link]) -> Option<Finding> {
    for l in links.iter().filter(|l| l.source == LinkSource::Href) {
        let Some(shown) = l.shown_text.as_deref() else {
            continue;
        };
        let shown = shown
            .trim()
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        let shown_host = shown
            .split(['/', ' ', '?'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let Some(shown_domain) = psl::domain_str(&shown_host) else {
            continue;
        };
        let Some(link_domain) = psl::domain_str(&l.host) else {
            continue;
        };
        if shown_domain != link_domain && l.host.contains(&format!("{shown_domain}.")) {
            return Some(
                Finding::new("url.embedded_domain", 3.0).with_evidence(format!(
                    "shows {shown_host}, links to {} (registered as {link_domain})",
                    l.host
                )),
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ports_from_urls() {
        assert_eq!(
            port_of("http://oniline.us2k.net:6180/logon/index.php"),
            Some("6180")
        );
        assert_eq!(port_of("http://user:pw@host.test:81/x"), Some("81"));
        assert_eq!(port_of("http://[2001:db8::1]:8081/"), Some("8081"));
        assert_eq!(port_of("https://host.test/a:b"), None);
        assert_eq!(port_of("http://[2001:db8::1]/"), None);
    }
}
