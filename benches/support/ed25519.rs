//! The Ed25519 floor (issue 11's "Ed25519 limit"): ed25519-dalek, the implementation Sequoia's
//! pure-Rust backend calls for every signature `aiaudit verify` checks, timed on its own. Used
//! by `benches/ed25519_floor.rs` (all three ways) and `benches/scale.rs` (the way Sequoia does
//! it, one row of the table).

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use std::hint::black_box;
use std::time::Instant;

/// Signatures per round, over 64-byte messages (a SHA-512 digest's size: Sequoia hands
/// Ed25519 the signature's digest, not the signed bytes).
pub const SIGNATURES: usize = 4_000;
pub const ROUNDS: usize = 5;

/// Seconds per verification, median of [`ROUNDS`] rounds of [`SIGNATURES`] each.
pub struct Floor {
    /// `VerifyingKey::verify` with a decoded key.
    pub verify: f64,
    /// `VerifyingKey::verify_strict`.
    pub strict: f64,
    /// The key decoded from its bytes, then `verify`: what Sequoia's backend does each time.
    pub as_sequoia: f64,
}

struct Signed {
    public: [u8; 32],
    messages: Vec<[u8; 64]>,
    sigs: Vec<Signature>,
}

fn signed() -> Signed {
    let key = SigningKey::from_bytes(&[7; 32]);
    let messages: Vec<[u8; 64]> = (0..SIGNATURES as u64)
        .map(|i| {
            let mut m = [0u8; 64];
            m[..8].copy_from_slice(&i.to_le_bytes());
            m
        })
        .collect();
    let sigs = messages.iter().map(|m| key.sign(m)).collect();
    Signed {
        public: key.verifying_key().to_bytes(),
        messages,
        sigs,
    }
}

fn per_op(f: impl Fn()) -> f64 {
    let mut v: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() / SIGNATURES as f64
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn as_sequoia(s: &Signed) -> f64 {
    per_op(|| {
        for (m, sig) in s.messages.iter().zip(&s.sigs) {
            let k = VerifyingKey::from_bytes(black_box(&s.public)).expect("a valid key");
            assert!(k.verify(m, sig).is_ok());
        }
    })
}

/// The three ways.
pub fn measure() -> Floor {
    let s = signed();
    let vk = VerifyingKey::from_bytes(&s.public).expect("a valid key");
    let pairs = || s.messages.iter().zip(&s.sigs);
    Floor {
        verify: per_op(|| {
            pairs().for_each(|(m, sig)| assert!(black_box(&vk).verify(m, sig).is_ok()))
        }),
        strict: per_op(|| {
            pairs().for_each(|(m, sig)| assert!(black_box(&vk).verify_strict(m, sig).is_ok()))
        }),
        as_sequoia: as_sequoia(&s),
    }
}

/// Seconds per verification the way Sequoia's backend does it.
#[allow(dead_code)] // used by scale.rs only
pub fn per_signature_as_sequoia() -> f64 {
    as_sequoia(&signed())
}

/// Decisions a second `cores` cores allow at two verifications each, nothing else done.
pub fn decisions_per_second(per_signature: f64, cores: usize) -> f64 {
    cores as f64 / (2.0 * per_signature)
}
