//! The `rampart` binary as an administrator uses it: real processes on a fresh data directory,
//! JSON output parsed back, errors checked for what they tell the user.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

/// A fresh data directory and the commands run against it.
struct Rampart {
    data: tempfile::TempDir,
}

impl Rampart {
    fn new() -> Self {
        Rampart {
            data: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// A data directory that already accepts mail for `example.com`.
    fn with_domain() -> Self {
        let rampart = Rampart::new();
        rampart.ok(&["domain", "add", "example.com"]);
        rampart
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rampart"));
        cmd.arg("--data")
            .arg(self.data.path())
            .args(args)
            // The environment must not pick another data directory or config for us.
            .env_remove("RAMPART_DATA")
            .env_remove("RAMPART_CONFIG")
            .env("USER", "tester")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run rampart")
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rampart");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("wait for rampart")
    }

    /// Runs a command that must succeed; returns its standard output.
    fn ok(&self, args: &[&str]) -> String {
        succeeded(args, self.run(args))
    }

    /// Runs a command with `--json` that must succeed; returns its output parsed.
    fn json(&self, args: &[&str]) -> Value {
        let args = [args, &["--json"]].concat();
        parse_json(&args, &self.ok(&args))
    }

    /// Runs a command that must fail; returns its standard error.
    fn fails(&self, args: &[&str]) -> String {
        failed(args, self.run(args))
    }

    fn add_user(&self, address: &str) {
        self.ok(&["user", "add", address]);
    }
}

fn succeeded(args: &[&str], out: Output) -> String {
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 stdout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "`rampart {}` failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        args.join(" "),
        out.status
    );
    stdout
}

fn failed(args: &[&str], out: Output) -> String {
    let stderr = String::from_utf8(out.stderr).expect("UTF-8 stderr");
    assert!(
        !out.status.success(),
        "`rampart {}` should have failed; stdout: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.starts_with("error: "),
        "errors go to stderr as `error: ...`: {stderr:?}"
    );
    stderr
}

fn parse_json(args: &[&str], stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| {
        panic!(
            "`rampart {}` printed no JSON ({e}): {stdout}",
            args.join(" ")
        )
    })
}

fn domain_names(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|d| d["name"].as_str().expect("domain name"))
        .collect()
}

fn write_file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path.to_str().expect("UTF-8 path").to_string()
}

#[test]
fn adds_lists_and_removes_domains() {
    let rampart = Rampart::new();
    let added = rampart.json(&["domain", "add", "example.com"]);
    assert_eq!(added["name"], "example.com");
    assert!(added["created_at"].is_number(), "{added}");
    rampart.ok(&["domain", "add", "example.org"]);

    let list = rampart.json(&["domain", "list"]);
    assert_eq!(domain_names(&list), ["example.com", "example.org"]);

    let removed = rampart.json(&["domain", "remove", "example.com"]);
    assert_eq!(removed, json!({ "removed": "example.com" }));
    assert_eq!(
        domain_names(&rampart.json(&["domain", "list"])),
        ["example.org"]
    );
}

#[test]
fn stores_domain_names_lower_cased_without_the_trailing_dot() {
    let rampart = Rampart::new();
    let added = rampart.json(&["domain", "add", "Mail.Example.COM."]);
    assert_eq!(added["name"], "mail.example.com");
}

#[test]
fn refuses_to_add_a_domain_twice() {
    let rampart = Rampart::with_domain();
    let stderr = rampart.fails(&["domain", "add", "example.com"]);
    assert!(
        stderr.contains("domain example.com already exists"),
        "{stderr}"
    );
}

#[test]
fn refuses_to_remove_a_domain_that_still_has_accounts() {
    let rampart = Rampart::with_domain();
    rampart.add_user("alice@example.com");

    let stderr = rampart.fails(&["domain", "remove", "example.com"]);
    assert!(
        stderr.contains("domain example.com still has 1 account(s)"),
        "{stderr}"
    );
    assert!(stderr.contains("remove them first"), "{stderr}");
    assert_eq!(
        domain_names(&rampart.json(&["domain", "list"])),
        ["example.com"]
    );
}

#[test]
fn refuses_to_remove_a_domain_it_does_not_know() {
    let rampart = Rampart::with_domain();
    let stderr = rampart.fails(&["domain", "remove", "example.net"]);
    assert!(stderr.contains("example.net"), "{stderr}");
    assert!(stderr.contains("not found"), "{stderr}");
}

#[test]
fn creates_an_account_with_password_profile_and_quota() {
    let rampart = Rampart::with_domain();
    let args = [
        "user",
        "add",
        "Alice@Example.com",
        "--password-stdin",
        "--name",
        "Alice Liddell",
        "--department",
        "Sales",
        "--level",
        "manager",
        "--quota-mb",
        "100",
        "--json",
    ];
    let created = parse_json(
        &args,
        &succeeded(
            &args,
            rampart.run_with_stdin(&args, "correct horse battery\n"),
        ),
    );
    assert_eq!(created["address"], "alice@example.com");

    let shown = rampart.json(&["user", "show", "alice@example.com"]);
    assert_eq!(shown["address"], "alice@example.com");
    assert_eq!(shown["has_password"], true);
    assert_eq!(shown["name"], "Alice Liddell");
    assert_eq!(shown["department"], "Sales");
    assert_eq!(shown["level"], "manager");
    assert_eq!(shown["quota_bytes"], 100 * 1024 * 1024);
    assert_eq!(shown["used_bytes"], 0);
    assert_eq!(shown["disabled"], false);
    assert!(
        shown["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "RFC 3339 in UTC: {shown}"
    );
}

#[test]
fn an_account_created_without_options_has_no_password_and_no_quota() {
    let rampart = Rampart::with_domain();
    rampart.add_user("bob@example.com");
    let shown = rampart.json(&["user", "show", "bob@example.com"]);
    assert_eq!(shown["has_password"], false);
    assert_eq!(shown["quota_bytes"], Value::Null);
    assert_eq!(shown["name"], Value::Null);
}

#[test]
fn refuses_a_password_shorter_than_eight_characters() {
    let rampart = Rampart::with_domain();
    let args = ["user", "add", "carol@example.com", "--password-stdin"];
    let stderr = failed(&args, rampart.run_with_stdin(&args, "short\n"));
    assert!(stderr.contains("at least 8 characters"), "{stderr}");
    let stderr = rampart.fails(&["user", "show", "carol@example.com"]);
    assert!(stderr.contains("no account carol@example.com"), "{stderr}");
}

#[test]
fn refuses_an_account_in_an_unknown_domain_and_names_the_command_that_adds_it() {
    let rampart = Rampart::with_domain();
    let stderr = rampart.fails(&["user", "add", "dave@nowhere.example"]);
    assert!(
        stderr.contains("`rampart domain add nowhere.example`"),
        "{stderr}"
    );
}

#[test]
fn refuses_an_invalid_address() {
    let rampart = Rampart::with_domain();
    let out = rampart.run(&["user", "add", "not-an-address"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not-an-address"), "{stderr}");
}

#[test]
fn lists_accounts_and_filters_them_by_domain() {
    let rampart = Rampart::with_domain();
    rampart.ok(&["domain", "add", "example.org"]);
    rampart.add_user("alice@example.com");
    rampart.add_user("bob@example.com");
    rampart.add_user("carol@example.org");

    let addresses = |list: Value| -> Vec<String> {
        list.as_array()
            .expect("a JSON array")
            .iter()
            .map(|a| a["address"].as_str().expect("address").to_string())
            .collect()
    };
    let mut all = addresses(rampart.json(&["user", "list"]));
    all.sort();
    assert_eq!(
        all,
        ["alice@example.com", "bob@example.com", "carol@example.org"]
    );
    assert_eq!(
        addresses(rampart.json(&["user", "list", "--domain", "example.org"])),
        ["carol@example.org"]
    );
}

#[test]
fn disabling_and_enabling_an_account_shows_in_its_status() {
    let rampart = Rampart::with_domain();
    rampart.add_user("alice@example.com");

    let disabled = rampart.json(&["user", "disable", "alice@example.com"]);
    assert_eq!(disabled["disabled"], true);
    assert_eq!(
        rampart.json(&["user", "show", "alice@example.com"])["disabled"],
        true
    );

    let enabled = rampart.json(&["user", "enable", "alice@example.com"]);
    assert_eq!(enabled["disabled"], false);
    assert_eq!(
        rampart.json(&["user", "show", "alice@example.com"])["disabled"],
        false
    );
}

#[test]
fn adds_lists_and_removes_aliases_and_their_targets() {
    let rampart = Rampart::with_domain();
    rampart.add_user("alice@example.com");
    rampart.add_user("bob@example.com");

    let added = rampart.json(&["alias", "add", "sales@example.com", "alice@example.com"]);
    assert_eq!(
        added,
        json!({ "address": "sales@example.com", "targets": ["alice@example.com"] })
    );
    rampart.ok(&["alias", "add", "sales@example.com", "bob@example.com"]);
    let list = rampart.json(&["alias", "list"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let mut targets: Vec<&str> = list[0]["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| t.as_str().expect("target"))
        .collect();
    targets.sort();
    assert_eq!(targets, ["alice@example.com", "bob@example.com"]);

    let removed = rampart.json(&["alias", "remove", "sales@example.com", "bob@example.com"]);
    assert_eq!(
        removed,
        json!({ "removed": "sales@example.com", "target": "bob@example.com" })
    );
    assert_eq!(
        rampart.json(&["alias", "list"]),
        json!([{ "address": "sales@example.com", "targets": ["alice@example.com"] }])
    );

    let removed = rampart.json(&["alias", "remove", "sales@example.com"]);
    assert_eq!(
        removed,
        json!({ "removed": "sales@example.com", "target": null })
    );
    assert_eq!(rampart.json(&["alias", "list"]), json!([]));
}

#[test]
fn refuses_an_alias_that_is_already_an_account() {
    let rampart = Rampart::with_domain();
    rampart.add_user("alice@example.com");
    rampart.add_user("bob@example.com");
    let stderr = rampart.fails(&["alias", "add", "alice@example.com", "bob@example.com"]);
    assert!(
        stderr.contains("alice@example.com is an account, not an alias"),
        "{stderr}"
    );
}

#[test]
fn the_example_config_loads_back_to_the_defaults() {
    let rampart = Rampart::new();
    let example = rampart.ok(&["config", "example"]);
    let file = write_file(rampart.data.path(), "rampart.toml", &example);

    let loaded = rampart.json(&["--config", &file, "config", "show"]);
    let defaults = rampart.json(&["config", "show"]);
    assert_eq!(loaded, defaults);
    assert_eq!(defaults["hostname"], "localhost");
    assert_eq!(defaults["smtp"]["max_message_size"], 52_428_800);
}

#[test]
fn an_unknown_config_key_is_an_error_that_names_the_key() {
    let rampart = Rampart::new();
    let file = write_file(
        rampart.data.path(),
        "rampart.toml",
        "[smtp]\nlisten_on = \"0.0.0.0:25\"\n",
    );
    let stderr = rampart.fails(&["--config", &file, "config", "show"]);
    assert!(stderr.contains("listen_on"), "{stderr}");
    assert!(stderr.contains("is not valid"), "{stderr}");
    assert!(stderr.contains("rampart config example"), "{stderr}");
}

#[test]
fn an_invalid_config_value_is_an_error_that_names_the_key() {
    let rampart = Rampart::new();
    let file = write_file(
        rampart.data.path(),
        "rampart.toml",
        "[smtp]\nmax_command_line = 100\n",
    );
    let stderr = rampart.fails(&["--config", &file, "config", "show"]);
    assert!(stderr.contains("smtp.max_command_line"), "{stderr}");
}

#[test]
fn admin_commands_also_refuse_an_invalid_config() {
    let rampart = Rampart::new();
    let file = write_file(rampart.data.path(), "rampart.toml", "hostnme = \"mx\"\n");
    let stderr = rampart.fails(&["--config", &file, "domain", "add", "example.com"]);
    assert!(stderr.contains("hostnme"), "{stderr}");
}

#[test]
fn a_missing_config_file_is_an_error_that_names_the_file() {
    let rampart = Rampart::new();
    let stderr = rampart.fails(&["--config", "/nonexistent/rampart.toml", "config", "show"]);
    assert!(
        stderr.contains("cannot read config file /nonexistent/rampart.toml"),
        "{stderr}"
    );
}

#[test]
fn commands_on_a_data_dir_without_data_explain_how_to_start() {
    let rampart = Rampart::new();
    for args in [
        &["domain", "list"][..],
        &["user", "list"],
        &["alias", "list"],
        &["mail", "list", "alice@example.com"],
        &["events", "list"],
    ] {
        let stderr = rampart.fails(args);
        assert!(stderr.contains("no Rampart data in"), "{stderr}");
        assert!(stderr.contains("rampart domain add"), "{stderr}");
    }
    // Looking must not create anything.
    assert!(!rampart.data.path().join("meta.sqlite").exists());
}

#[test]
fn lists_no_mail_for_a_new_account() {
    let rampart = Rampart::with_domain();
    rampart.add_user("alice@example.com");
    assert_eq!(
        rampart.json(&["mail", "list", "alice@example.com"]),
        json!([])
    );
    assert_eq!(
        rampart.json(&["mail", "deleted", "alice@example.com"]),
        json!([])
    );
}

#[test]
fn listing_mail_of_an_unknown_account_is_an_error() {
    let rampart = Rampart::with_domain();
    let stderr = rampart.fails(&["mail", "list", "nobody@example.com", "--json"]);
    assert!(stderr.contains("nobody@example.com"), "{stderr}");
}

#[test]
fn records_domain_and_account_events_with_the_cli_user_as_actor() {
    let rampart = Rampart::with_domain();
    rampart.add_user("alice@example.com");

    let events = rampart.json(&["events", "list"]);
    let events = events.as_array().expect("a JSON array");
    let domain_added = events
        .iter()
        .find(|e| e["kind"] == "domain_added")
        .unwrap_or_else(|| panic!("no domain_added event: {events:?}"));
    assert_eq!(domain_added["detail"]["domain"], "example.com");
    assert_eq!(domain_added["actor"], "cli:tester");
    let account_created = events
        .iter()
        .find(|e| e["kind"] == "account_created")
        .unwrap_or_else(|| panic!("no account_created event: {events:?}"));
    assert_eq!(account_created["subject"], "alice@example.com");
    // Newest first.
    assert_eq!(events[0]["kind"], "account_created");

    let only_accounts = rampart.json(&["events", "list", "--kind", "account_created"]);
    assert_eq!(only_accounts.as_array().map(Vec::len), Some(1));
}

#[test]
fn an_unknown_event_kind_is_an_error_that_names_it() {
    let rampart = Rampart::with_domain();
    let stderr = rampart.fails(&["events", "list", "--kind", "domain_exploded"]);
    assert!(stderr.contains("domain_exploded"), "{stderr}");
}

fn scan(rampart: &Rampart, args: &[&str]) -> (i32, String, String) {
    let out = rampart.run(&[&["scan"], args].concat());
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn scan_exits_0_for_clean_mail_and_2_for_gtube_with_a_json_report() {
    let rampart = Rampart::with_domain();
    let dir = tempfile::tempdir().expect("tempdir");
    let clean = write_file(
        dir.path(),
        "clean.eml",
        "From: a@b.test\r\nSubject: lunch\r\n\r\nSee you at noon.\r\n",
    );
    let (code, stdout, _) = scan(&rampart, &[&clean, "--json"]);
    assert_eq!(code, 0, "{stdout}");
    let report = parse_json(&["scan"], &stdout);
    assert_eq!(report["action"], "accept");
    assert_eq!(report["findings"], json!([]));

    let gtube = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpora/av-test/gtube.txt"
    );
    let (code, stdout, _) = scan(&rampart, &[gtube, "--json"]);
    assert_eq!(code, 2, "{stdout}");
    let report = parse_json(&["scan"], &stdout);
    assert_eq!(report["action"], "reject");
    assert_eq!(report["findings"][0]["name"], "content.gtube");

    let (code, stdout, _) = scan(&rampart, &[gtube]);
    assert_eq!(code, 2);
    assert!(
        stdout.contains("verdict  reject") && stdout.contains("content.gtube"),
        "{stdout}"
    );
}

#[test]
fn scan_exits_1_for_junk_and_knows_the_organisations_people() {
    let rampart = Rampart::with_domain();
    rampart.ok(&["user", "add", "wei@example.com", "--name", "Wei Li"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let bec = write_file(
        dir.path(),
        "bec.eml",
        "From: \"Wei Li\" <wei.li.office@gmail.com>\r\nSubject: urgent\r\n\r\nWire it today.\r\n",
    );
    let (code, stdout, _) = scan(&rampart, &[&bec, "--json"]);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(
        parse_json(&["scan"], &stdout)["findings"][0]["name"],
        "phish.display_name_impersonation"
    );
}

#[test]
fn scan_exits_3_with_a_clear_error_for_an_unreadable_file() {
    let rampart = Rampart::new();
    let (code, _, stderr) = scan(&rampart, &["/nonexistent/message.eml"]);
    assert_eq!(code, 3);
    assert!(
        stderr.contains("cannot read /nonexistent/message.eml"),
        "{stderr}"
    );
}

#[test]
fn scans_a_labelled_corpus_index() {
    let rampart = Rampart::new();
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(dir.path(), "a.eml", "Subject: hi\r\n\r\nhello\r\n");
    write_file(dir.path(), "b.eml", "Subject: x\r\n\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n");
    let index = write_file(dir.path(), "index", "ham a.eml\nspam b.eml\n");
    let report = rampart.json(&["scan", "--index", &index]);
    assert_eq!(report["messages"], 2);
    assert_eq!(report["by_label"]["ham"]["accept"], 1);
    assert_eq!(report["by_label"]["spam"]["reject"], 1);
    assert_eq!(report["findings"]["content.gtube"], 1);
}

#[test]
fn an_empty_quarantine_lists_as_an_empty_array() {
    let rampart = Rampart::with_domain();
    assert_eq!(rampart.json(&["quarantine", "list"]), json!([]));
    let err = rampart.fails(&["quarantine", "release", "7"]);
    assert!(err.contains("quarantined message 7 not found"), "{err}");
}

#[test]
fn trains_a_spam_model_and_evaluates_it_with_both_protocols() {
    let rampart = Rampart::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut index = String::new();
    for i in 0..30 {
        let ham = format!("Subject: meeting notes {i}\r\n\r\nHi team, the quarterly review moved to room {i}. Agenda attached.\r\n");
        let spam = format!("Subject: WIN CASH NOW {i}\r\n\r\nCongratulations winner! Claim your free prize money {i} today, click here!!!\r\n");
        write_file(dir.path(), &format!("h{i}.eml"), &ham);
        write_file(dir.path(), &format!("s{i}.eml"), &spam);
        index.push_str(&format!("ham h{i}.eml\nspam s{i}.eml\n"));
    }
    let index = write_file(dir.path(), "index", &index);
    let model = dir.path().join("model.rmc");
    let model = model.to_str().expect("UTF-8 path");
    let trained = rampart.json(&[
        "train", "spam", "--index", &index, "--out", model, "--bits", "16",
    ]);
    assert_eq!(trained["messages"], 60);
    assert_eq!(trained["ham"], 30);
    let batch = rampart.json(&["eval", "spam", "--index", &index, "--model", model]);
    for key in [
        "messages",
        "ham",
        "spam",
        "spam_recall",
        "ham_fpr",
        "auc",
        "one_minus_roca_pct",
        "threshold",
        "msgs_per_sec",
    ] {
        assert!(batch.get(key).is_some(), "{key} missing: {batch}");
    }
    assert!(batch["auc"].as_f64().expect("auc") > 0.99, "{batch}");
    let scores = dir.path().join("scores.tsv");
    let trec = rampart.json(&[
        "eval",
        "spam",
        "--index",
        &index,
        "--protocol",
        "trec",
        "--scores",
        scores.to_str().expect("path"),
    ]);
    assert_eq!(trec["messages"], 60);
    let lines = std::fs::read_to_string(&scores).expect("scores file");
    assert_eq!(lines.lines().count(), 60);
    assert!(lines.lines().next().expect("line").split('\t').count() == 3);
    let err = rampart.fails(&["eval", "spam", "--index", &index, "--protocol", "nonsense"]);
    assert!(err.contains("batch or trec"), "{err}");
}

#[test]
fn reporting_spam_trains_the_users_own_filter_and_nobody_elses() {
    let rampart = Rampart::with_domain();
    rampart.add_user("alice@example.com");
    rampart.add_user("bob@example.com");
    let dir = tempfile::tempdir().expect("tempdir");
    let newsletter = |i: u32, coins: &str| {
        format!(
            "From: Crypto Club <news@coinclub.test>\r\nSubject: Weekly token picks {i}\r\n\r\n\
This week's token picks from the Coin Club analysts: {coins} and new listings. \
Join our Telegram group for live signals. Issue {i}.\r\n"
        )
    };
    for (i, coins) in [
        (1, "Solana, Avalanche"),
        (2, "Tron, Stellar"),
        (3, "Litecoin, Monero"),
    ] {
        let path = write_file(dir.path(), &format!("n{i}.eml"), &newsletter(i, coins));
        let imported = rampart.json(&["mail", "import", "alice@example.com", &path]);
        let id = imported["id"].to_string();
        let learned = rampart.json(&["mail", "report", "alice@example.com", &id, "spam"]);
        assert!(
            learned["spam_probability_after"].as_f64()
                > learned["spam_probability_before"].as_f64()
        );
    }
    let similar = write_file(dir.path(), "n4.eml", &newsletter(4, "Cardano, Polygon"));
    let spam_probability = |who: &str| -> f64 {
        let report = rampart.json(&["scan", &similar, "--for", who]);
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["name"] == "spam.classifier")
            .and_then(|f| f["evidence"][0].as_str())
            .and_then(|e| e.rsplit(' ').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or(0.0)
    };
    assert!(
        spam_probability("alice@example.com") > 0.5,
        "alice taught her filter"
    );
    assert!(
        spam_probability("bob@example.com") < 0.5,
        "bob's verdict is the global one"
    );
    let events = rampart.json(&["events", "list", "--kind", "spam_reported"]);
    assert_eq!(events.as_array().expect("events").len(), 3);
}

#[test]
fn legal_holds_are_placed_listed_and_released_with_reasons() {
    let rampart = Rampart::with_domain();
    rampart.add_user("bob@example.com");
    let hold = rampart.json(&[
        "legal-hold",
        "add",
        "--person",
        "Bob@Example.com",
        "--reason",
        "matter 2026-17",
    ]);
    assert_eq!(hold["kind"], "person");
    assert_eq!(hold["target"], "bob@example.com");
    let search = rampart.json(&[
        "legal-hold",
        "add",
        "--search",
        "from:partner.test after:2026-01-01",
        "--reason",
        "audit",
    ]);
    assert_eq!(search["kind"], "search");
    let err = rampart.fails(&[
        "legal-hold",
        "add",
        "--search",
        "after:someday",
        "--reason",
        "x",
    ]);
    assert!(
        err.contains("after"),
        "a bad search is refused up front: {err}"
    );
    let err = rampart.fails(&[
        "legal-hold",
        "add",
        "--person",
        "bob@example.com",
        "--reason",
        " ",
    ]);
    assert!(err.contains("reason"), "{err}");
    assert_eq!(
        rampart
            .json(&["legal-hold", "list"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    rampart.ok(&["legal-hold", "release", &hold["id"].to_string()]);
    let active = rampart.json(&["legal-hold", "list"]);
    assert_eq!(active.as_array().unwrap().len(), 1);
    assert_eq!(
        rampart
            .json(&["legal-hold", "list", "--all"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let err = rampart.fails(&["legal-hold", "release", &hold["id"].to_string()]);
    assert!(err.contains("already released"), "{err}");
}

#[test]
fn roles_audit_verification_and_export_from_the_command_line() {
    let rampart = Rampart::with_domain();
    rampart.add_user("carol@example.com");
    let carol = rampart.json(&["user", "role", "carol@example.com", "auditor"]);
    assert_eq!(carol["role"], "auditor");
    let err = rampart.fails(&["user", "role", "carol@example.com", "root"]);
    assert!(err.contains("user, admin or auditor"), "{err}");

    let key = rampart.json(&["audit", "key"])["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(key.len(), 64);
    let signed = rampart.json(&["audit", "checkpoint"]);
    assert_eq!(signed["public_key"], key.as_str());
    let report = rampart.json(&["audit", "verify", "--public-key", &key]);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["unsigned_tail"], 0);
    // Pinning another key: the checkpoint no longer counts as trusted (exit status 1).
    let out = rampart.run(&["audit", "verify", "--public-key", &"ab".repeat(32)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("TAMPERED"));

    let found = rampart.json(&[
        "audit",
        "search",
        "--kind",
        "role_changed",
        "--actor",
        "cli:tester",
    ]);
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["detail"]["to"], "auditor");
    let out = rampart.data.path().join("audit.jsonl");
    rampart.ok(&["audit", "export", "--out", out.to_str().unwrap()]);
    let lines: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<i64> = lines.iter().map(|l| l["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>());
    assert!(lines
        .iter()
        .all(|l| l["hash"].as_str().unwrap().len() == 64));
    let exported = rampart.json(&["audit", "search", "--kind", "audit_exported"]);
    assert_eq!(
        exported.as_array().unwrap().len(),
        1,
        "the export is itself audited"
    );
}
