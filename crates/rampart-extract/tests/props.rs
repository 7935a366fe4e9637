//! Extraction is total and bounded: arbitrary bytes, and valid documents damaged at random,
//! yield an `Extraction` within the limits, without a panic (not even one `catch_unwind` hides:
//! that would show as a "parser failed" problem).

use proptest::prelude::*;
use rampart_extract::bench::build::{self, Cell};
use rampart_extract::{extract, Extraction, Limits};

fn small_limits() -> Limits {
    Limits {
        max_depth: 3,
        max_entries: 50,
        max_total_bytes: 1 << 20,
        max_ratio: 50,
        max_text_bytes: 4096,
        max_input_bytes: 1 << 20,
    }
}

fn check(x: &Extraction, limits: &Limits) -> Result<(), TestCaseError> {
    for text in &x.texts {
        prop_assert!(
            text.text.len() <= limits.max_text_bytes,
            "{}",
            text.text.len()
        );
    }
    prop_assert!(x.text_bytes() as u64 <= limits.max_total_bytes + limits.max_text_bytes as u64);
    prop_assert!(x.problems.len() <= 1000);
    for p in &x.problems {
        prop_assert!(
            !p.detail.contains("parser failed"),
            "a panic was caught: {p:?}"
        );
    }
    Ok(())
}

/// Valid documents of every format, to be damaged.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let id = "110101199003078515";
    let xlsx = build::xlsx(&[(
        "S",
        vec![vec![
            Cell::Text("张三".into()),
            Cell::Number(id.into()),
            Cell::Inline("x".into()),
        ]],
    )]);
    vec![
        (
            "a.docx",
            build::docx(
                &[
                    build::paragraph("客户 42"),
                    build::word_table(&[&["1", "2"]]),
                ]
                .concat(),
            ),
        ),
        ("a.xlsx", xlsx.clone()),
        ("a.pptx", build::pptx(&["slide 1"], &["notes"])),
        (
            "a.odt",
            build::odf(
                "application/vnd.oasis.opendocument.text",
                "<office:text><text:p>odt</text:p></office:text>",
            ),
        ),
        (
            "a.pdf",
            build::pdf(&[
                vec!["Latin 42".into(), "中文".into()],
                vec!["page two".into()],
            ]),
        ),
        (
            "b.pdf",
            build::pdf_with(&[vec!["uncompressed".into()]], false, ""),
        ),
        ("c.pdf", include_bytes!("data/chinese-fpdf2.pdf").to_vec()),
        (
            "d.pdf",
            include_bytes!("data/chinese-owner-only.pdf").to_vec(),
        ),
        (
            "a.zip",
            build::zip(&[("in/a.xlsx", &xlsx), ("b.txt", b"text")]),
        ),
        (
            "a.rtf",
            br"{\rtf1\ansi{\fonttbl{\f0 Arial;}}\f0 a\u36523?\'c9b\par}".to_vec(),
        ),
        (
            "a.html",
            b"<p>a<script>x</script><td>1</td>&amp;&#x4e2d;</p>".to_vec(),
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096),
                                   name in prop::sample::select(vec!["x.zip", "x.pdf", "x.docx", "x.txt", "x.rtf", "x.html", "x"])) {
        let limits = small_limits();
        let x = extract(&bytes, Some(name), &limits);
        check(&x, &limits)?;
    }

    #[test]
    fn damaged_documents_never_panic(seed in 0usize..11, edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
                                     cut in any::<prop::sample::Index>(), truncate in any::<bool>()) {
        let (name, mut bytes) = seeds().swap_remove(seed);
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        let limits = small_limits();
        let x = extract(&bytes, Some(name), &limits);
        check(&x, &limits)?;
        let x = extract(&bytes, Some(name), &Limits::default());
        check(&x, &Limits::default())?;
    }
}

#[test]
fn undamaged_seeds_extract_without_problems() {
    for (name, bytes) in seeds() {
        let x = extract(&bytes, Some(name), &Limits::default());
        assert!(x.problems.is_empty(), "{name}: {:?}", x.problems);
        assert!(!x.texts.is_empty(), "{name}");
    }
}
