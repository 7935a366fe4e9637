//! What each format yields, and what happens when a part cannot be read. Fixtures are built in
//! code (`rampart_extract::bench::build`), except two PDFs made by real tools (`tests/data`).

use std::time::{Duration, Instant};

use rampart_extract::bench::build::{self, Cell};
use rampart_extract::{extract, DocKind, Extraction, Limits, ProblemKind};

const ID: &str = "110101199003078515";

fn run(bytes: &[u8], name: &str) -> Extraction {
    extract(bytes, Some(name), &Limits::default())
}

fn all_text(x: &Extraction) -> String {
    x.texts
        .iter()
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn kinds(x: &Extraction) -> Vec<ProblemKind> {
    x.problems.iter().map(|p| p.kind).collect()
}

fn lines(pages: &[&[&str]]) -> Vec<Vec<String>> {
    pages
        .iter()
        .map(|p| p.iter().map(|l| l.to_string()).collect())
        .collect()
}

/// Patches the general-purpose flag of every member (local and central headers) to
/// "encrypted", as a password-protected archive has it.
fn mark_encrypted(mut zip: Vec<u8>) -> Vec<u8> {
    let mut i = 0;
    while i + 10 < zip.len() {
        if zip[i..].starts_with(b"PK\x03\x04") {
            zip[i + 6] |= 1;
        } else if zip[i..].starts_with(b"PK\x01\x02") {
            zip[i + 8] |= 1;
        }
        i += 1;
    }
    zip
}

#[test]
fn reads_docx_body_tables_headers_and_chinese() {
    let body = [
        build::paragraph("客户名单 customer list"),
        build::word_table(&[&["姓名", "身份证号"], &["张三", ID], &["12", "34"]]),
    ]
    .concat();
    let header = build::word_part("hdr", &build::paragraph("机密 Confidential"));
    let docx = build::docx_with(&body, &[("word/header1.xml", &header)]);
    let x = run(&docx, "report.docx");
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    assert_eq!(x.texts.len(), 1);
    assert_eq!(x.texts[0].kind, DocKind::Docx);
    assert_eq!(x.texts[0].path, "report.docx");
    let text = &x.texts[0].text;
    assert!(text.contains("客户名单 customer list"), "{text}");
    assert!(text.contains(&format!("张三\t{ID}")), "{text}");
    assert!(
        text.contains("12\t34"),
        "numbers in adjacent cells stay apart: {text}"
    );
    assert!(text.contains("机密 Confidential"), "{text}");
}

#[test]
fn reads_xlsx_cells_as_raw_values_one_text_per_sheet() {
    let sheet1 = vec![
        vec![Cell::Text("姓名".into()), Cell::Text("身份证号".into())],
        vec![Cell::Text("张三".into()), Cell::Number(ID.into())],
        vec![Cell::Inline("李四".into()), Cell::Text(ID.into())],
        vec![
            Cell::Number("3.20925197308114E+17".into()),
            Cell::Number("12".into()),
            Cell::Number("34".into()),
        ],
    ];
    let sheet2 = vec![vec![
        Cell::Text("Q3".into()),
        Cell::Empty,
        Cell::Number("99.5".into()),
    ]];
    let xlsx = build::xlsx(&[("Staff", sheet1), ("Budget", sheet2)]);
    let x = run(&xlsx, "q3.xlsx");
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    let paths: Vec<&str> = x.texts.iter().map(|t| t.path.as_str()).collect();
    assert_eq!(paths, ["q3.xlsx#Staff", "q3.xlsx#Budget"]);
    assert!(x.texts.iter().all(|t| t.kind == DocKind::Xlsx));
    let staff = &x.texts[0].text;
    assert!(
        staff.contains(&format!("张三\t{ID}\n")),
        "an 18-digit number cell stays intact: {staff}"
    );
    assert!(staff.contains(&format!("李四\t{ID}\n")), "{staff}");
    assert!(
        staff.contains("320925197308114000\t12\t34"),
        "exponent notation written out, adjacent numbers apart: {staff}"
    );
    assert!(!staff.contains("E+17"), "{staff}");
    assert_eq!(x.texts[1].text, "Q3\t99.5\n");
}

#[test]
fn reads_pptx_slides_and_notes() {
    let pptx = build::pptx(
        &["季度报告\nRevenue 42", "Slide two"],
        &["Speaker notes 备注"],
    );
    let x = run(&pptx, "deck.pptx");
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    let paths: Vec<&str> = x.texts.iter().map(|t| t.path.as_str()).collect();
    assert_eq!(
        paths,
        ["deck.pptx#slide1", "deck.pptx#slide2", "deck.pptx#notes1"]
    );
    assert_eq!(x.texts[0].text, "季度报告\nRevenue 42\n");
    assert_eq!(x.texts[2].text, "Speaker notes 备注\n");
}

#[test]
fn reads_odt_ods_and_odp() {
    let odt = build::odf(
        "application/vnd.oasis.opendocument.text",
        "<office:text><text:h>标题</text:h><text:p>身份证<text:s/>号码 110101199003078515</text:p></office:text>",
    );
    let x = run(&odt, "memo.odt");
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    assert_eq!(x.texts[0].kind, DocKind::Odt);
    assert_eq!(x.texts[0].text, format!("标题\n身份证 号码 {ID}\n"));

    let ods = build::odf(
        "application/vnd.oasis.opendocument.spreadsheet",
        "<office:spreadsheet><table:table><table:table-row>\
         <table:table-cell office:value-type=\"float\" office:value=\"110101199003078515\"><text:p>1.10101E+17</text:p></table:table-cell>\
         <table:table-cell office:value-type=\"float\" office:value=\"12\"><text:p>12</text:p></table:table-cell>\
         <table:table-cell office:value-type=\"string\"><text:p>张三</text:p></table:table-cell>\
         </table:table-row></table:table></office:spreadsheet>",
    );
    let x = run(&ods, "ids.ods");
    assert_eq!(x.texts[0].kind, DocKind::Ods);
    assert_eq!(x.texts[0].text, format!("{ID}\t12\t张三\t\n"));

    let odp = build::odf(
        "application/vnd.oasis.opendocument.presentation",
        "<office:presentation><draw:page><draw:frame><draw:text-box><text:p>幻灯片 one</text:p>\
         </draw:text-box></draw:frame></draw:page></office:presentation>",
    );
    let x = run(&odp, "talk.odp");
    assert_eq!(x.texts[0].kind, DocKind::Odp);
    assert_eq!(x.texts[0].text, "幻灯片 one\n");
}

#[test]
fn reads_pdf_pages_with_tounicode_cid_fonts_and_winansi() {
    let pdf = build::pdf(&lines(&[
        &[
            "Customer list",
            "Name: Zhang San, ID 110101199003078515",
            "café 42",
        ],
        &["身份证号码：110101199003078515", "客户名单"],
    ]));
    let x = run(&pdf, "list.pdf");
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    assert_eq!(x.texts.len(), 1);
    assert_eq!(x.texts[0].kind, DocKind::Pdf);
    let text = &x.texts[0].text;
    assert!(
        text.contains("Name: Zhang San, ID 110101199003078515\n"),
        "{text:?}"
    );
    assert!(text.contains("café 42"), "{text:?}");
    assert!(
        text.contains("身份证号码：110101199003078515\n客户名单"),
        "{text:?}"
    );
    assert!(text.contains('\x0C'), "pages are separated: {text:?}");
}

#[test]
fn keeps_pdf_digits_together_and_table_cells_apart() {
    // One number drawn in two pieces (as justified text is), and two cells of a table.
    let content = b"BT /F1 10 Tf 50 700 Td (1101011990) Tj (03078515) Tj ET\n\
        BT /F1 10 Tf 50 680 Td (12) Tj 100 0 Td (34) Tj ET\n\
        BT /F1 10 Tf 50 660 Td [(Word)-300(gap)] TJ [(ker)20(ned)] TJ ET";
    let pdf = raw_pdf(content, false);
    let x = run(&pdf, "table.pdf");
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    let text = &x.texts[0].text;
    assert!(text.contains(&format!("{ID}\n")), "{text:?}");
    assert!(text.contains("12 34\n"), "{text:?}");
    assert!(text.contains("Word gapkerned"), "{text:?}");
}

/// A one-page PDF drawing `content` with Helvetica as `/F1`.
fn raw_pdf(content: &[u8], deflate: bool) -> Vec<u8> {
    raw_pdf_with(content, deflate, None)
}

/// [`raw_pdf`] with an `/Encrypt` dictionary in the trailer.
fn raw_pdf_with(content: &[u8], deflate: bool, encrypt: Option<&str>) -> Vec<u8> {
    let mut w = build::PdfWriter::new();
    let (catalog, pages, page, stream, font) = (
        w.reserve(),
        w.reserve(),
        w.reserve(),
        w.reserve(),
        w.reserve(),
    );
    w.object(catalog, &format!("<< /Type /Catalog /Pages {pages} 0 R >>"));
    w.object(
        pages,
        &format!("<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>"),
    );
    w.object(
        page,
        &format!(
            "<< /Type /Page /Parent {pages} 0 R /MediaBox [0 0 595 842] \
             /Resources << /Font << /F1 {font} 0 R >> >> /Contents {stream} 0 R >>"
        ),
    );
    w.object(
        font,
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    );
    w.stream(stream, "", content, deflate);
    let trailer = match encrypt {
        Some(dict) => {
            let id = w.reserve();
            w.object(id, dict);
            format!("/Encrypt {id} 0 R /ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>]")
        }
        None => String::new(),
    };
    w.finish(catalog, &trailer)
}

#[test]
fn reads_pdf_form_xobjects_and_form_fields() {
    let mut w = build::PdfWriter::new();
    let (catalog, pages, page, stream, font, form, field) = (
        w.reserve(),
        w.reserve(),
        w.reserve(),
        w.reserve(),
        w.reserve(),
        w.reserve(),
        w.reserve(),
    );
    w.object(
        catalog,
        &format!("<< /Type /Catalog /Pages {pages} 0 R /AcroForm << /Fields [{field} 0 R] >> >>"),
    );
    w.object(
        pages,
        &format!("<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>"),
    );
    w.object(
        page,
        &format!(
            "<< /Type /Page /Parent {pages} 0 R /Resources << /Font << /F1 {font} 0 R >> \
             /XObject << /X1 {form} 0 R >> >> /Contents {stream} 0 R >>"
        ),
    );
    w.object(
        font,
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    );
    w.stream(stream, "", b"q 1 0 0 1 0 0 cm /X1 Do Q /X1 Do", true);
    w.stream(
        form,
        &format!("/Type /XObject /Subtype /Form /BBox [0 0 100 100] /Resources << /Font << /F1 {font} 0 R >> >>"),
        b"BT /F1 9 Tf 10 10 Td (in a form) Tj ET",
        true,
    );
    w.object(
        field,
        "<< /FT /Tx /T (ID number) /V (110101199003078515) >>",
    );
    let x = run(&w.finish(catalog, ""), "form.pdf");
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    let text = &x.texts[0].text;
    assert_eq!(text.matches("in a form").count(), 2, "{text:?}");
    assert!(text.contains(&format!("ID number: {ID}")), "{text:?}");
}

#[test]
fn reads_csv_text_and_html_in_their_charsets() {
    // GBK, as Chinese Excel saves CSV.
    let csv = format!("姓名,身份证号\n张三,{ID}\n");
    let (gbk, _, _) = encoding_rs::GBK.encode(&csv);
    let x = run(&gbk, "staff.csv");
    assert_eq!(x.texts[0].kind, DocKind::Csv);
    assert_eq!(x.texts[0].text, format!("姓名,身份证号\n张三,{ID}\n"));

    let mut utf16 = vec![0xFF, 0xFE];
    for unit in "备注 notes".encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    let x = run(&utf16, "notes.txt");
    assert_eq!(x.texts[0].kind, DocKind::Text);
    assert_eq!(x.texts[0].text, "备注 notes");

    let x = run(b"Gr\xfc\xdfe aus K\xf6ln", "letter.txt");
    assert_eq!(x.texts[0].text, "Grüße aus Köln");

    let html = "<html><head><meta charset=utf-8><script>var id='000';</script></head>\
                <body><table><tr><td>张三</td><td>110101199003078515</td></tr></table></body></html>";
    let x = run(html.as_bytes(), "page.html");
    assert_eq!(x.texts[0].kind, DocKind::Html);
    assert_eq!(x.texts[0].text, format!("张三\t{ID}\n"));
}

#[test]
fn reads_rtf() {
    let rtf = br"{\rtf1\ansi\ansicpg936{\fonttbl{\f0\fnil\fcharset134 SimSun;}}\f0 \'c9\'ed\'b7\'dd\'d6\'a4 110101199003078515\par}";
    let x = run(rtf, "id.rtf");
    assert_eq!(x.texts[0].kind, DocKind::Rtf);
    assert_eq!(x.texts[0].text, format!("身份证 {ID}\n"));
}

#[test]
fn walks_nested_zips_with_paths() {
    let xlsx = build::xlsx(&[("Sheet1", vec![vec![Cell::Text(ID.into())]])]);
    let inner = build::zip(&[("inner/q3.xlsx", &xlsx), ("readme.txt", b"see q3")]);
    let outer = build::zip(&[
        ("deep.zip", &inner),
        ("photo.png", b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR"),
    ]);
    let x = run(&outer, "report.zip");
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    let paths: Vec<&str> = x.texts.iter().map(|t| t.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "report.zip/deep.zip/inner/q3.xlsx#Sheet1",
            "report.zip/deep.zip/readme.txt"
        ]
    );
    assert_eq!(x.texts[0].text, format!("{ID}\n"));
}

#[test]
fn reads_gzip_and_tar() {
    use std::io::Write;
    let mut tar = vec![0u8; 512];
    tar[..8].copy_from_slice(b"ids.csv\0");
    tar[124..136].copy_from_slice(format!("{:011o}\0", ID.len() + 1).as_bytes());
    tar[156] = b'0';
    tar[257..263].copy_from_slice(b"ustar\0");
    tar.extend_from_slice(format!("{ID}\n").as_bytes());
    tar.resize(512 * 4, 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("gzip");
    let x = run(&gz.finish().expect("gzip"), "export.tar.gz");
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    assert_eq!(x.texts[0].path, "export.tar.gz/export.tar/ids.csv");
    assert_eq!(x.texts[0].text, format!("{ID}\n"));
}

#[test]
fn reads_files_embedded_in_office_documents() {
    let xlsx = build::xlsx(&[("Sheet1", vec![vec![Cell::Text(ID.into())]])]);
    let docx = build::docx_with(
        &build::paragraph("see table"),
        &[("word/embeddings/Microsoft_Excel_Worksheet.xlsx", &xlsx)],
    );
    let x = run(&docx, "memo.docx");
    let paths: Vec<&str> = x.texts.iter().map(|t| t.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "memo.docx",
            "memo.docx/word/embeddings/Microsoft_Excel_Worksheet.xlsx#Sheet1"
        ]
    );
}

#[test]
fn reports_a_zip_bomb_quickly_without_inflating_it() {
    // 1 GiB of zeros deflates to about 1 MiB: ratio ~1000, over the 200 limit.
    let zeros = vec![0u8; 16 * 1024 * 1024];
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    w.start_file("zeros.bin", options).expect("entry");
    for _ in 0..64 {
        std::io::Write::write_all(&mut w, &zeros).expect("write");
    }
    let bomb = w.finish().expect("finish").into_inner();
    assert!(bomb.len() < 2 * 1024 * 1024, "{}", bomb.len());
    let start = Instant::now();
    let x = run(&bomb, "bomb.zip");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(kinds(&x), [ProblemKind::Bomb], "{:?}", x.problems);
    assert!(
        x.problems[0].detail.contains("1073741824"),
        "{:?}",
        x.problems
    );

    // The same bomb lying about its size: the bounded reader stops it just past the cap.
    let mut lying = bomb.clone();
    for sig in [&b"PK\x03\x04"[..], b"PK\x01\x02"] {
        let mut from = 0;
        while let Some(at) = memchr::memmem::find(&lying[from..], sig).map(|p| p + from) {
            from = at + 4;
            let size_at = if sig == b"PK\x03\x04" {
                at + 22
            } else {
                at + 24
            };
            if lying[size_at..size_at + 4] != [0xFF; 4] {
                lying[size_at..size_at + 4].copy_from_slice(&1000u32.to_le_bytes());
            }
        }
    }
    let x = run(&lying, "bomb.zip");
    assert!(
        x.has_problem(ProblemKind::Bomb) || x.has_problem(ProblemKind::Corrupt),
        "{:?}",
        x.problems
    );
}

#[test]
fn reports_pdf_stream_bombs_and_object_floods() {
    // A content stream of 64 MiB of spaces, deflated to ~64 KiB.
    let pdf = raw_pdf(&vec![b' '; 64 * 1024 * 1024], true);
    assert!(pdf.len() < 200 * 1024);
    let start = Instant::now();
    let x = run(&pdf, "bomb.pdf");
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(kinds(&x), [ProblemKind::Bomb], "{:?}", x.problems);

    // Millions of tiny objects would cost lopdf ~120 bytes each: refused before parsing.
    let mut flood = raw_pdf(b"", false);
    let at = memchr::memmem::rfind(&flood, b"xref").expect("xref");
    let mut array = b"99 0 obj\n[".to_vec();
    array.extend(b"0 ".repeat(2_000_000));
    array.extend_from_slice(b"]\nendobj\n");
    flood.splice(at..at, array);
    let x = run(&flood, "flood.pdf");
    assert_eq!(kinds(&x), [ProblemKind::TooLarge], "{:?}", x.problems);
}

#[test]
fn reports_too_many_entries_and_too_deep_nesting() {
    let limits = Limits {
        max_entries: 5,
        max_depth: 2,
        ..Limits::default()
    };
    let many: Vec<(String, Vec<u8>)> = (0..10)
        .map(|i| (format!("f{i}.txt"), b"x".to_vec()))
        .collect();
    let refs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let x = extract(&build::zip(&refs), Some("many.zip"), &limits);
    assert_eq!(kinds(&x), [ProblemKind::Bomb]);

    let mut nested = build::zip(&[("secret.txt", ID.as_bytes())]);
    for level in 0..3 {
        nested = build::zip(&[(&format!("level{level}.zip"), &nested)]);
    }
    let x = extract(&nested, Some("top.zip"), &limits);
    assert_eq!(kinds(&x), [ProblemKind::TooDeep], "{:?}", x.problems);
    assert_eq!(x.problems[0].path, "top.zip/level2.zip/level1.zip");
    assert!(x.texts.is_empty());
}

#[test]
fn reports_encrypted_zip_members_and_documents() {
    let zip = mark_encrypted(build::zip(&[("salaries.xlsx", b"whatever")]));
    let x = run(&zip, "out.zip");
    assert_eq!(kinds(&x), [ProblemKind::Encrypted]);
    assert_eq!(x.problems[0].path, "out.zip/salaries.xlsx");

    // A password-protected OOXML file is an OLE2 container with an EncryptedPackage stream.
    let mut ole = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
    ole.resize(512, 0);
    ole.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
    let x = run(&ole, "q3.xlsx");
    assert_eq!(kinds(&x), [ProblemKind::Encrypted]);

    let odt = build::odf("application/vnd.oasis.opendocument.text", "<office:text/>");
    let manifest = "<manifest:manifest><manifest:file-entry manifest:full-path=\"content.xml\">\
                    <manifest:encryption-data/></manifest:file-entry></manifest:manifest>";
    let odt = rezip_with(&odt, "META-INF/manifest.xml", manifest.as_bytes());
    let x = run(&odt, "memo.odt");
    assert_eq!(kinds(&x), [ProblemKind::Encrypted]);
}

/// `zip` with one member's content replaced.
fn rezip_with(zip: &[u8], name: &str, data: &[u8]) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("zip");
    let mut entries = Vec::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).expect("entry");
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut content).expect("read");
        let member = file.name().expect("name").into_owned();
        entries.push((
            member.clone(),
            if member == name {
                data.to_vec()
            } else {
                content
            },
        ));
    }
    let refs: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    build::zip_with(&refs, zip::CompressionMethod::Stored)
}

#[test]
fn reports_an_encrypted_pdf() {
    // Standard security handler, RC4 40-bit, with a user password: /U is no empty-password hash.
    let encrypt = "<< /Filter /Standard /V 1 /R 2 /Length 40 /P -3904 \
        /O <2E7A1F7C4B5D2D3E0F1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F70> \
        /U <9B1C2D3E4F5A6B7C8D9EAFB0C1D2E3F40516273849AABBCCDDEEFF0011223344> >>";
    let pdf = raw_pdf_with(
        b"BT /F1 10 Tf 50 700 Td (secret 110101199003078515) Tj ET",
        false,
        Some(encrypt),
    );
    let x = run(&pdf, "secret.pdf");
    assert_eq!(kinds(&x), [ProblemKind::Encrypted], "{:?}", x.problems);
    assert!(!all_text(&x).contains(ID));
}

#[test]
fn reads_pdfs_made_by_real_tools() {
    // fpdf2 with an embedded, subset TrueType CJK font (Identity-H + ToUnicode); see tests/data.
    let x = run(include_bytes!("data/chinese-fpdf2.pdf"), "chinese.pdf");
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    let text = all_text(&x);
    assert!(text.contains("身份证号码"), "{text:?}");
    assert!(text.contains(ID), "{text:?}");

    // The same file encrypted by pypdf (AES-128) with an owner password only: it opens with the
    // empty user password, so it is read.
    let x = run(include_bytes!("data/chinese-owner-only.pdf"), "open.pdf");
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    assert!(all_text(&x).contains(ID));

    // And with a user password: not readable, reported.
    let x = run(
        include_bytes!("data/chinese-user-password.pdf"),
        "locked.pdf",
    );
    assert_eq!(kinds(&x), [ProblemKind::Encrypted], "{:?}", x.problems);
    assert!(!all_text(&x).contains(ID));
}

#[test]
fn reports_truncated_and_corrupt_documents_without_panicking() {
    let docx = build::docx(&build::paragraph(ID));
    let x = run(&docx[..docx.len() / 2], "cut.docx");
    assert!(x.has_problem(ProblemKind::Corrupt), "{:?}", x.problems);

    let pdf = build::pdf(&lines(&[&["first page 42"], &["second page"]]));
    let x = run(&pdf[..pdf.len() * 2 / 3], "cut.pdf");
    assert!(x.has_problem(ProblemKind::Corrupt), "{:?}", x.problems);

    let x = run(b"%PDF-1.4\n garbage garbage", "junk.pdf");
    assert!(x.has_problem(ProblemKind::Corrupt), "{:?}", x.problems);

    let x = run(b"\x01\x02\x03 not a document", "report.docx");
    assert_eq!(kinds(&x), [ProblemKind::Corrupt]);

    // Broken XML inside an intact archive: what came before the fault is kept.
    let broken = build::zip(&[
        ("[Content_Types].xml", b"<Types/>"),
        (
            "word/document.xml",
            b"<w:document><w:body><w:p><w:r><w:t>kept</w:t></w:r></w:p><w:p><w:r><w:t>cut</w:r>",
        ),
    ]);
    let x = run(&broken, "broken.docx");
    assert!(x.has_problem(ProblemKind::Corrupt), "{:?}", x.problems);
    assert!(all_text(&x).contains("kept"));
}

#[test]
fn reports_containers_it_cannot_open_and_skips_binaries() {
    let x = run(b"7z\xBC\xAF\x27\x1C\0\x04rest", "a.7z");
    assert_eq!(kinds(&x), [ProblemKind::Unsupported]);
    let x = run(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", "photo.png");
    assert!(x.texts.is_empty() && x.problems.is_empty());
    let x = run(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0", "tool.exe");
    assert!(x.texts.is_empty() && x.problems.is_empty());
    let legacy = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0\0\0";
    assert_eq!(kinds(&run(legacy, "old.doc")), [ProblemKind::Unsupported]);
}

#[test]
fn caps_text_per_document_and_says_so() {
    let limits = Limits {
        max_text_bytes: 100,
        ..Limits::default()
    };
    let x = extract("中".repeat(1000).as_bytes(), Some("long.txt"), &limits);
    assert!(x.texts[0].text.len() <= 100);
    assert_eq!(kinds(&x), [ProblemKind::TooLarge]);

    let limits = Limits {
        max_input_bytes: 10,
        ..Limits::default()
    };
    let x = extract(b"far more than ten bytes", Some("a.txt"), &limits);
    assert_eq!(kinds(&x), [ProblemKind::TooLarge]);
}

#[test]
fn serialises_problem_kinds_in_snake_case() {
    let x = run(b"Rar!\x1A\x07\x00", "a.rar");
    let json = serde_json::to_string(&x).expect("json");
    assert!(json.contains("\"kind\":\"unsupported\""), "{json}");
    assert_eq!(
        serde_json::to_string(&ProblemKind::TooLarge).expect("json"),
        "\"too_large\""
    );
    assert_eq!(
        serde_json::to_string(&DocKind::SevenZip).expect("json"),
        "\"seven_zip\""
    );
}
