//! One or more specifications per finding: what raises it, how strongly, and what must not.

use std::sync::Arc;

use rampart_urls::{judge, links_in_text, scan_html, Blocklist, Finding, UrlPolicy};

fn html_findings(html: &str) -> Vec<Finding> {
    judge(&scan_html(html).links, &UrlPolicy::default())
}

fn text_findings(text: &str) -> Vec<Finding> {
    judge(&links_in_text(text), &UrlPolicy::default())
}

fn score(findings: &[Finding], name: &str) -> Option<f32> {
    findings.iter().find(|f| f.name == name).map(|f| f.score)
}

fn evidence(findings: &[Finding], name: &str) -> String {
    findings
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.evidence.join(" | "))
        .unwrap_or_default()
}

fn href(url: &str) -> Vec<Finding> {
    html_findings(&format!(r#"<a href="{url}">Click here</a>"#))
}

// url.text_href_mismatch

#[test]
fn flags_a_link_whose_text_names_another_domain() {
    let f = html_findings(
        r#"<a href="https://secure-login.example.net/x">https://www.paypal.com/</a>"#,
    );
    assert_eq!(score(&f, "url.text_href_mismatch"), Some(7.0));
    assert!(evidence(&f, "url.text_href_mismatch").contains("www.paypal.com"));
    let f = html_findings(r#"<a href="https://files.example.net/">www.examplebank.org</a>"#);
    assert_eq!(score(&f, "url.text_href_mismatch"), Some(4.0));
}

#[test]
fn accepts_anchor_text_naming_the_same_site() {
    let f = html_findings(
        r#"<a href="https://example.com/a">www.example.com</a>
           <a href="https://shop.example.com/">EXAMPLE.COM/shop</a>
           <a href="https://www.amazon.com/dp/1">amazon.de</a>"#,
    );
    assert_eq!(score(&f, "url.text_href_mismatch"), None);
}

#[test]
fn keeps_a_mismatch_weak_when_a_mail_service_tracks_the_click() {
    let f = html_findings(
        r#"<a href="https://acme.us5.list-manage.com/track/click?u=1&id=2">www.acme-widgets.com</a>"#,
    );
    assert_eq!(score(&f, "url.text_href_mismatch"), Some(1.0));
}

#[test]
fn accepts_a_redirector_whose_target_is_the_site_shown() {
    let f = html_findings(
        r#"<a href="https://www.google.com/url?q=https://www.example.org/page&sa=D">example.org</a>"#,
    );
    assert_eq!(score(&f, "url.text_href_mismatch"), None);
}

// url.ip_literal

#[test]
fn flags_a_link_to_an_ip_address() {
    let f = href("http://203.0.113.45/login.php");
    assert_eq!(score(&f, "url.ip_literal"), Some(4.0));
    let f = href("http://[2001:db8::7]/login");
    assert_eq!(score(&f, "url.ip_literal"), Some(4.0));
}

#[test]
fn flags_decimal_hex_and_octal_ipv4_hosts_strongly() {
    for url in [
        "http://3232235777/",
        "http://0xC0A80101/x",
        "http://0300.0250.0001.0001/",
        "http://192.168.257/",
    ] {
        let f = href(url);
        assert_eq!(score(&f, "url.ip_literal"), Some(7.0), "{url}");
        assert!(
            evidence(&f, "url.ip_literal").contains("is 192.168.1.1"),
            "{url}"
        );
    }
}

// url.userinfo_trick

#[test]
fn flags_a_domain_written_as_the_user_part() {
    let f = text_findings("Log in at http://paypal.com@evil.test/signin");
    assert_eq!(score(&f, "url.userinfo_trick"), Some(7.0));
    let f = href("https://www.paypal.com%2Fsignin@evil.test/");
    assert_eq!(score(&f, "url.userinfo_trick"), Some(7.0));
    let f = href("https://account-id-7731@evil.test/");
    assert_eq!(score(&f, "url.userinfo_trick"), Some(3.0));
    let f = href("ftp://anonymous:guest@ftp.example.org/pub/");
    assert_eq!(score(&f, "url.userinfo_trick"), Some(3.0));
}

// url.punycode and url.mixed_script

#[test]
fn flags_internationalised_hosts_weakly() {
    let f = href("https://bücher.example/");
    assert_eq!(score(&f, "url.punycode"), Some(1.0));
    assert!(evidence(&f, "url.punycode").contains("xn--bcher-kva.example (bücher.example)"));
    assert_eq!(score(&f, "url.mixed_script"), None);
}

#[test]
fn flags_a_host_label_that_mixes_latin_and_cyrillic() {
    // The second letter is U+0430 CYRILLIC SMALL LETTER A.
    let f = href("https://p\u{430}ypal.com/signin");
    assert_eq!(score(&f, "url.mixed_script"), Some(5.0));
    assert_eq!(score(&f, "url.lookalike"), Some(8.0));
}

#[test]
fn flags_a_whole_script_cyrillic_homograph_as_a_lookalike() {
    // "аррӏе" in Cyrillic letters only: single script, but confusable with apple.
    let f = href("https://\u{430}\u{440}\u{440}\u{4CF}\u{435}.com/");
    assert_eq!(score(&f, "url.mixed_script"), None);
    assert_eq!(score(&f, "url.lookalike"), Some(8.0));
    assert!(evidence(&f, "url.lookalike").contains("apple.com"));
}

// url.lookalike

#[test]
fn flags_confusable_spellings_of_a_brand() {
    for host in ["paypa1.com", "rnicrosoft.com", "g00gle.com", "arnazon.com"] {
        let f = href(&format!("https://{host}/"));
        assert_eq!(score(&f, "url.lookalike"), Some(8.0), "{host}");
    }
}

#[test]
fn flags_small_misspellings_of_a_brand() {
    for (host, expected) in [
        ("micorsoft.com", 6.0),
        ("paypall.com", 5.0),
        ("netfiix.com", 6.0),
        ("docusigns.net", 6.0),
        ("bankofamerca.com", 6.0),
        ("wellsfarg0o.com", 6.0),
    ] {
        let f = href(&format!("https://{host}/"));
        assert_eq!(score(&f, "url.lookalike"), Some(expected), "{host}");
    }
}

#[test]
fn flags_a_brand_under_a_suffix_it_does_not_own() {
    for host in [
        "paypal.co",
        "apple.support",
        "docusign.top",
        "paypal.github.io",
    ] {
        let f = href(&format!("https://{host}/"));
        assert_eq!(score(&f, "url.lookalike"), Some(6.0), "{host}");
    }
}

#[test]
fn flags_a_brand_with_added_words() {
    for host in [
        "paypal-secure-login.com",
        "secure-paypal.net",
        "paypalsupport.com",
        "appleid-verify.info",
        "login-microsoft365-account.com",
        "dhl-parcel-tracking.net",
        "paypal-login.pages.dev",
    ] {
        let f = href(&format!("https://{host}/"));
        assert_eq!(score(&f, "url.lookalike"), Some(6.0), "{host}");
    }
}

#[test]
fn flags_a_brand_domain_used_as_a_subdomain() {
    let f = href("https://www.paypal.com.account-check.evil.test/signin");
    assert_eq!(score(&f, "url.lookalike"), Some(7.0));
    assert!(evidence(&f, "url.lookalike").contains("paypal.com"));
    let f = href("https://paypal.login.evil.test/");
    assert_eq!(score(&f, "url.lookalike"), Some(5.0));
    let f = href("https://amazon-account-update.evil-kit.pages.dev/");
    assert_eq!(score(&f, "url.lookalike"), Some(5.0));
}

#[test]
fn never_flags_a_brand_its_subdomains_or_its_country_sites() {
    for host in [
        "www.paypal.com",
        "paypal.com",
        "paypal.de",
        "www.amazon.co.uk",
        "login.microsoftonline.com",
        "accounts.google.com",
        "appleid.apple.com",
        "www.paypalobjects.com",
        "s3.amazonaws.com",
        "secure.chase.com",
        "apple.stackexchange.com",
    ] {
        let f = href(&format!("https://{host}/"));
        assert!(
            score(&f, "url.lookalike").is_none_or(|s| s < 3.0),
            "{host}: {f:?}"
        );
    }
}

#[test]
fn protects_the_organisations_own_domains() {
    let policy = UrlPolicy::default().with_protected_domains(["rampartcorp.com"]);
    let judge_host = |host: &str| judge(&links_in_text(&format!("https://{host}/x")), &policy);
    assert_eq!(
        score(&judge_host("rampartc0rp.com"), "url.lookalike"),
        Some(8.0)
    );
    assert_eq!(
        score(&judge_host("rampartcorp.co"), "url.lookalike"),
        Some(6.0)
    );
    assert_eq!(
        score(&judge_host("ramparttcorp.com"), "url.lookalike"),
        Some(6.0)
    );
    assert_eq!(
        score(&judge_host("rampartcorp-hr-portal.com"), "url.lookalike"),
        Some(6.0)
    );
    assert!(judge_host("mail.rampartcorp.com").is_empty());
}

// url.shortener and url.redirector

#[test]
fn flags_link_shorteners_weakly_and_never_fetches_them() {
    let f = text_findings("Your parcel: https://bit.ly/3xYz9Ab and https://tinyurl.com/4abcd");
    assert_eq!(score(&f, "url.shortener"), Some(1.5));
    assert_eq!(
        f.iter()
            .find(|f| f.name == "url.shortener")
            .map(|f| f.evidence.len()),
        Some(2)
    );
}

#[test]
fn flags_an_open_redirect_and_judges_where_it_leads() {
    let f = href("https://www.google.com/url?sa=t&url=https://paypal-verify-account.com/login");
    assert_eq!(score(&f, "url.redirector"), Some(3.0));
    assert_eq!(score(&f, "url.lookalike"), Some(6.0));
    let f = href("https://news.example.org/redirect?target=https%3A%2F%2Fevil.test%2Fkit");
    assert_eq!(score(&f, "url.redirector"), Some(2.0));
    let f = href("https://example.org/out/https://evil.test/kit");
    assert!(evidence(&f, "url.redirector").contains("evil.test"));
}

#[test]
fn does_not_call_share_buttons_or_same_site_redirects_redirectors() {
    let f = html_findings(
        r#"<a href="https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fshop.example.com%2F">f</a>
           <a href="https://twitter.com/intent/tweet?url=https%3A%2F%2Fshop.example.com%2F">t</a>
           <a href="https://shop.example.com/login?next=https%3A%2F%2Fwww.example.com%2Faccount">l</a>"#,
    );
    assert!(f.is_empty(), "{f:?}");
}

// url.blocklisted

#[test]
fn flags_listed_domains_urls_and_ips_as_conclusive() {
    let list = Blocklist::from_lines([
        "evil-kit.test",
        "http://phish.example.org/login.php",
        "198.51.100.23",
    ]);
    let policy = UrlPolicy::default().with_blocklist(Arc::new(list));
    for url in [
        "https://cdn.evil-kit.test/a",
        "https://phish.example.org/login.php",
        "http://198.51.100.23/x",
    ] {
        let f = judge(&links_in_text(url), &policy);
        assert_eq!(score(&f, "url.blocklisted"), Some(15.0), "{url}");
    }
    let f = judge(&links_in_text("https://phish.example.org/about"), &policy);
    assert_eq!(score(&f, "url.blocklisted"), None);
}

#[test]
fn checks_images_against_the_blocklist_only() {
    let list = Blocklist::from_lines(["evil-kit.test"]);
    let policy = UrlPolicy::default().with_blocklist(Arc::new(list));
    let scan = scan_html(
        r#"<img src="http://evil-kit.test/paypal-logo.png"><img src="http://10.1.2.3/p.gif">"#,
    );
    let f = judge(&scan.links, &policy);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(score(&f, "url.blocklisted"), Some(15.0));
}

// url.suspicious_tld

#[test]
fn flags_abused_top_level_domains_weakly() {
    let f = href("https://invoice-viewer.top/doc");
    assert_eq!(score(&f, "url.suspicious_tld"), Some(1.0));
    assert_eq!(
        score(&href("https://example.com/"), "url.suspicious_tld"),
        None
    );
}

// url.obfuscated

#[test]
fn flags_defanged_links_weakly() {
    let f = text_findings("Do not click hxxps://evil-kit[.]com/login");
    assert_eq!(score(&f, "url.obfuscated"), Some(1.5));
    assert!(evidence(&f, "url.obfuscated").contains("hxxps://evil-kit[.]com/login"));
}

#[test]
fn flags_percent_encoded_and_oddly_dotted_hosts() {
    let f = href("http://%65%76il.test/login");
    assert_eq!(score(&f, "url.obfuscated"), Some(5.0));
    let f = href("http://evil\u{3002}test/login");
    assert_eq!(score(&f, "url.obfuscated"), Some(4.0));
    let f = href("http:\\\\evil.test\\login");
    assert_eq!(score(&f, "url.obfuscated"), Some(3.0));
}

// url.data_uri and url.javascript_uri

#[test]
fn flags_clickable_data_and_javascript_urls() {
    let f = href("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==");
    assert_eq!(score(&f, "url.data_uri"), Some(6.0));
    let f = href("java&#x09;script:location='https://evil.test/'");
    assert_eq!(score(&f, "url.javascript_uri"), Some(4.0));
    let f = html_findings(r#"<form action="javascript:void(0)"><input type=password></form>"#);
    assert_eq!(score(&f, "url.javascript_uri"), Some(4.0));
}

#[test]
fn ignores_inline_images_and_mail_links() {
    let f = html_findings(
        r##"<img src="data:image/png;base64,iVBORw0KGgo="><a href="mailto:help@paypal-support.test">Mail us</a>
           <a href="tel:+18005550100">Call</a><a href="#top">Top</a>"##,
    );
    assert!(f.is_empty(), "{f:?}");
}

// Merging

#[test]
fn merges_findings_by_name_keeping_the_highest_score() {
    let f = html_findings(
        r#"<a href="http://203.0.113.1/">a</a><a href="http://3232235777/">b</a>
           <a href="http://203.0.113.1/">a again</a>"#,
    );
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].score, 7.0);
    assert_eq!(f[0].evidence.len(), 2);
}

#[test]
fn orders_findings_by_score() {
    let f = text_findings("http://paypal.com@paypa1-login.top/x");
    let scores: Vec<f32> = f.iter().map(|f| f.score).collect();
    let mut sorted = scores.clone();
    sorted.sort_by(|a, b| b.total_cmp(a));
    assert_eq!(scores, sorted);
    assert!(f.iter().all(|f| f.family() == "url"));
}

#[test]
fn policy_blocklist_and_results_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<UrlPolicy>();
    shareable::<Blocklist>();
    shareable::<rampart_urls::HtmlScan>();
    shareable::<rampart_urls::Link>();
}
