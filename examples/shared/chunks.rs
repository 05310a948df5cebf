//! What the `compress` and `cluster` examples share: the chunk size, the
//! compression of one chunk, the output container and the generated input,
//! so that both write the same bytes.

use flate2::write::ZlibEncoder;
use flate2::Compression;
use std::io::Write;

/// The chunk size: 1 MiB.
pub const CHUNK: usize = 1 << 20;

/// One chunk compressed with zlib at level 6.
pub fn zlib(chunk: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(chunk.len() / 2), Compression::new(6));
    encoder.write_all(chunk).expect("compress");
    encoder.finish().expect("compress")
}

/// The container: for each chunk, its compressed length (u32 LE), then the bytes.
pub fn append(out: &mut Vec<u8>, z: &[u8]) {
    out.extend_from_slice(&(z.len() as u32).to_le_bytes());
    out.extend_from_slice(z);
}

/// `len` bytes of text from seven words picked by an xorshift generator
/// (the input when no file is given).
pub fn generated_text(len: usize) -> Vec<u8> {
    let words = [
        "alpha ",
        "beta ",
        "gamma ",
        "delta ",
        "pipeline ",
        "stage ",
        "order\n",
    ];
    let mut x = 42u64;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(words[(x % words.len() as u64) as usize].as_bytes());
    }
    out.truncate(len);
    out
}
