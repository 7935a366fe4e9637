//! Benign mail must stay quiet: realistic newsletters (tracking links, CDN images, share buttons,
//! mailto links, Outlook conditional comments) yield no finding of score 3 or more, and neither do
//! the 500 most linked-to domains on the web.

use rampart_urls::{judge, scan_html, Finding, LinkSource, UrlPolicy};

const NEWSLETTERS: &[(&str, &str)] = &[
    (
        "mailchimp bakery",
        include_str!("fixtures/newsletter-mailchimp-bakery.html"),
    ),
    (
        "retail with own tracking",
        include_str!("fixtures/newsletter-retail-own-tracking.html"),
    ),
    (
        "saas via sendgrid",
        include_str!("fixtures/newsletter-saas-sendgrid.html"),
    ),
    (
        "internal hr update",
        include_str!("fixtures/newsletter-internal-hr.html"),
    ),
];

fn loud(findings: &[Finding]) -> Vec<&Finding> {
    findings.iter().filter(|f| f.score >= 3.0).collect()
}

#[test]
fn benign_newsletters_yield_no_finding_of_score_three_or_more() {
    let policies = [
        UrlPolicy::default(),
        UrlPolicy::default().with_protected_domains(["rampartcorp.com"]),
    ];
    for (name, html) in NEWSLETTERS {
        let scan = scan_html(html);
        assert!(scan.links.len() >= 9, "{name}: {} links", scan.links.len());
        for policy in &policies {
            let findings = judge(&scan.links, policy);
            assert!(loud(&findings).is_empty(), "{name}: {findings:#?}");
        }
    }
}

#[test]
fn newsletter_scan_finds_every_kind_of_link_and_the_visible_text() {
    let scan = scan_html(NEWSLETTERS[0].1);
    let count = |source| scan.links.iter().filter(|l| l.source == source).count();
    assert_eq!(count(LinkSource::Href), 11, "{:#?}", scan.links);
    assert_eq!(count(LinkSource::Src), 9);
    // The VML button inside the Outlook conditional comment is a link too.
    assert_eq!(
        scan.links
            .iter()
            .filter(|l| l.url.contains("id=3d4e5f6a7b"))
            .count(),
        2
    );
    assert!(scan.visible_text.contains("Pumpkin season is here"));
    assert!(scan
        .visible_text
        .contains("Crumb & Co. Bakery · 14 Mill Lane"));
    assert!(!scan.visible_text.contains("mcnPreviewText{"));
    assert!(
        !scan.visible_text.contains("October bakes"),
        "the title is not visible text"
    );
    assert!(!scan.has_password_form);
    assert!(!scan
        .links
        .iter()
        .any(|l| l.url.starts_with("mailto:") || l.url.starts_with("tel:")));
}

#[test]
fn the_most_linked_to_domains_are_not_lookalikes() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpora/urls/top-sites.json"
    );
    let Ok(json) = std::fs::read_to_string(path) else {
        eprintln!("skipped: {path} not found");
        return;
    };
    let domains: Vec<&str> = json
        .split("\"rootDomain\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').nth(1))
        .collect();
    assert!(domains.len() >= 400, "parsed {} domains", domains.len());
    let policy = UrlPolicy::default();
    let mut loud_domains = Vec::new();
    for domain in &domains {
        let links = rampart_urls::links_in_text(&format!("https://{domain}/"));
        let findings = judge(&links, &policy);
        if !loud(&findings).is_empty() {
            loud_domains.push((domain, findings));
        }
    }
    assert!(loud_domains.is_empty(), "{loud_domains:#?}");
}
