//! The archive index as its callers use it: messages in, searches out.

use std::path::{Path, PathBuf};

use rampart_archive::{
    doc_from_raw, ArchiveError, ArchiveIndex, ArchiveQuery, SearchResults, SortBy,
};
use rampart_extract::bench::build;

const DAY: i64 = 86_400;
/// 2024-03-01T00:00:00Z.
const MARCH_1: i64 = 1_709_251_200;

fn plain(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{}@mail.example>\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        subject.len()
    )
    .into_bytes()
}

fn with_attachment(
    subject: &str,
    body: &str,
    name: &str,
    content_type: &str,
    bytes: &[u8],
) -> Vec<u8> {
    let mut raw = format!(
        "From: Legal <legal@corp.example>\r\nTo: ceo@corp.example\r\nSubject: {subject}\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n--b1\r\nContent-Type: {content_type}\r\n\
Content-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    )
    .into_bytes();
    raw.extend_from_slice(base64(bytes).as_bytes());
    raw.extend_from_slice(b"\r\n--b1--\r\n");
    raw
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push_str("\r\n");
        }
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An index holding `messages` as (id, at, direction, raw), committed.
fn index_of(messages: &[(u64, i64, &str, Vec<u8>)]) -> ArchiveIndex {
    let index = ArchiveIndex::open_in_ram().expect("index");
    let docs = messages
        .iter()
        .map(|(id, at, dir, raw)| doc_from_raw(*id, *at, dir, "", &[], raw))
        .collect();
    index.add(docs).expect("add");
    index
        .commit(messages.iter().map(|m| m.0).max().unwrap_or(0))
        .expect("commit");
    index
}

fn ids(index: &ArchiveIndex, q: &str) -> Vec<u64> {
    let query = ArchiveQuery::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    index
        .matching_ids(&query)
        .unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn search(index: &ArchiveIndex, q: &str) -> SearchResults {
    let query = ArchiveQuery::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    index
        .search(&query, 10, 0)
        .unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn mailbox() -> ArchiveIndex {
    index_of(&[
        (
            1,
            MARCH_1,
            "inbound",
            plain(
                "Alice Smith <alice.smith@mail.example.com>",
                "Bob <bob@corp.example>, carol@corp.example",
                "Quarterly report draft",
                "Please review the quarterly report before Friday.",
            ),
        ),
        (
            2,
            MARCH_1 + DAY,
            "outbound",
            plain(
                "bob@corp.example",
                "alice.smith@mail.example.com",
                "Re: Quarterly report draft",
                "The report looks fine; the quarterly numbers need a second look.",
            ),
        ),
        (
            3,
            MARCH_1 + 10 * DAY,
            "inbound",
            plain(
                "\"Example Billing\" <billing@example.org>",
                "bob@corp.example",
                "Your invoice",
                "Invoice 2024-117 is attached to your account page.",
            ),
        ),
    ])
}

#[test]
fn finds_the_sender_by_whole_address_local_part_domain_and_name() {
    let index = mailbox();
    assert_eq!(ids(&index, "from:alice"), [1]);
    assert_eq!(ids(&index, "from:alice.smith@mail.example.com"), [1]);
    assert_eq!(ids(&index, "from:ALICE.SMITH@MAIL.EXAMPLE.COM"), [1]);
    assert_eq!(ids(&index, "from:example.com"), [1], "parent domain");
    assert_eq!(ids(&index, "from:mail.example.com"), [1]);
    assert_eq!(ids(&index, "from:smith"), [1]);
    assert_eq!(
        ids(&index, "from:\"alice smith\""),
        [1],
        "display name phrase"
    );
    assert_eq!(ids(&index, "from:example.org"), [3]);
    assert_eq!(ids(&index, "from:billing"), [3]);
    assert!(ids(&index, "from:example.net").is_empty());
    assert!(
        ids(&index, "from:alice@example.com").is_empty(),
        "another address"
    );
}

#[test]
fn finds_the_envelope_sender_and_recipients() {
    let index = ArchiveIndex::open_in_ram().unwrap();
    let raw = plain(
        "news@list.example",
        "list@list.example",
        "Digest",
        "weekly digest",
    );
    let doc = doc_from_raw(
        9,
        MARCH_1,
        "inbound",
        "bounces+123@mailer.example",
        &["dave@corp.example".into()],
        &raw,
    );
    index.add(vec![doc]).unwrap();
    index.commit(9).unwrap();
    assert_eq!(ids(&index, "from:mailer.example"), [9]);
    assert_eq!(ids(&index, "from:list.example"), [9]);
    assert_eq!(
        ids(&index, "to:dave@corp.example"),
        [9],
        "envelope recipient"
    );
    assert_eq!(ids(&index, "to:list@list.example"), [9], "header To");
    assert_eq!(ids(&index, "to:corp.example"), [9]);
}

#[test]
fn finds_recipients_of_to_and_cc_by_parts() {
    let index = mailbox();
    assert_eq!(ids(&index, "to:carol"), [1]);
    assert_eq!(ids(&index, "to:bob@corp.example"), [1, 3]);
    assert_eq!(ids(&index, "cc:example.com"), [2]);
}

#[test]
fn searches_subject_body_and_phrases() {
    let index = mailbox();
    assert_eq!(ids(&index, "subject:invoice"), [3]);
    assert_eq!(ids(&index, "subject:\"report draft\""), [1, 2]);
    assert_eq!(ids(&index, "\"quarterly report\""), [1, 2], "subject of 2");
    assert_eq!(ids(&index, "body:\"quarterly report\""), [1]);
    assert!(ids(&index, "body:\"report quarterly\"").is_empty());
    assert_eq!(ids(&index, "review friday"), [1]);
    assert_eq!(
        ids(&index, "2024-117"),
        [3],
        "a word of several tokens is a phrase"
    );
    assert!(ids(&index, "review invoice").is_empty(), "words are AND-ed");
}

#[test]
fn searches_by_date_range_and_direction() {
    let index = mailbox();
    assert_eq!(
        ids(&index, "after:2024-03-01"),
        [1, 2, 3],
        "after is inclusive"
    );
    assert_eq!(ids(&index, "after:2024-03-02"), [2, 3]);
    assert_eq!(ids(&index, "before:2024-03-02"), [1], "before is exclusive");
    assert_eq!(
        ids(&index, "after:2024-03-01T12:00:00Z before:2024-03-05"),
        [2]
    );
    assert_eq!(ids(&index, "direction:outbound"), [2]);
    assert_eq!(ids(&index, "report direction:inbound"), [1]);
    let q = ArchiveQuery {
        since: Some(MARCH_1 + 5 * DAY),
        ..ArchiveQuery::default()
    };
    assert_eq!(index.matching_ids(&q).unwrap(), [3]);
}

#[test]
fn finds_a_message_by_its_message_id() {
    let index = mailbox();
    let subject_len = "Your invoice".len();
    let with = format!("messageid:<{subject_len}@mail.example>");
    let without = format!("messageid:{subject_len}@mail.example");
    assert_eq!(ids(&index, &with), [3]);
    assert_eq!(ids(&index, &without), [3]);
    assert!(ids(&index, "messageid:nope@mail.example").is_empty());
}

#[test]
fn orders_newest_first_or_by_relevance_and_pages() {
    let index = mailbox();
    let all = search(&index, "report");
    assert_eq!(all.total, 2);
    assert_eq!(all.hits.iter().map(|h| h.id).collect::<Vec<_>>(), [2, 1]);
    let hit = &all.hits[1];
    assert_eq!(hit.at, MARCH_1);
    assert_eq!(hit.direction, "inbound");
    assert_eq!(hit.from, "Alice Smith <alice.smith@mail.example.com>");
    assert_eq!(hit.subject, "Quarterly report draft");

    let q = ArchiveQuery::parse("after:2024-01-01").unwrap();
    let page = index.search(&q, 1, 1).unwrap();
    assert_eq!(page.total, 3);
    assert_eq!(page.hits.iter().map(|h| h.id).collect::<Vec<_>>(), [2]);
    assert!(index.search(&q, 10, 99).unwrap().hits.is_empty());
    assert!(index
        .search(&q, usize::MAX, usize::MAX)
        .unwrap()
        .hits
        .is_empty());

    // "quarterly" twice in 2's body and subject, once in 1's body and subject.
    let q = ArchiveQuery::parse("quarterly").unwrap();
    let ranked = index.search_by(&q, SortBy::Relevance, 10, 0).unwrap();
    assert_eq!(ranked.total, 2);
    assert!(ranked.hits.iter().all(|h| h.score > 0.0));
    assert!(ranked.hits[0].score >= ranked.hits[1].score);
}

#[test]
fn finds_attachment_text_of_pdf_and_docx_and_file_names() {
    let pdf = build::pdf(&[vec![
        "Master services agreement".into(),
        "Termination fee 40000".into(),
    ]]);
    let docx = build::docx(&build::paragraph(
        "Confidential merger memorandum for Project Falcon",
    ));
    let index = index_of(&[
        (
            1,
            MARCH_1,
            "inbound",
            with_attachment(
                "Contract",
                "see attached",
                "msa-final.pdf",
                "application/pdf",
                &pdf,
            ),
        ),
        (
            2,
            MARCH_1,
            "outbound",
            with_attachment(
                "Memo",
                "see attached",
                "falcon.docx",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                &docx,
            ),
        ),
    ]);
    assert_eq!(ids(&index, "attachment:\"termination fee\""), [1]);
    assert_eq!(
        ids(&index, "\"services agreement\""),
        [1],
        "free text covers attachments"
    );
    assert_eq!(ids(&index, "attachment:falcon"), [2]);
    assert_eq!(ids(&index, "merger memorandum"), [2]);
    assert_eq!(ids(&index, "attachment:pdf"), [1], "file name");
    assert_eq!(ids(&index, "filename:msa-final.pdf"), [1]);
    assert!(
        ids(&index, "body:falcon").is_empty(),
        "attachment text is not body"
    );
}

#[test]
fn reads_the_visible_text_of_html_bodies() {
    let raw = b"From: promo@shop.example\r\nSubject: Sale\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<html><head><style>.kelvin { color: red }</style><script>var secretword = 1;</script></head>\
<body><p>Spring <b>clearance</b> sale</p></body></html>\r\n";
    let index = index_of(&[(1, MARCH_1, "inbound", raw.to_vec())]);
    assert_eq!(ids(&index, "\"spring clearance sale\""), [1]);
    assert!(ids(&index, "secretword").is_empty());
    assert!(ids(&index, "kelvin").is_empty());
}

fn chinese(
    id: u64,
    charset: &str,
    transfer: &str,
    body: &[u8],
) -> (u64, i64, &'static str, Vec<u8>) {
    let mut raw = format!(
        "From: =?UTF-8?B?5byg5LiJ?= <zhang@corp.example.cn>\r\nSubject: note {id}\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: {transfer}\r\n\r\n"
    )
    .into_bytes();
    if transfer == "base64" {
        raw.extend_from_slice(base64(body).as_bytes());
    } else {
        raw.extend_from_slice(body);
    }
    raw.extend_from_slice(b"\r\n");
    (id, MARCH_1, "inbound", raw)
}

#[test]
fn finds_chinese_in_utf8_gb2312_and_big5_mail() {
    let text = "请在周五前审阅第三季度报告和采购合同。";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let (big5, _, _) = encoding_rs::BIG5.encode("請在週五前審閱第三季度報告和採購合同。");
    let index = index_of(&[
        chinese(1, "utf-8", "8bit", text.as_bytes()),
        chinese(2, "gb2312", "base64", &gbk),
        chinese(3, "big5", "8bit", &big5),
        chinese(
            4,
            "utf-8",
            "8bit",
            "今天天气很好，我们去公园散步吧。".as_bytes(),
        ),
    ]);
    assert_eq!(ids(&index, "合同"), [1, 2, 3], "two characters");
    assert_eq!(
        ids(&index, "季度报告"),
        [1, 2],
        "four characters, simplified"
    );
    assert_eq!(ids(&index, "季度報告"), [3], "four characters, traditional");
    assert_eq!(ids(&index, "\"采购合同\" 周五"), [1, 2]);
    assert_eq!(ids(&index, "公园"), [4]);
    assert!(
        ids(&index, "合公").is_empty(),
        "characters present, not adjacent"
    );
    assert!(
        ids(&index, "报告合同").is_empty(),
        "bigrams present, not in this order"
    );
    assert!(ids(&index, "银行账户").is_empty(), "unrelated");
    assert_eq!(
        ids(&index, "from:张三"),
        [1, 2, 3, 4],
        "encoded display name"
    );
    assert_eq!(ids(&index, "园"), [4], "one character");
}

/// mail-parser decodes the part; the page's own `<meta charset>` must not decode it again.
#[test]
fn finds_chinese_in_big5_html_that_declares_its_charset() {
    let html = "<html><head><meta http-equiv=Content-Type content=\"text/html; charset=Big5\">\
</head><body><p>創業加盟，年度報告</p></body></html>";
    let (big5, _, _) = encoding_rs::BIG5.encode(html);
    let mut raw = b"From: ads@shop.example.tw\r\nSubject: ad\r\nMIME-Version: 1.0\r\n\
Content-Type: text/html; charset=\"big5\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    raw.extend_from_slice(base64(&big5).as_bytes());
    let index = index_of(&[(1, MARCH_1, "inbound", raw)]);
    assert_eq!(ids(&index, "創業加盟"), [1]);
    assert_eq!(ids(&index, "年度報告"), [1]);
}

#[test]
fn removes_messages() {
    let index = mailbox();
    index.remove(&[1, 3]).unwrap();
    assert_eq!(ids(&index, "report"), [1, 2], "not before the commit");
    index.commit(3).unwrap();
    assert_eq!(ids(&index, "report"), [2]);
    assert_eq!(index.doc_count(), 1);
}

#[test]
fn adding_an_id_again_replaces_it() {
    let index = mailbox();
    let raw = plain(
        "bob@corp.example",
        "x@corp.example",
        "Corrected",
        "replacement text",
    );
    index
        .add(vec![doc_from_raw(2, MARCH_1, "outbound", "", &[], &raw)])
        .unwrap();
    index.commit(3).unwrap();
    assert_eq!(index.doc_count(), 3);
    assert_eq!(ids(&index, "replacement"), [2]);
    assert!(ids(&index, "\"second look\"").is_empty());
}

#[test]
fn commit_and_last_indexed_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("archive");
    {
        let index = ArchiveIndex::open(&path).unwrap();
        assert_eq!(index.last_indexed(), 0);
        assert_eq!(index.doc_count(), 0);
        let raw = plain("a@x.example", "b@y.example", "kept", "durable words");
        index
            .add(vec![doc_from_raw(41, MARCH_1, "inbound", "", &[], &raw)])
            .unwrap();
        index.commit(41).unwrap();
        let raw = plain("a@x.example", "b@y.example", "lost", "uncommitted words");
        index
            .add(vec![doc_from_raw(42, MARCH_1, "inbound", "", &[], &raw)])
            .unwrap();
        assert!(index.bytes_on_disk() > 0);
    }
    let index = ArchiveIndex::open(&path).unwrap();
    assert_eq!(index.last_indexed(), 41);
    assert_eq!(ids(&index, "durable"), [41]);
    assert!(ids(&index, "uncommitted").is_empty());
}

#[test]
fn one_writer_at_a_time_and_readers_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let writer = ArchiveIndex::open(dir.path()).unwrap();
    match ArchiveIndex::open(dir.path()) {
        Err(ArchiveError::Busy(p)) => assert_eq!(p, dir.path()),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("two writers"),
    }
    let reader = ArchiveIndex::open_read_only(dir.path()).unwrap();
    assert!(matches!(reader.commit(1), Err(ArchiveError::ReadOnly)));
    let raw = plain("a@x.example", "b@y.example", "s", "visible soon");
    writer
        .add(vec![doc_from_raw(1, MARCH_1, "inbound", "", &[], &raw)])
        .unwrap();
    writer.commit(1).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while reader.doc_count() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(ids(&reader, "visible"), [1]);
    assert!(ArchiveIndex::open_read_only(&dir.path().join("missing")).is_err());
}

#[test]
fn refuses_an_index_of_another_schema_and_says_to_reindex() {
    use tantivy::schema::{Schema, STORED, TEXT};
    let dir = tempfile::tempdir().unwrap();
    let mut b = Schema::builder();
    b.add_text_field("body", TEXT | STORED);
    let other = tantivy::Index::create_in_dir(dir.path(), b.build()).unwrap();
    let mut w: tantivy::IndexWriter = other.writer(15_000_000).unwrap();
    w.commit().unwrap();
    drop(w);
    let err = ArchiveIndex::open(dir.path()).err().expect("refused");
    assert!(matches!(err, ArchiveError::SchemaMismatch { .. }), "{err}");
    let says = err.to_string();
    assert!(says.contains("rampart archive reindex"), "{says}");
    assert!(says.contains(&dir.path().display().to_string()), "{says}");
}

#[test]
fn refuses_an_index_whose_payload_names_another_version() {
    let dir = tempfile::tempdir().unwrap();
    drop(ArchiveIndex::open(dir.path()).unwrap());
    let meta = dir.path().join("meta.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    let bumped = text.replace("\\\"schema\\\":1", "\\\"schema\\\":999");
    assert_ne!(text, bumped, "{text}");
    std::fs::write(&meta, bumped).unwrap();
    let says = ArchiveIndex::open(dir.path())
        .err()
        .expect("refused")
        .to_string();
    assert!(says.contains("index schema 999"), "{says}");
}

#[test]
fn refuses_an_empty_search() {
    let index = mailbox();
    for q in ["", "   ", "!!!", "- ..."] {
        let query = ArchiveQuery::parse(q).unwrap();
        let err = index.search(&query, 10, 0).expect_err("refused");
        assert!(err.to_string().contains("give a query"), "{err}");
        assert!(matches!(
            index.matching_ids(&query),
            Err(ArchiveError::EmptyQuery)
        ));
    }
    // Hand-built queries are held to the same rules as parsed ones.
    let bad = ArchiveQuery {
        from: Some("@@@".into()),
        subject: Some("report".into()),
        ..ArchiveQuery::default()
    };
    assert!(matches!(
        index.search(&bad, 10, 0),
        Err(ArchiveError::Query(_))
    ));
    let unbalanced = ArchiveQuery {
        text: Some("\"open".into()),
        ..ArchiveQuery::default()
    };
    assert!(matches!(
        index.search(&unbalanced, 10, 0),
        Err(ArchiveError::Query(_))
    ));
}

#[test]
fn query_syntax_is_not_interpreted_by_tantivy() {
    let index = mailbox();
    for q in [
        "report AND NOT invoice",
        "body:* OR 1",
        "subject:[a TO z]",
        "report^10",
        "(report",
        "report~2",
        "from:a*",
    ] {
        // Either a query of plain words or a clear error; never tantivy's syntax.
        if let Ok(query) = ArchiveQuery::parse(q) {
            let _ = index.search(&query, 10, 0);
        }
    }
    assert!(ArchiveQuery::parse("body:*").is_err());
    assert!(
        ids(&index, "report AND invoice").is_empty(),
        "AND is a word"
    );
}

#[test]
fn a_message_that_panics_the_mime_parser_is_still_indexed() {
    // The shape of a real Enron spam on which mail-parser 0.11.9 panics.
    let raw: &[u8] = b"From: a@b.test\r\nSubject: panicky\r\nMime-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"NP\"\r\n\r\npreamble\r\n\r\n--NP\r\n\
Content-Type: text/html; charset=iso-8859-1\r\n\r\n<html>hi</html>\r\n\r\n--NP\r\n\
Content-Type: message/delivery-status; name=\"attach3\"\r\nContent-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"attach3\"\r\n\r\n\
Q29udGVudC1UeXBlOiBtZXNzYWdlL2RlbGl2ZXJ5LXN0YXR1cwoKUmVwb3J0\r\n\
aW5nLU1UQTogZG5zO2hvdG1haWwuY29tDQpSZWNlaXZlZC1Gcm9tLU1UQTog\r\n\r\n\r\n--NP\r\n\
Content-Type: message/rfc822; name=\"message4.txt\"\r\nContent-Transfer-Encoding: 8bit\r\n\
Content-Disposition: attachment; filename=\"message4.txt\"\r\n\r\nContent-Type: message/rfc822\r\n\r\n\
From: c@d.test\r\nSubject: inner\r\nMime-Version: 1.0\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n\
<html>inner</html>\r\n\r\n\r\n\r\n--NP--\r\n";
    let doc = doc_from_raw(5, MARCH_1, "inbound", "", &[], raw);
    assert_eq!(doc.subject, "panicky");
    assert!(
        doc.body.contains("preamble"),
        "raw text indexed: {}",
        doc.body
    );
    let index = ArchiveIndex::open_in_ram().unwrap();
    index.add(vec![doc]).unwrap();
    index.commit(5).unwrap();
    assert_eq!(ids(&index, "from:b.test preamble"), [5]);
}

#[test]
fn a_message_nested_deep_enough_to_overflow_the_parser_is_indexed_raw() {
    let mut raw = b"From: a@b.example\r\nSubject: deep\r\n".to_vec();
    for _ in 0..100_000 {
        raw.extend_from_slice(b"Content-Type: Message/RFC822\r\n\r\n");
    }
    raw.extend_from_slice(b"Subject: inner\r\n\r\nhello\r\n");
    let doc = doc_from_raw(1, 0, "inbound", "", &[], &raw);
    assert_eq!(doc.subject, "deep");
    assert!(!doc.body.is_empty());
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/corpora")
}

/// A few hundred real messages of each corpus, when the corpora are unpacked (they are not
/// in the repository): every one gives a document, and the index finds it by its subject.
#[test]
fn indexes_real_corpus_messages() {
    let mut paths = Vec::new();
    for corpus in [
        "spamassassin",
        "enron-spam",
        "csdmc2010",
        "nazario-phishing",
    ] {
        let index = corpus_dir().join(corpus).join("index");
        let Ok(text) = std::fs::read_to_string(&index) else {
            eprintln!("{} not unpacked; skipped", index.display());
            continue;
        };
        let base = index.parent().unwrap_or(Path::new(".")).to_path_buf();
        paths.extend(
            text.lines()
                .filter_map(|l| l.split_once(char::is_whitespace))
                .step_by(97)
                .take(60)
                .map(|(_, p)| base.join(p.trim())),
        );
    }
    if corpus_dir().exists() {
        assert!(paths.len() >= 150, "only {} corpus messages", paths.len());
    }
    let index = ArchiveIndex::open_in_ram().unwrap();
    let mut docs = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let raw = std::fs::read(path).unwrap();
        let at = rampart_archive::header_date(&raw).unwrap_or(0);
        docs.push(doc_from_raw(i as u64 + 1, at, "inbound", "", &[], &raw));
    }
    let subjects: Vec<(u64, String)> = docs.iter().map(|d| (d.id, d.subject.clone())).collect();
    index.add(docs).unwrap();
    index.commit(paths.len() as u64).unwrap();
    assert_eq!(index.doc_count(), paths.len() as u64);
    for (id, subject) in subjects {
        let words: Vec<&str> = subject
            .split_whitespace()
            .filter(|w| w.chars().all(char::is_alphanumeric))
            .take(3)
            .collect();
        if words.is_empty() {
            continue;
        }
        let q = ArchiveQuery {
            subject: Some(words.join(" ")),
            ..ArchiveQuery::default()
        };
        let found = index.matching_ids(&q).unwrap();
        assert!(found.contains(&id), "{subject:?} not found");
    }
}
