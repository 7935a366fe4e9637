//! VBA module source, just enough to see auto-exec entry points and the calls droppers make.
//!
//! A module stream holds p-code followed by the source in the MS-OVBA compressed container
//! (MS-OVBA §2.4.1). Rather than parse the `dir` stream for each module's offset, the container is
//! found where every module's source starts: `Attribute VB_Name`, whose first eight bytes are
//! always stored as literals after a zero flag byte (the olevba fallback does the same).

/// Macros Office runs by itself when a document opens, closes or is created.
const AUTO_EXEC: &[&str] = &[
    "AutoOpen",
    "Auto_Open",
    "AutoExec",
    "AutoClose",
    "Auto_Close",
    "AutoNew",
    "Document_Open",
    "Document_Close",
    "Document_New",
    "DocumentOpen",
    "Workbook_Open",
    "Workbook_Activate",
    "Workbook_BeforeClose",
    "Presentation_Open",
];

/// Calls that download, write or launch: the body of nearly every macro dropper.
const SUSPICIOUS: &[&str] = &[
    "URLDownloadToFile",
    "WScript.Shell",
    "Shell.Application",
    "ShellExecute",
    "powershell",
    "MSXML2.XMLHTTP",
    "WinHttp.WinHttpRequest",
    "ADODB.Stream",
    "CreateProcess",
    "VirtualAlloc",
    "RtlMoveMemory",
    "CallByName",
    "ExecuteExcel4Macro",
];

/// Auto-exec entry points and suspicious calls named in one module stream.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct MacroTraits {
    pub auto_exec: Vec<&'static str>,
    pub suspicious: Vec<&'static str>,
}

/// Decompressed source is capped here; real modules are a few KiB to a few hundred.
const MAX_SOURCE: usize = 2 * 1024 * 1024;

/// Looks for the source in a module stream and reports what it names.
pub(crate) fn scan_module(stream: &[u8]) -> MacroTraits {
    let mut traits = MacroTraits::default();
    let Some(pos) = memchr::memmem::find(stream, b"\x00Attribut") else {
        return traits;
    };
    // Container signature (0x01) and a 2-byte chunk header come before the flag byte.
    let Some(start) = pos.checked_sub(3) else {
        return traits;
    };
    let source = decompress(&stream[start..], MAX_SOURCE);
    let lower = source.to_ascii_lowercase();
    for name in AUTO_EXEC {
        if crate::kind::find_ci(&lower, name.as_bytes()).is_some() {
            traits.auto_exec.push(name);
        }
    }
    for name in SUSPICIOUS {
        if crate::kind::find_ci(&lower, name.as_bytes()).is_some() {
            traits.suspicious.push(name);
        }
    }
    traits
}

/// MS-OVBA §2.4.1.3.1 decompression, total and bounded: stops at `max` output bytes, at the end of
/// input, or at the first malformed chunk, returning what it has.
pub(crate) fn decompress(container: &[u8], max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    if container.first() != Some(&0x01) {
        return out;
    }
    let mut pos = 1;
    while pos + 2 <= container.len() && out.len() < max {
        let header = u16::from_le_bytes([container[pos], container[pos + 1]]);
        let chunk_len = usize::from(header & 0x0FFF) + 3;
        let signature_ok = (header >> 12) & 0x07 == 0b011;
        let compressed = header & 0x8000 != 0;
        if !signature_ok {
            break;
        }
        let chunk_end = (pos + chunk_len).min(container.len());
        pos += 2;
        let chunk_start = out.len();
        if !compressed {
            let raw_end = (pos + 4096).min(container.len());
            out.extend_from_slice(&container[pos..raw_end]);
            pos = raw_end;
            continue;
        }
        while pos < chunk_end && out.len() < max {
            let flags = container[pos];
            pos += 1;
            for bit in 0..8 {
                if pos >= chunk_end {
                    break;
                }
                if flags & (1 << bit) == 0 {
                    out.push(container[pos]);
                    pos += 1;
                    continue;
                }
                if pos + 2 > chunk_end {
                    return out;
                }
                let token = u16::from_le_bytes([container[pos], container[pos + 1]]);
                pos += 2;
                let done = out.len() - chunk_start;
                let bits = copy_token_offset_bits(done);
                let length_mask = 0xFFFFu16 >> bits;
                let length = usize::from(token & length_mask) + 3;
                let offset = usize::from(token >> (16 - bits)) + 1;
                if offset > done {
                    return out;
                }
                for _ in 0..length {
                    let b = out[out.len() - offset];
                    out.push(b);
                }
            }
        }
        pos = chunk_end;
    }
    out.truncate(max);
    out
}

/// Bits used by a copy token's offset: enough to address the decompressed chunk so far, at least
/// four, at most twelve.
fn copy_token_offset_bits(done: usize) -> u32 {
    let mut bits = 4;
    while bits < 12 && (1usize << bits) < done {
        bits += 1;
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decompresses_the_ms_ovba_example() {
        // MS-OVBA §3.2.3: "#aaabcdefaaaaghijaaaaaklaaamnopqaaaaaaaaaaaarstuvwxyzaaa".
        let compressed = [
            0x01, 0x2F, 0xB0, 0x00, 0x23, 0x61, 0x61, 0x61, 0x62, 0x63, 0x64, 0x65, 0x82, 0x66,
            0x00, 0x70, 0x61, 0x67, 0x68, 0x69, 0x6A, 0x01, 0x38, 0x08, 0x61, 0x6B, 0x6C, 0x00,
            0x30, 0x6D, 0x6E, 0x6F, 0x70, 0x06, 0x71, 0x02, 0x70, 0x04, 0x10, 0x72, 0x73, 0x74,
            0x75, 0x76, 0x10, 0x77, 0x78, 0x79, 0x7A, 0x00, 0x3C,
        ];
        assert_eq!(
            decompress(&compressed, 1024),
            b"#aaabcdefaaaaghijaaaaaklaaamnopqaaaaaaaaaaaarstuvwxyzaaa".to_vec()
        );
    }

    #[test]
    fn stops_decompressing_at_the_cap() {
        let mut bomb = vec![0x01, 0xFF, 0xBF, 0x00, b'a'];
        for _ in 0..600 {
            bomb.extend_from_slice(&[
                0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                0xFF, 0xFF, 0xFF,
            ]);
        }
        assert!(decompress(&bomb, 100).len() <= 100);
    }
}
