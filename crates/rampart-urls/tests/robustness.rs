//! Extraction and judgement are total: any input yields a value, never a panic, in bounded time.

use proptest::prelude::*;
use rampart_urls::{judge, links_in_text, scan_html, UrlPolicy};

/// Fragments that steer random input into the interesting states of both scanners.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<a href=".to_string()),
        Just("</a>".to_string()),
        Just("<base href='http://b.test/'>".to_string()),
        Just("<!--".to_string()),
        Just("-->".to_string()),
        Just("<!--[if mso]>".to_string()),
        Just("<script>".to_string()),
        Just("</script".to_string()),
        Just("<form action=".to_string()),
        Just("<input type=password>".to_string()),
        Just("&#x".to_string()),
        Just("&amp".to_string()),
        Just("http://".to_string()),
        Just("hxxps[:]//".to_string()),
        Just("www.".to_string()),
        Just("[.]".to_string()),
        Just("xn--".to_string()),
        Just("@".to_string()),
        Just("/".to_string()),
        Just("paypal.com".to_string()),
        Just("3232235777".to_string()),
        Just("%2e".to_string()),
        Just("\u{430}".to_string()),
        Just("\u{200B}".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just(">".to_string()),
        "\\PC{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,300}") {
        let links = links_in_text(&s);
        let _ = judge(&links, &UrlPolicy::default());
        let scan = scan_html(&s);
        let _ = judge(&scan.links, &UrlPolicy::default());
    }

    #[test]
    fn markup_soup_never_panics(parts in proptest::collection::vec(fragment(), 0..40)) {
        let s: String = parts.concat();
        let links = links_in_text(&s);
        let _ = judge(&links, &UrlPolicy::default());
        let scan = scan_html(&s);
        prop_assert!(scan.visible_text.len() <= rampart_urls::MAX_VISIBLE_TEXT);
        let _ = judge(&scan.links, &UrlPolicy::default());
    }
}

#[test]
fn hostile_sizes_stay_bounded() {
    let many_links = "<a href=http://x.test/>x</a>".repeat(20_000);
    let scan = scan_html(&many_links);
    assert!(scan.links.len() <= 10_000);

    let defangs = "a[.]".repeat(100_000);
    let _ = links_in_text(&defangs);

    let long_host = format!("http://{}.com/", "a".repeat(100_000));
    let _ = judge(&links_in_text(&long_host), &UrlPolicy::default());

    let unclosed = format!("<a href=\"{}", "x".repeat(1_000_000));
    assert!(scan_html(&unclosed).links.is_empty());

    let text = "x".repeat(1_000_000);
    assert!(scan_html(&text).visible_text.len() <= rampart_urls::MAX_VISIBLE_TEXT);
}

#[test]
fn near_links_cost_linear_time() {
    // Each of these is a trigger that fails; a scanner that looked far ahead on every failure
    // would take seconds here.
    for unit in ["a.b/", "a[.]b", "x.y[.]z/", "www.", "hxxp[:]/", "a.bc/"] {
        let text = unit.repeat(250_000);
        let start = std::time::Instant::now();
        let _ = links_in_text(&text);
        let _ = scan_html(&text);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "{unit}: {:?}",
            start.elapsed()
        );
    }
}
