//! The model file: versioned, checksummed, quantisable.
//!
//! ```text
//! offset  size  field
//! 0       8     magic  b"RMPCLSF\x1A"
//! 8       2     format version, u16 LE (FORMAT_VERSION)
//! 10      2     reserved, must be 0
//! 12      8     payload length P, u64 LE
//! 20      P     payload (below)
//! 20+P    4     CRC-32 (IEEE) of bytes 0 .. 20+P, u32 LE
//!
//! payload, all integers and floats little-endian:
//!   feature config  bits u8, word_bigrams u8, char_ngram u8, term_weight u8 (0 binary, 1 log),
//!                   l2_normalize u8, max_char_ngrams u32, max_text_bytes u32
//!   learner         alpha f32, beta f32, l1 f32, l2 f32
//!   calibration     a f32, b f32
//!   examples seen   u64
//!   storage u8 (0 dense, 1 sparse), encoding u8 (0 full f32 state, 1 i16 weights)
//!   bias            w f32, z f32, n f32
//!   count u32       non-zero coordinates that follow
//!   [encoding 1]    scale f32
//!   count times     index gap varint (LEB128; first index, then index - previous - 1),
//!                   then  z f32, n f32   (encoding 0; w is recomputed, bit-identical)
//!                   or    q i16          (encoding 1; w = q * scale)
//! ```
//!
//! Only non-zero coordinates are written, in increasing index order. With i16 weights a
//! coordinate costs 3 to 4 bytes, so a fully dense 2^20-bucket model is at most ~4 MB.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use crate::features::{FeatureConfig, TermWeight};
use crate::model::{Calibration, Coord, Coords, LearnerParams, Model, SparseCoords, Storage};

/// The first bytes of every model file.
pub const MAGIC: [u8; 8] = *b"RMPCLSF\x1A";
/// The format this build writes and the only one it reads.
pub const FORMAT_VERSION: u16 = 1;
const HEADER_LEN: usize = 20;
/// No model is larger; a bigger length field is corruption, not a reason to allocate.
const MAX_PAYLOAD: u64 = 1 << 32;

/// How weights are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightEncoding {
    /// Full learner state (`z`, `n` as f32): lossless, training resumes exactly. For per-user layers
    /// and training checkpoints.
    Full,
    /// Weights as i16 with one scale: the shipped model. Training can resume from it (with fresh
    /// per-coordinate learning rates); predictions move by at most a quantisation step per feature.
    Quantized16,
}

/// Why a model file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model file I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a Rampart classifier model (wrong magic bytes)")]
    WrongMagic,
    #[error(
        "model file format version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion { found: u16, supported: u16 },
    #[error("model file is truncated: expected {expected} bytes, got {found}")]
    Truncated { expected: u64, found: u64 },
    #[error("model file checksum mismatch (stored {stored:#010x}, computed {computed:#010x}): the file is corrupt")]
    ChecksumMismatch { stored: u32, computed: u32 },
    #[error("model file is corrupt: {0}")]
    Corrupt(&'static str),
}

impl Model {
    /// Writes the model losslessly ([`WeightEncoding::Full`]).
    pub fn save(&self, out: &mut impl Write) -> Result<(), ModelError> {
        self.save_with(out, WeightEncoding::Full)
    }

    /// Writes the model with the given weight encoding.
    pub fn save_with(
        &self,
        out: &mut impl Write,
        encoding: WeightEncoding,
    ) -> Result<(), ModelError> {
        let payload = self.payload(encoding);
        let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len() + 4);
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&0u16.to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&payload);
        let crc = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        out.write_all(&bytes)?;
        out.flush()?;
        Ok(())
    }

    /// Writes the model to `path` (created or truncated).
    pub fn save_to_path(
        &self,
        path: impl AsRef<Path>,
        encoding: WeightEncoding,
    ) -> Result<(), ModelError> {
        let mut out = BufWriter::new(File::create(path)?);
        self.save_with(&mut out, encoding)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(())
    }

    /// Reads a model written by [`Model::save`] or [`Model::save_with`].
    pub fn load(input: &mut impl Read) -> Result<Model, ModelError> {
        let mut header = [0u8; HEADER_LEN];
        let got = read_full(input, &mut header)?;
        if got < MAGIC.len() || header[..8] != MAGIC {
            if got < MAGIC.len() && header[..got] == MAGIC[..got] {
                return Err(ModelError::Truncated {
                    expected: HEADER_LEN as u64,
                    found: got as u64,
                });
            }
            return Err(ModelError::WrongMagic);
        }
        if got < HEADER_LEN {
            return Err(ModelError::Truncated {
                expected: HEADER_LEN as u64,
                found: got as u64,
            });
        }
        let version = u16::from_le_bytes([header[8], header[9]]);
        if version != FORMAT_VERSION {
            return Err(ModelError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if header[10..12] != [0, 0] {
            return Err(ModelError::Corrupt("reserved header bytes are not zero"));
        }
        let mut len_bytes = [0u8; 8];
        len_bytes.copy_from_slice(&header[12..20]);
        let payload_len = u64::from_le_bytes(len_bytes);
        if payload_len > MAX_PAYLOAD {
            return Err(ModelError::Corrupt("implausible payload length"));
        }
        let want = payload_len + 4;
        let mut rest = Vec::with_capacity(want.min(64 << 20) as usize);
        input.take(want).read_to_end(&mut rest)?;
        if (rest.len() as u64) < want {
            return Err(ModelError::Truncated {
                expected: HEADER_LEN as u64 + want,
                found: (HEADER_LEN + rest.len()) as u64,
            });
        }
        let (payload, crc_bytes) = rest.split_at(payload_len as usize);
        let stored = u32::from_le_bytes([crc_bytes[0], crc_bytes[1], crc_bytes[2], crc_bytes[3]]);
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&header);
        hasher.update(payload);
        let computed = hasher.finalize();
        if stored != computed {
            return Err(ModelError::ChecksumMismatch { stored, computed });
        }
        parse_payload(payload)
    }

    /// Reads a model from `path`.
    pub fn load_from_path(path: impl AsRef<Path>) -> Result<Model, ModelError> {
        Model::load(&mut BufReader::new(File::open(path)?))
    }

    fn payload(&self, encoding: WeightEncoding) -> Vec<u8> {
        let f = &self.features;
        let mut p = Vec::new();
        p.extend_from_slice(&[
            f.bits,
            u8::from(f.word_bigrams),
            f.char_ngram,
            match f.term_weight {
                TermWeight::Binary => 0,
                TermWeight::Log => 1,
            },
            u8::from(f.l2_normalize),
        ]);
        p.extend_from_slice(&f.max_char_ngrams.to_le_bytes());
        p.extend_from_slice(&f.max_text_bytes.to_le_bytes());
        let l = &self.params;
        for x in [
            l.alpha,
            l.beta,
            l.l1,
            l.l2,
            self.calibration.a,
            self.calibration.b,
        ] {
            p.extend_from_slice(&x.to_le_bytes());
        }
        p.extend_from_slice(&self.examples.to_le_bytes());
        p.push(match self.storage() {
            Storage::Dense => 0,
            Storage::Sparse => 1,
        });
        p.push(match encoding {
            WeightEncoding::Full => 0,
            WeightEncoding::Quantized16 => 1,
        });
        for x in [self.bias.w, self.bias.z, self.bias.n] {
            p.extend_from_slice(&x.to_le_bytes());
        }

        let mut coords: Vec<(u32, Coord)> = match &self.coords {
            Coords::Dense(c) => c
                .iter()
                .enumerate()
                .filter(|(_, c)| c.w != 0.0 || c.z != 0.0 || c.n != 0.0)
                .map(|(i, c)| (i as u32, c))
                .collect(),
            Coords::Sparse(c) => {
                let mut v: Vec<(u32, Coord)> = c
                    .iter()
                    .filter(|(_, c)| c.w != 0.0 || c.z != 0.0 || c.n != 0.0)
                    .map(|(&i, &c)| (i, c))
                    .collect();
                v.sort_unstable_by_key(|&(i, _)| i);
                v
            }
        };
        match encoding {
            WeightEncoding::Full => {
                p.extend_from_slice(&(coords.len() as u32).to_le_bytes());
                let mut next = 0u32;
                for (i, c) in coords {
                    put_varint(&mut p, i - next);
                    next = i + 1;
                    p.extend_from_slice(&c.z.to_le_bytes());
                    p.extend_from_slice(&c.n.to_le_bytes());
                }
            }
            WeightEncoding::Quantized16 => {
                let max = coords.iter().map(|(_, c)| c.w.abs()).fold(0.0f32, f32::max);
                let scale = if max > 0.0 { max / 32767.0 } else { 1.0 };
                coords.retain(|(_, c)| (c.w / scale).round() != 0.0);
                p.extend_from_slice(&(coords.len() as u32).to_le_bytes());
                p.extend_from_slice(&scale.to_le_bytes());
                let mut next = 0u32;
                for (i, c) in coords {
                    put_varint(&mut p, i - next);
                    next = i + 1;
                    let q = (c.w / scale).round().clamp(-32767.0, 32767.0) as i16;
                    p.extend_from_slice(&q.to_le_bytes());
                }
            }
        }
        p
    }
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, ModelError> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(got)
}

fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A bounds-checked reader over the (checksummed) payload: a bad file is an error, never a panic.
struct Cursor<'a> {
    bytes: &'a [u8],
}

const SHORT: ModelError = ModelError::Corrupt("payload ends early");

impl Cursor<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], ModelError> {
        let (head, tail) = self.bytes.split_first_chunk::<N>().ok_or(SHORT)?;
        self.bytes = tail;
        Ok(*head)
    }
    fn u8(&mut self) -> Result<u8, ModelError> {
        Ok(self.take::<1>()?[0])
    }
    fn bool(&mut self) -> Result<bool, ModelError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(ModelError::Corrupt("flag is neither 0 nor 1")),
        }
    }
    fn u32(&mut self) -> Result<u32, ModelError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64, ModelError> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    fn f32(&mut self) -> Result<f32, ModelError> {
        let x = f32::from_le_bytes(self.take()?);
        if x.is_finite() {
            Ok(x)
        } else {
            Err(ModelError::Corrupt("non-finite number"))
        }
    }
    fn i16(&mut self) -> Result<i16, ModelError> {
        Ok(i16::from_le_bytes(self.take()?))
    }
    fn varint(&mut self) -> Result<u32, ModelError> {
        let mut v = 0u32;
        for shift in (0..35).step_by(7) {
            let b = self.u8()?;
            let part = u32::from(b & 0x7F);
            if shift == 28 && part > 0x0F {
                return Err(ModelError::Corrupt("index gap overflows"));
            }
            v |= part << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(ModelError::Corrupt("index gap overflows"))
    }
}

fn parse_payload(payload: &[u8]) -> Result<Model, ModelError> {
    let mut c = Cursor { bytes: payload };
    let bits = c.u8()?;
    let word_bigrams = c.bool()?;
    let char_ngram = c.u8()?;
    let term_weight = match c.u8()? {
        0 => TermWeight::Binary,
        1 => TermWeight::Log,
        _ => return Err(ModelError::Corrupt("unknown term weighting")),
    };
    let l2_normalize = c.bool()?;
    let features = FeatureConfig {
        bits,
        word_bigrams,
        char_ngram,
        term_weight,
        l2_normalize,
        max_char_ngrams: c.u32()?,
        max_text_bytes: c.u32()?,
    };
    if !features.is_valid() {
        return Err(ModelError::Corrupt("feature configuration out of range"));
    }
    let params = LearnerParams {
        alpha: c.f32()?,
        beta: c.f32()?,
        l1: c.f32()?,
        l2: c.f32()?,
    };
    if !params.is_valid() {
        return Err(ModelError::Corrupt("learner parameters out of range"));
    }
    let calibration = Calibration {
        a: c.f32()?,
        b: c.f32()?,
    };
    let examples = c.u64()?;
    let storage = match c.u8()? {
        0 => Storage::Dense,
        1 => Storage::Sparse,
        _ => return Err(ModelError::Corrupt("unknown storage kind")),
    };
    let encoding = match c.u8()? {
        0 => WeightEncoding::Full,
        1 => WeightEncoding::Quantized16,
        _ => return Err(ModelError::Corrupt("unknown weight encoding")),
    };
    let bias = Coord {
        w: c.f32()?,
        z: c.f32()?,
        n: c.f32()?,
    };
    if bias.n < 0.0 {
        return Err(ModelError::Corrupt("negative gradient sum"));
    }
    let count = c.u32()?;
    let buckets = features.buckets();
    if count as usize > buckets {
        return Err(ModelError::Corrupt("more weights than buckets"));
    }
    // Each entry takes at least 1 index byte and 2 (i16) or 8 (z, n) value bytes: a count the
    // payload cannot hold is refused before anything is allocated for it.
    let min_entry = match encoding {
        WeightEncoding::Full => 9,
        WeightEncoding::Quantized16 => 3,
    };
    if count as usize > c.bytes.len() / min_entry {
        return Err(ModelError::Corrupt("weight count exceeds the payload"));
    }
    let scale = match encoding {
        WeightEncoding::Full => 0.0,
        WeightEncoding::Quantized16 => {
            let s = c.f32()?;
            if s <= 0.0 {
                return Err(ModelError::Corrupt("quantisation scale is not positive"));
            }
            s
        }
    };

    let mut model = Model::new(features, params, storage);
    model.calibration = calibration;
    model.examples = examples;
    model.bias = bias;
    if let Coords::Sparse(map) = &mut model.coords {
        *map = SparseCoords::with_capacity_and_hasher(count as usize, Default::default());
    }
    let (l1, l2) = (params.l1, params.l2);
    let mut next = 0u64;
    for _ in 0..count {
        let index = next + u64::from(c.varint()?);
        if index >= buckets as u64 {
            return Err(ModelError::Corrupt("weight index outside the model"));
        }
        next = index + 1;
        let coord = match encoding {
            WeightEncoding::Full => {
                let (z, n) = (c.f32()?, c.f32()?);
                if n < 0.0 {
                    return Err(ModelError::Corrupt("negative gradient sum"));
                }
                Coord {
                    w: params.weight_of(z, n, l1, l2),
                    z,
                    n,
                }
            }
            WeightEncoding::Quantized16 => {
                let w = f32::from(c.i16()?) * scale;
                Coord {
                    w,
                    z: params.z_for_weight(w, l1, l2),
                    n: 0.0,
                }
            }
        };
        match &mut model.coords {
            Coords::Dense(v) => v.set(index as usize, coord),
            Coords::Sparse(m) => {
                m.insert(index as u32, coord);
            }
        }
    }
    if !c.bytes.is_empty() {
        return Err(ModelError::Corrupt("trailing bytes after the weights"));
    }
    Ok(model)
}

#[cfg(test)]
mod tests;
