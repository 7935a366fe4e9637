//! `inspect` is total: whatever the bytes, it returns a report within its limits and never panics.

mod common;

use common::*;
use proptest::prelude::*;
use rampart_files::{inspect, Limits};

/// Small limits so that the properties also walk the limit paths.
fn tight() -> Limits {
    Limits {
        max_depth: 2,
        max_entries: 20,
        max_total_uncompressed: 256 * 1024,
        max_ratio: 10,
        max_text: 4096,
    }
}

const NAMES: &[Option<&str>] = &[
    None,
    Some("x.zip"),
    Some("x.pdf"),
    Some("x.html"),
    Some("x.docm"),
    Some("x.gz"),
    Some("x.msi"),
    Some("invoice.pdf\u{202E}.exe"),
];

/// Magic prefixes that steer arbitrary bytes into each parser.
const PREFIXES: &[&[u8]] = &[
    b"",
    b"PK\x03\x04\x14\x00\x00\x00\x08\x00",
    b"%PDF-1.7\n",
    b"<html><script>",
    b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
    b"\x1F\x8B\x08\x00",
    b"MZ",
    b"{\\rtf1",
];

fn check(name: Option<&str>, bytes: &[u8], limits: &Limits) {
    let r = inspect(name, Some("application/octet-stream"), bytes, limits);
    let kept: usize = r
        .children
        .iter()
        .filter_map(|c| c.bytes.as_ref())
        .map(Vec::len)
        .sum();
    // Every byte kept was drawn from the one budget: inflated, decoded or copied out.
    assert!(kept as u64 <= limits.max_total_uncompressed);
    assert!(r.texts.iter().map(String::len).sum::<usize>() <= limits.max_text);
    assert_eq!(r.sha256.len(), 64);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(
        name in prop::sample::select(NAMES),
        prefix in prop::sample::select(PREFIXES),
        tail in prop::collection::vec(any::<u8>(), 0..4096),
    ) {
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(&tail);
        check(name, &bytes, &tight());
        check(name, &bytes, &Limits::default());
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_zip_local_header_never_panic(
        tail in prop::collection::vec(any::<u8>(), 0..4096),
    ) {
        let zip = zip_with(&[("a.exe", &pe(200))], zip::CompressionMethod::Stored);
        // The first local header and its name, then garbage.
        let header_len = 30 + "a.exe".len();
        let mut bytes = zip[..header_len].to_vec();
        bytes.extend_from_slice(&tail);
        check(Some("x.zip"), &bytes, &tight());
    }

    #[test]
    fn corrupted_valid_containers_never_panic(
        which in 0usize..5,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let inner = zip_of(&[("a.exe", &pe(300)), ("b.txt", b"hello hello hello")]);
        let mut bytes = match which {
            0 => zip_of(&[("inner.zip", &inner), ("c.js", b"WScript.Echo(1)")]),
            1 => ole(
                &["/Macros", "/Macros/VBA"],
                &[("/Macros/VBA/ThisDocument", &vba_module("Attribute VB_Name = \"x\"\r\nSub AutoOpen()\r\nEnd Sub"))],
                None,
            ),
            2 => pdf(&[
                b"<< /Type /Catalog /OpenAction 2 0 R >>",
                &pdf_stream("/Type /ObjStm /Filter /FlateDecode", &zlib(b"<< /JS (x) /URI (http://a.example) >>")),
                &pdf_stream("/Type /EmbeddedFile /Filter /FlateDecode", &zlib(&inner)),
            ]),
            3 => gzip(&inner),
            _ => zip_of(&[
                ("[Content_Types].xml", b"<Types ContentType=\"macroEnabled\"/>"),
                ("word/_rels/settings.xml.rels", b"<Relationship Type=\"x/attachedTemplate\" Target=\"http://a\" TargetMode=\"External\"/>"),
                ("word/vbaProject.bin", &inner),
            ]),
        };
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            let keep = cut.index(bytes.len());
            bytes.truncate(keep);
        }
        check(Some("x.zip"), &bytes, &tight());
        check(Some("x.doc"), &bytes, &Limits::default());
    }
}
