//! Length-prefixed framing for the attach stream: a 4-byte big-endian length, then that many
//! bytes of payload. The length is bounded so a corrupt or hostile stream cannot make either
//! end allocate without limit.

use thiserror::Error;

/// Largest payload a frame may carry (4 MiB): file writes above it are split by the sender.
pub const MAX_FRAME_LEN: usize = 4 * 1024 * 1024;

/// Bytes of the length prefix.
const HEADER_LEN: usize = 4;

/// Why a frame could not be encoded or decoded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    /// The payload (or a received length prefix) exceeds [`MAX_FRAME_LEN`].
    #[error("frame of {len} bytes exceeds the limit of {MAX_FRAME_LEN} bytes")]
    TooLarge {
        /// The offending length.
        len: usize,
    },
}

/// Appends one frame carrying `payload` to `out`.
pub fn encode(payload: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    if payload.len() > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge { len: payload.len() });
    }
    // The bound above keeps the length within u32.
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// Accumulates bytes from a stream and yields whole frames as they complete.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
}

impl FrameDecoder {
    /// A decoder with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed, or an error when the
    /// length prefix is over the limit (the buffered bytes are then discarded so the reader
    /// can resynchronise).
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let mut len_bytes = [0u8; HEADER_LEN];
        len_bytes.copy_from_slice(&self.buf[..HEADER_LEN]);
        let len = u32::from_be_bytes(len_bytes) as usize;
        if len > MAX_FRAME_LEN {
            self.buf.clear();
            return Err(FrameError::TooLarge { len });
        }
        if self.buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let frame = self.buf[HEADER_LEN..HEADER_LEN + len].to_vec();
        self.buf.drain(..HEADER_LEN + len);
        Ok(Some(frame))
    }

    /// Bytes received but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_arbitrary_splits() {
        let payloads: Vec<Vec<u8>> = vec![b"hello".to_vec(), Vec::new(), vec![0xff; 70_000]];
        let mut wire = Vec::new();
        for p in &payloads {
            encode(p, &mut wire).unwrap();
        }
        for chunk in [1usize, 3, 7, 4096, wire.len()] {
            let mut dec = FrameDecoder::new();
            let mut got = Vec::new();
            for piece in wire.chunks(chunk) {
                dec.push(piece);
                while let Some(f) = dec.next_frame().unwrap() {
                    got.push(f);
                }
            }
            assert_eq!(got, payloads, "chunk size {chunk}");
            assert_eq!(dec.buffered(), 0);
        }
    }

    #[test]
    fn oversized_length_prefix_is_refused_and_buffer_dropped() {
        let mut dec = FrameDecoder::new();
        dec.push(&((MAX_FRAME_LEN as u32) + 1).to_be_bytes());
        dec.push(b"junk");
        assert_eq!(
            dec.next_frame(),
            Err(FrameError::TooLarge {
                len: MAX_FRAME_LEN + 1
            })
        );
        assert_eq!(dec.buffered(), 0);
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
}
