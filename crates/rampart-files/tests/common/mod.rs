//! Fixtures built in code: nothing binary is committed.
#![allow(dead_code)]

use std::io::{Cursor, Write};

use rampart_files::{inspect, FileReport, Limits};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

pub fn report(name: &str, bytes: &[u8]) -> FileReport {
    inspect(Some(name), None, bytes, &Limits::default())
}

pub fn finding_names(r: &FileReport) -> Vec<&str> {
    r.findings.iter().map(|f| f.name.as_str()).collect()
}

pub fn has(r: &FileReport, name: &str) -> bool {
    r.finding(name).is_some()
}

/// All evidence of one finding, joined; empty if not raised.
pub fn evidence(r: &FileReport, name: &str) -> String {
    r.finding(name)
        .map(|f| f.evidence.join(" | "))
        .unwrap_or_default()
}

/// A minimal PE: DOS header pointing at a `PE\0\0` signature, padded to `len`.
pub fn pe(len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len.max(0x80)];
    b[..2].copy_from_slice(b"MZ");
    b[0x3C] = 0x40;
    b[0x40..0x44].copy_from_slice(b"PE\0\0");
    b[0x44..0x46].copy_from_slice(&0x8664u16.to_le_bytes());
    b
}

pub fn elf() -> Vec<u8> {
    let mut b = vec![0u8; 64];
    b[..8].copy_from_slice(b"\x7FELF\x02\x01\x01\x00");
    b[16] = 2; // ET_EXEC
    b[18] = 0x3E; // x86-64
    b
}

/// A ZIP with deflated entries.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(entries, CompressionMethod::Deflated)
}

pub fn zip_with(entries: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(method)
        .large_file(false);
    for (name, data) in entries {
        w.start_file(*name, options).expect("start entry");
        w.write_all(data).expect("write entry");
    }
    w.finish().expect("finish zip").into_inner()
}

/// Patches the general-purpose flag of every entry (local and central headers) to "encrypted".
pub fn mark_encrypted(mut zip: Vec<u8>) -> Vec<u8> {
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

/// An MS-OVBA compressed container holding `source` as literal tokens only (valid, if no smaller).
pub fn ovba(source: &[u8]) -> Vec<u8> {
    assert!(source.len() < 3600, "one chunk only");
    let mut body = Vec::new();
    for group in source.chunks(8) {
        body.push(0);
        body.extend_from_slice(group);
    }
    let header = 0xB000u16 | u16::try_from(body.len() + 2 - 3).expect("chunk size");
    let mut out = vec![0x01];
    out.extend_from_slice(&header.to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// An OLE2 compound file with the given storages and streams.
pub fn ole(storages: &[&str], streams: &[(&str, &[u8])], clsid: Option<uuid::Uuid>) -> Vec<u8> {
    let mut c = cfb::CompoundFile::create(Cursor::new(Vec::new())).expect("create cfb");
    for s in storages {
        c.create_storage(s).expect("storage");
    }
    for (path, data) in streams {
        let mut s = c.create_stream(path).expect("stream");
        s.write_all(data).expect("write stream");
    }
    if let Some(id) = clsid {
        c.set_storage_clsid("/", id).expect("clsid");
    }
    c.flush().expect("flush");
    c.into_inner().into_inner()
}

/// A VBA module stream: some p-code, then the compressed source.
pub fn vba_module(source: &str) -> Vec<u8> {
    let mut stream = vec![0xCC; 64];
    stream.extend_from_slice(&ovba(source.as_bytes()));
    stream
}

pub fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("compress");
    e.finish().expect("compress")
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("compress");
    e.finish().expect("compress")
}

/// A PDF from object bodies (no valid xref: readers repair that, and so must we cope).
pub fn pdf(objects: &[&[u8]]) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    for (i, body) in objects.iter().enumerate() {
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    out.extend_from_slice(b"trailer\n<< /Root 1 0 R >>\n%%EOF\n");
    out
}

/// A stream object body with the given dictionary entries.
pub fn pdf_stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut out = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\nendstream");
    out
}
