//! What the judge protects and trusts: the organisation's own domains, brand domains that
//! phishers imitate, domains those brands genuinely use, and an optional blocklist. Also the
//! built-in lists of shorteners, mail-tracking hosts and abused top-level domains.

use std::collections::HashSet;
use std::sync::Arc;

use crate::blocklist::Blocklist;
use crate::domain::{char_mask, skeleton, HostParts};

/// Commonly phished brands (anti-phishing working group and vendor reports). Brands whose name is
/// an everyday word (Outlook, Office, Live) are left out: `outlook.4team.biz` is a plug-in vendor,
/// not an imitation; their domains are genuine instead. `label.*` means the
/// brand also owns its country sites (`amazon.de`, `amazon.co.uk`): those are genuine, while the
/// same label under a generic top-level domain (`amazon.support`, `paypal.co`) is a lookalike.
#[rustfmt::skip]
pub const DEFAULT_BRANDS: &[&str] = &[
    "paypal.com", "paypal.*", "apple.com", "apple.*", "icloud.com", "microsoft.com", "microsoft.*",
    "onedrive.com", "google.com", "google.*", "gmail.com", "youtube.com", "amazon.com", "amazon.*",
    "netflix.com", "facebook.com", "instagram.com", "whatsapp.com", "linkedin.com", "twitter.com",
    "dropbox.com", "docusign.com", "docusign.net", "adobe.com", "wetransfer.com", "dhl.com",
    "dhl.*", "fedex.com", "ups.com", "usps.com", "royalmail.com", "chase.com", "wellsfargo.com",
    "bankofamerica.com", "citibank.com", "hsbc.com", "hsbc.*", "barclays.co.uk", "santander.com",
    "santander.*", "americanexpress.com", "capitalone.com", "ebay.com", "ebay.*", "alibaba.com",
    "aliexpress.com", "yahoo.com", "yahoo.*", "aol.com", "steamcommunity.com", "steampowered.com",
    "coinbase.com", "binance.com", "blockchain.com", "metamask.io", "booking.com", "airbnb.com",
    "spotify.com", "intuit.com", "zoom.us", "github.com", "walmart.com", "costco.com",
    "bestbuy.com", "tiktok.com", "telegram.org", "discord.com", "roblox.com", "mastercard.com",
    "visa.com", "norton.com", "mcafee.com", "godaddy.com", "stripe.com", "venmo.com", "irs.gov",
    "okta.com", "salesforce.com", "sharepoint.com",
];

/// Domains that belong to the default brands but would otherwise look like imitations of them
/// (`microsoftonline.com` contains `microsoft` plus `online`), and the brands' own short links.
#[rustfmt::skip]
const DEFAULT_GENUINE: &[&str] = &[
    "paypalobjects.com", "paypal.me", "paypal-community.com", "paypal-communication.com",
    "microsoftonline.com", "microsoft365.com", "office.com", "office.net", "office365.com",
    "outlook.com", "live.com", "hotmail.com", "msn.com", "bing.com", "onmicrosoft.com",
    "azure.com", "windows.net", "windows.com", "xbox.com", "skype.com", "microsoftstore.com",
    "googleapis.com", "googleusercontent.com", "gstatic.com", "googlemail.com",
    "google-analytics.com", "googletagmanager.com", "doubleclick.net", "googleadservices.com",
    "youtu.be", "ytimg.com", "amazonaws.com", "amazon-adsystem.com", "media-amazon.com",
    "ssl-images-amazon.com", "amazonses.com", "amzn.to", "awstrack.me", "cloudfront.net",
    "icloud-content.com", "mzstatic.com", "apple-cloudkit.com", "fbcdn.net", "facebookmail.com",
    "fb.com", "fb.me", "cdninstagram.com", "whatsapp.net", "wa.me", "licdn.com", "lnkd.in",
    "twimg.com", "t.co", "x.com", "dropboxusercontent.com", "dropboxmail.com", "db.tt",
    "adobelogin.com", "typekit.net", "adobesign.com", "ebayimg.com", "ebaystatic.com", "yimg.com",
    "steamstatic.com", "githubusercontent.com", "githubassets.com", "tiktokcdn.com",
    "discordapp.com", "discordapp.net", "discord.gg", "zoom.com", "zoomgov.com", "force.com",
    "salesforce-communities.com", "exacttarget.com", "oktacdn.com", "walmartimages.com",
    "chasecdn.com", "wellsfargomedia.com", "telegram.me", "t.me", "telegra.ph", "apple.co",
    "aka.ms", "g.co", "m.me", "msft.it",
];

/// The link policy. Build it once from configuration and share it: building precomputes the
/// confusable skeletons of every protected name.
///
/// ```
/// use rampart_urls::UrlPolicy;
///
/// let policy = UrlPolicy::default()
///     .with_protected_domains(["rampart.example", "rampart-mail.example"])
///     .with_genuine_domains(["rampart-cdn.example"]);
/// assert!(policy.protected_domains().any(|d| d == "rampart.example"));
/// ```
#[derive(Debug, Clone)]
pub struct UrlPolicy {
    protected: Vec<String>,
    brand_names: Vec<String>,
    /// Protected and brand domains grouped by label, protected first.
    pub(crate) names: Vec<ProtectedName>,
    /// Labels of four letters or more, for spotting a brand in a URL path.
    pub(crate) path_labels: HashSet<String>,
    /// Every registrable domain of a protected name, and the labels that own country sites.
    owned_domains: HashSet<String>,
    country_labels: HashSet<String>,
    pub(crate) genuine: HashSet<String>,
    pub(crate) blocklist: Option<Arc<Blocklist>>,
}

/// One protected label (`paypal`) with the registrable domains that are genuinely its owner's.
#[derive(Debug, Clone)]
pub(crate) struct ProtectedName {
    pub label: String,
    pub label_chars: Vec<char>,
    pub label_mask: u64,
    pub skeleton: String,
    pub skeleton_chars: Vec<char>,
    pub skeleton_mask: u64,
    /// The owner's registrable domains (`paypal.com`).
    pub domains: Vec<String>,
    /// The owner also has the label under every country suffix (`paypal.de`).
    pub country_sites: bool,
    /// The organisation's own domain rather than a brand's.
    pub own: bool,
}

impl Default for UrlPolicy {
    fn default() -> Self {
        let mut policy = UrlPolicy {
            protected: Vec::new(),
            brand_names: Vec::new(),
            names: Vec::new(),
            path_labels: HashSet::new(),
            owned_domains: HashSet::new(),
            country_labels: HashSet::new(),
            genuine: HashSet::new(),
            blocklist: None,
        };
        policy = policy
            .with_brands(DEFAULT_BRANDS.iter().copied())
            .with_genuine_domains(DEFAULT_GENUINE.iter().copied());
        policy
    }
}

impl UrlPolicy {
    /// No brands, no protected domains, no blocklist: only findings that need no reference.
    pub fn empty() -> Self {
        UrlPolicy {
            protected: Vec::new(),
            brand_names: Vec::new(),
            names: Vec::new(),
            path_labels: HashSet::new(),
            owned_domains: HashSet::new(),
            country_labels: HashSet::new(),
            genuine: HashSet::new(),
            blocklist: None,
        }
    }

    /// Sets the organisation's own domains: imitations of them are lookalikes, and links to them
    /// are trusted.
    pub fn with_protected_domains<I, S>(mut self, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.protected = normalise_all(domains);
        self.rebuild();
        self
    }

    /// Replaces the brand list (see [`DEFAULT_BRANDS`] for the `label.*` form).
    pub fn with_brands<I, S>(mut self, brands: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.brand_names = normalise_all(brands);
        self.rebuild();
        self
    }

    /// Adds domains that are trusted as they are: never lookalikes, never mismatches.
    pub fn with_genuine_domains<I, S>(mut self, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.genuine.extend(normalise_all(domains));
        self
    }

    pub fn with_blocklist(mut self, blocklist: Arc<Blocklist>) -> Self {
        self.blocklist = Some(blocklist);
        self
    }

    pub fn protected_domains(&self) -> impl Iterator<Item = &str> {
        self.protected.iter().map(String::as_str)
    }

    pub fn brands(&self) -> impl Iterator<Item = &str> {
        self.brand_names.iter().map(String::as_str)
    }

    pub fn genuine_domains(&self) -> impl Iterator<Item = &str> {
        self.genuine.iter().map(String::as_str)
    }

    pub fn blocklist(&self) -> Option<&Arc<Blocklist>> {
        self.blocklist.as_ref()
    }

    fn rebuild(&mut self) {
        self.names.clear();
        self.path_labels.clear();
        self.owned_domains.clear();
        self.country_labels.clear();
        let protected = self.protected.iter().map(|d| (d, true));
        let brands = self.brand_names.iter().map(|d| (d, false));
        for (entry, own) in protected.chain(brands) {
            let (label, domain, country_sites) = match entry.strip_suffix(".*") {
                Some(label) => (label.to_string(), None, true),
                None => match HostParts::of(entry) {
                    Some(parts) => (parts.label.to_string(), Some(parts.registrable), false),
                    None => continue,
                },
            };
            if label.is_empty() || label.contains('.') {
                continue;
            }
            let name = match self.names.iter_mut().find(|n| n.label == label) {
                Some(name) => name,
                None => {
                    let skeleton = skeleton(&crate::domain::to_unicode(&label));
                    let label_chars: Vec<char> = label.chars().collect();
                    let skeleton_chars: Vec<char> = skeleton.chars().collect();
                    self.names.push(ProtectedName {
                        label_mask: char_mask(&label_chars),
                        skeleton_mask: char_mask(&skeleton_chars),
                        label_chars,
                        skeleton_chars,
                        skeleton,
                        label,
                        domains: Vec::new(),
                        country_sites: false,
                        own,
                    });
                    let last = self.names.len() - 1;
                    &mut self.names[last]
                }
            };
            if name.label_chars.len() >= 4 {
                self.path_labels.insert(name.label.clone());
            }
            name.country_sites |= country_sites;
            name.own |= own;
            if country_sites {
                self.country_labels.insert(name.label.clone());
            }
            if let Some(domain) = domain {
                self.owned_domains.insert(domain.to_string());
                if !name.domains.iter().any(|d| d == domain) {
                    name.domains.push(domain.to_string());
                }
            }
        }
    }

    /// Whether a registrable domain belongs to the organisation.
    pub(crate) fn is_own(&self, registrable: &str) -> bool {
        self.names
            .iter()
            .any(|n| n.own && n.domains.iter().any(|d| d == registrable))
    }

    /// Whether a host's registrable domain is the organisation's, a brand's (including a
    /// brand's country sites) or listed as genuine.
    pub(crate) fn is_genuine(&self, parts: &HostParts<'_>) -> bool {
        self.genuine.contains(parts.registrable)
            || self.owned_domains.contains(parts.registrable)
            || (self.country_labels.contains(parts.label)
                && crate::domain::is_country_suffix(parts.suffix))
    }
}

impl ProtectedName {
    pub(crate) fn owns(&self, parts: &HostParts<'_>) -> bool {
        self.domains.iter().any(|d| d == parts.registrable)
            || (self.country_sites
                && parts.label == self.label
                && crate::domain::is_country_suffix(parts.suffix))
    }
}

fn normalise_all<I, S>(items: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let item = item.as_ref().trim().trim_end_matches('.').to_lowercase();
        let item = if item.ends_with(".*") || item.is_ascii() {
            item
        } else {
            match idna::domain_to_ascii(&item) {
                Ok(ascii) => ascii,
                Err(_) => continue,
            }
        };
        if !item.is_empty() && !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Link shorteners: the destination is hidden from the reader (and from us; we never fetch).
#[rustfmt::skip]
pub(crate) const SHORTENERS: &[&str] = &[
    "bit.ly", "bitly.com", "bitly.ws", "t.co", "tinyurl.com", "goo.gl", "ow.ly", "is.gd", "v.gd",
    "buff.ly", "rebrand.ly", "cutt.ly", "shorturl.at", "rb.gy", "t.ly", "tiny.cc", "bl.ink",
    "s.id", "lnkd.in", "trib.al", "short.io", "shorte.st", "adf.ly", "qrco.de", "snip.ly",
    "clck.ru", "surl.li", "u.to", "x.co", "urlz.fr", "kutt.it", "dub.sh", "forms.gle", "tr.im",
    "ift.tt", "1url.com", "2u.pw", "urlr.me", "gg.gg", "shorturl.com", "tinu.be",
];

/// Mail service providers' click-tracking hosts and mail security link wrappers: every link in
/// a legitimate newsletter goes through them, so their anchor texts never match their hosts.
#[rustfmt::skip]
pub(crate) const MAIL_TRACKERS: &[&str] = &[
    "list-manage.com", "mailchi.mp", "mcsv.net", "mcusercontent.com", "campaign-archive.com",
    "sendgrid.net", "sendgrid.com", "mandrillapp.com", "rs6.net", "constantcontact.com",
    "createsend.com", "createsend1.com", "cmail19.com", "cmail20.com", "klclick.com",
    "klclick1.com", "klclick2.com", "klclick3.com", "klaviyomail.com", "hubspotlinks.com",
    "hubspotemail.net", "hs-sites.com", "hubspot.com", "sparkpostmail.com", "spgo.io",
    "awstrack.me", "mailgun.org", "mailgun.net", "exacttarget.com", "pardot.com", "en25.com",
    "mjt.lu", "sendibt2.com", "sendibt3.com", "sendibm1.com", "brevo.com", "sendinblue.com",
    "ck.page", "convertkit-mail.com", "convertkit-mail2.com", "substack.com", "beehiiv.com",
    "mlsend.com", "mailerlite.com", "emarsys.net", "rsys2.com", "rsys5.net", "pstmrk.it",
    "customeriomail.com", "iterable.com", "mktoweb.com", "mktomail.com", "marketo.com",
    "acemlna.com", "activehosted.com", "aweber.com", "getresponse.com", "gr8.com",
    "safelinks.protection.outlook.com", "urldefense.com", "urldefense.proofpoint.com",
    "mimecast.com", "mimecastprotect.com", "cudasvc.com", "linkprotect.cudasvc.com",
    "secure-web.cisco.com", "clicktime.symantec.com", "emailsrvr.com", "salesforce.com",
    "sfmc-content.com", "click.email", "mailjet.com", "zohocampaigns.com", "maillist-manage.com",
    "e2ma.net", "myemma.com", "icptrack.com", "cmpgn.io", "lt.emlnk.com", "emlnk.com",
];

/// Top-level domains with far more abuse than use (Spamhaus and Interisle reports); a weak sign.
#[rustfmt::skip]
pub(crate) const SUSPICIOUS_TLDS: &[&str] = &[
    "zip", "mov", "tk", "ml", "ga", "cf", "gq", "top", "click", "country", "kim", "work", "loan",
    "men", "download", "racing", "review", "stream", "gdn", "cam", "icu", "buzz", "monster",
    "cyou", "sbs", "cfd", "rest", "bond", "quest", "xin", "bid", "win", "date", "faith",
];

/// Words that phishing domains add to a brand: `paypal-secure-login`, `appleid-verify`.
#[rustfmt::skip]
pub(crate) const PHISHING_WORDS: &[&str] = &[
    "access", "account", "accounts", "activate", "alert", "alerts", "app", "auth", "authenticate",
    "billing", "bonus", "center", "centre", "check", "claim", "client", "cloud", "confirm",
    "connect", "customer", "delivery", "desk", "docs", "document", "drive", "express", "file",
    "files", "gift", "help", "helpdesk", "id", "identity", "info", "invoice", "limited", "lock",
    "locked", "login", "logon", "mail", "main", "member", "members", "my", "notice",
    "notification", "official", "online", "package", "parcel", "pass", "password", "pay",
    "payment", "portal", "prize", "protect", "protection", "recover", "recovery", "refund",
    "renew", "reset", "resolution", "review", "reward", "safe", "safety", "secure", "security",
    "service", "services", "share", "shipping", "sign", "signin", "sso", "storage", "suspend",
    "suspended", "support", "team", "track", "tracking", "unlock", "update", "user", "validate",
    "verify", "verification", "wallet", "web", "webmail",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_brand_entries_by_label_with_their_country_sites() {
        let policy = UrlPolicy::default();
        let paypal = policy.names.iter().find(|n| n.label == "paypal").unwrap();
        assert_eq!(paypal.domains, ["paypal.com"]);
        assert!(paypal.country_sites);
        let docusign = policy.names.iter().find(|n| n.label == "docusign").unwrap();
        assert_eq!(docusign.domains, ["docusign.com", "docusign.net"]);
        assert!(!docusign.country_sites);
        assert!(DEFAULT_BRANDS.len() >= 50);
    }

    #[test]
    fn treats_protected_domains_as_own_and_genuine() {
        let policy = UrlPolicy::empty().with_protected_domains(["Rampart.Example."]);
        assert_eq!(
            policy.protected_domains().collect::<Vec<_>>(),
            ["rampart.example"]
        );
        assert!(policy.is_own("rampart.example"));
        let parts = HostParts::of("mail.rampart.example").unwrap();
        assert!(policy.is_genuine(&parts));
    }
}
