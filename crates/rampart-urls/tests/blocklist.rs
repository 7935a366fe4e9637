//! Blocklist files: the feed formats in `shared/corpora/urls`, manifests, and hot reload.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use rampart_urls::{judge, links_in_text, BlockMatch, Blocklist, UrlPolicy};

fn corpus(name: &str) -> Option<std::path::PathBuf> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/urls")
        .join(name);
    path.exists().then_some(path)
}

#[test]
fn loads_the_phishing_database_feeds() {
    let (Some(domains), Some(links), Some(ips)) = (
        corpus("phishing-domains-ACTIVE2.txt"),
        corpus("phishing-links-INACTIVE1.txt"),
        corpus("phishing-IPs-ACTIVE.txt"),
    ) else {
        eprintln!("skipped: corpora not found");
        return;
    };
    let list = Blocklist::load([&domains, &links, &ips]).unwrap();
    let stats = list.stats();
    assert!(stats.domains > 20_000, "{stats:?}");
    assert!(stats.urls > 25_000, "{stats:?}");
    assert!(stats.ips > 7_000, "{stats:?}");
    // sites.google.com and telegra.ph are in the feed; listing them whole would be wrong.
    assert!(stats.too_broad >= 2, "{stats:?}");

    let set = list.snapshot();
    let domain_line = std::fs::read_to_string(&domains).unwrap();
    let listed = domain_line
        .lines()
        .find(|l| l.ends_with(".vercel.app"))
        .unwrap()
        .trim();
    let link = &links_in_text(&format!("https://login.{listed}/x"))[0];
    assert_eq!(
        set.check(link),
        Some(BlockMatch::Domain(listed.to_string()))
    );

    let url_line = std::fs::read_to_string(&links).unwrap();
    let listed_url = url_line
        .lines()
        .find(|l| l.starts_with("http://") && l[7..].contains("/login"))
        .unwrap();
    let link = &links_in_text(listed_url)[0];
    assert!(
        matches!(set.check(link), Some(BlockMatch::Url(_))),
        "{listed_url}"
    );
    // The same page over https, with a fragment, is the same page.
    let same_page = format!("https://{}#step2", &listed_url[7..]);
    let link = &links_in_text(&same_page)[0];
    assert!(
        matches!(set.check(link), Some(BlockMatch::Url(_))),
        "{same_page}"
    );

    let link = &links_in_text("https://sites.google.com/view/our-team-offsite")[0];
    assert_eq!(set.check(link), None);
}

#[test]
fn loads_manifests_and_reports_missing_parts() {
    let Some(manifest) = corpus("phishing-domains-ACTIVE.manifest.txt") else {
        eprintln!("skipped: corpora not found");
        return;
    };
    let list = Blocklist::load([manifest]).unwrap();
    let stats = list.stats();
    assert!(stats.domains > 20_000);
    assert_eq!(stats.missing_parts.len(), 1, "{stats:?}");
    assert!(stats.missing_parts[0].ends_with("phishing-domains-ACTIVE1.txt"));
}

#[test]
fn reports_a_missing_list_file_as_an_error() {
    let err = Blocklist::load(["/nonexistent/rampart/list.txt"]).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/rampart/list.txt"));
}

#[test]
fn reloads_when_a_list_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("part1.txt");
    let manifest = dir.path().join("feed.manifest.txt");
    std::fs::write(&part, "first-kit.test\n").unwrap();
    std::fs::write(&manifest, "part1.txt\npart2.txt\n").unwrap();

    let list = Arc::new(
        Blocklist::load([&manifest])
            .unwrap()
            .with_check_interval(Duration::ZERO),
    );
    let policy = UrlPolicy::default().with_blocklist(list.clone());
    let listed = |url: &str| {
        judge(&links_in_text(url), &policy)
            .iter()
            .any(|f| f.name == "url.blocklisted")
    };
    assert!(listed("https://first-kit.test/"));
    assert!(!listed("https://second-kit.test/"));
    assert!(!list.reload_if_changed().unwrap(), "nothing changed yet");

    // A part that appears counts as a change, even with the same modification time.
    let mut file = std::fs::File::create(dir.path().join("part2.txt")).unwrap();
    writeln!(file, "second-kit.test").unwrap();
    drop(file);
    assert!(list.reload_if_changed().unwrap());
    assert!(listed("https://second-kit.test/"));
    assert!(list.stats().missing_parts.is_empty());

    // A failed reload keeps the previous generation.
    std::fs::remove_file(&manifest).unwrap();
    assert!(list.reload_if_changed().is_err());
    assert!(listed("https://first-kit.test/"));
}

#[test]
fn skips_the_file_check_until_the_interval_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.txt");
    std::fs::write(&path, "a-kit.test\n").unwrap();
    let list = Blocklist::load([&path])
        .unwrap()
        .with_check_interval(Duration::from_secs(3600));
    assert!(
        !list.reload_if_changed().unwrap(),
        "first check: stamps equal"
    );
    std::fs::write(&path, "a-kit.test\nb-kit.test\n").unwrap();
    assert!(!list.reload_if_changed().unwrap(), "not due for an hour");
    list.reload().unwrap();
    assert_eq!(list.stats().domains, 2);
}
