//! Framing for the attach stream. A frame is a 4-byte marker, a 4-byte big-endian payload
//! length, a 4-byte CRC-32 of the payload, then the payload. The marker and checksum let a
//! reader that joins mid-stream (after a re-attach, or after garbage) find the next frame
//! boundary instead of misreading everything that follows. Lengths are bounded so a corrupt
//! or hostile stream cannot make either end allocate without limit.

use thiserror::Error;

/// Starts every frame. Bytes that can never begin valid UTF-8, so shell text is unlikely to
/// imitate it.
pub const MARKER: [u8; 4] = [0xF8, 0x49, 0x50, 0xF9];

/// Largest payload a frame may carry (4 MiB): file writes above it are split by the sender.
pub const MAX_FRAME_LEN: usize = 4 * 1024 * 1024;

/// Marker, length and checksum.
pub const HEADER_LEN: usize = 12;

/// Why a frame could not be encoded, or what the decoder had to skip.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    /// The payload (or a received length) exceeds [`MAX_FRAME_LEN`].
    #[error("frame of {len} bytes exceeds the limit of {MAX_FRAME_LEN} bytes")]
    TooLarge {
        /// The offending length.
        len: usize,
    },
    /// A frame's checksum did not match its payload; it was skipped.
    #[error("frame checksum mismatch; {len} bytes skipped")]
    Corrupt {
        /// The length the damaged header announced.
        len: usize,
    },
    /// Bytes that were not part of any frame were skipped while looking for a marker.
    #[error("{skipped} bytes outside any frame were skipped")]
    Garbage {
        /// How many bytes were dropped.
        skipped: usize,
    },
}

/// Appends one frame carrying `payload` to `out`.
pub fn encode(payload: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    if payload.len() > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge { len: payload.len() });
    }
    out.reserve(HEADER_LEN + payload.len());
    out.extend_from_slice(&MARKER);
    // The bound above keeps the length within u32.
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// Accumulates bytes from a stream and yields whole frames as they complete.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Read position in `buf`; consumed bytes are dropped in batches.
    start: usize,
}

impl FrameDecoder {
    /// A decoder with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete frame; `None` when more bytes are needed. Problems (garbage, a
    /// damaged or oversized frame) come back as `Some(Err(..))`, after which decoding goes on
    /// from the next marker: the stream is never given up on.
    pub fn next_frame(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        let data = &self.buf[self.start..];
        let at = match find_marker(data) {
            Some(0) => 0,
            Some(at) => {
                self.start += at;
                return Some(Err(FrameError::Garbage { skipped: at }));
            }
            None => {
                // Keep a tail that may be the start of a marker split across reads.
                let keep = data.len().min(MARKER.len() - 1);
                let skipped = data.len() - keep;
                self.start += skipped;
                return (skipped > 0).then_some(Err(FrameError::Garbage { skipped }));
            }
        };
        debug_assert_eq!(at, 0);
        if data.len() < HEADER_LEN {
            return None;
        }
        let len = u32::from_be_bytes([data[4], data[5], data[6], data[7]]) as usize;
        let crc = u32::from_be_bytes([data[8], data[9], data[10], data[11]]);
        if len > MAX_FRAME_LEN {
            // Skip this marker and look for the next one.
            self.start += 1;
            return Some(Err(FrameError::TooLarge { len }));
        }
        if data.len() < HEADER_LEN + len {
            return None;
        }
        let payload = &data[HEADER_LEN..HEADER_LEN + len];
        if crc32fast::hash(payload) != crc {
            self.start += 1;
            return Some(Err(FrameError::Corrupt { len }));
        }
        let frame = payload.to_vec();
        self.start += HEADER_LEN + len;
        Some(Ok(frame))
    }
}

/// Position of the first marker in `data`, or of a marker prefix at its very end.
fn find_marker(data: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = data[from..].iter().position(|&b| b == MARKER[0]) {
        let at = from + i;
        let rest = &data[at..];
        let n = rest.len().min(MARKER.len());
        if rest[..n] == MARKER[..n] {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(dec: &mut FrameDecoder) -> (Vec<Vec<u8>>, Vec<FrameError>) {
        let mut frames = Vec::new();
        let mut errors = Vec::new();
        while let Some(r) = dec.next_frame() {
            match r {
                Ok(f) => frames.push(f),
                Err(e) => errors.push(e),
            }
        }
        (frames, errors)
    }

    #[test]
    fn frames_survive_arbitrary_splits() {
        let payloads: Vec<Vec<u8>> = vec![b"hello".to_vec(), Vec::new(), vec![0xf8; 70_000]];
        let mut wire = Vec::new();
        for p in &payloads {
            encode(p, &mut wire).unwrap();
        }
        for chunk in [1usize, 3, 7, 4096, wire.len()] {
            let mut dec = FrameDecoder::new();
            let mut got = Vec::new();
            for piece in wire.chunks(chunk) {
                dec.push(piece);
                let (frames, errors) = decode_all(&mut dec);
                assert!(errors.is_empty(), "chunk {chunk}: {errors:?}");
                got.extend(frames);
            }
            assert_eq!(got, payloads, "chunk size {chunk}");
            assert_eq!(dec.buffered(), 0);
        }
    }

    #[test]
    fn a_reader_joining_mid_stream_finds_the_next_frame() {
        let mut wire = Vec::new();
        encode(b"first frame, half lost", &mut wire).unwrap();
        encode(b"second", &mut wire).unwrap();
        let mut dec = FrameDecoder::new();
        dec.push(&wire[7..]);
        let (frames, errors) = decode_all(&mut dec);
        assert_eq!(frames, vec![b"second".to_vec()]);
        assert!(
            matches!(errors[..], [FrameError::Garbage { .. }]),
            "{errors:?}"
        );
    }

    #[test]
    fn damaged_and_oversized_frames_are_skipped_not_fatal() {
        let mut wire = Vec::new();
        encode(b"damaged", &mut wire).unwrap();
        let last = wire.len() - 1;
        wire[last] ^= 0xff;
        wire.extend_from_slice(&MARKER);
        wire.extend_from_slice(&((MAX_FRAME_LEN as u32) + 1).to_be_bytes());
        wire.extend_from_slice(&[0; 4]);
        wire.extend_from_slice(b"shell noise");
        encode(b"ok", &mut wire).unwrap();
        let mut dec = FrameDecoder::new();
        dec.push(&wire);
        let (frames, errors) = decode_all(&mut dec);
        assert_eq!(frames, vec![b"ok".to_vec()]);
        assert!(errors
            .iter()
            .any(|e| matches!(e, FrameError::Corrupt { len: 7 })));
        assert!(errors
            .iter()
            .any(|e| matches!(e, FrameError::TooLarge { .. })));
    }

    #[test]
    fn a_marker_split_across_reads_is_kept() {
        let mut wire = b"noise".to_vec();
        encode(b"x", &mut wire).unwrap();
        let mut dec = FrameDecoder::new();
        dec.push(&wire[..7]); // noise + 2 marker bytes
        let (frames, _) = decode_all(&mut dec);
        assert!(frames.is_empty());
        dec.push(&wire[7..]);
        let (frames, _) = decode_all(&mut dec);
        assert_eq!(frames, vec![b"x".to_vec()]);
    }

    #[test]
    fn oversized_payload_is_not_encoded() {
        let mut out = Vec::new();
        let big = vec![0u8; MAX_FRAME_LEN + 1];
        assert!(matches!(
            encode(&big, &mut out),
            Err(FrameError::TooLarge { .. })
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn random_garbage_never_panics_and_never_grows_without_bound() {
        // A small deterministic generator: the decoder must survive any byte soup.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut dec = FrameDecoder::new();
        for _ in 0..2_000 {
            let mut chunk = Vec::with_capacity(64);
            for _ in 0..64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.push((x & 0xff) as u8);
            }
            if x.is_multiple_of(5) {
                chunk.extend_from_slice(&MARKER);
            }
            dec.push(&chunk);
            while let Some(r) = dec.next_frame() {
                let _ = r;
            }
            assert!(dec.buffered() <= HEADER_LEN + MAX_FRAME_LEN);
        }
    }
}
