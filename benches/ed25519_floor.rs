//! `cargo bench --bench ed25519_floor`: what two cores can do at most when every decision costs
//! its two Ed25519 signature verifications and nothing else (SPEC §9, issue 11's
//! "the Ed25519 limit"). It times ed25519-dalek, the implementation Sequoia's pure-Rust backend
//! calls for every signature `aiaudit verify` checks, on this machine, and prints one table.
//!
//! Not a timed test: a program that prints what it measured, as `benches/scale.rs` does.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use std::hint::black_box;
use std::time::Instant;

/// Signatures per round; a record-sized message each (Sequoia signs a hash: 64 bytes for
/// SHA-512, 32 for SHA-256; the message size barely matters).
const N: usize = 4_000;
const ROUNDS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn per_op(f: impl Fn()) -> f64 {
    median(
        (0..ROUNDS)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() / N as f64
            })
            .collect(),
    )
}

fn main() {
    let key = SigningKey::from_bytes(&[7; 32]);
    let public = key.verifying_key().to_bytes();
    let messages: Vec<[u8; 64]> = (0..N as u64)
        .map(|i| {
            let mut m = [0u8; 64];
            m[..8].copy_from_slice(&i.to_le_bytes());
            m
        })
        .collect();
    let sigs: Vec<Signature> = messages.iter().map(|m| key.sign(m)).collect();
    let vk = VerifyingKey::from_bytes(&public).expect("a valid key");

    let verify = per_op(|| {
        for (m, s) in messages.iter().zip(&sigs) {
            assert!(black_box(&vk).verify(m, s).is_ok());
        }
    });
    let strict = per_op(|| {
        for (m, s) in messages.iter().zip(&sigs) {
            assert!(black_box(&vk).verify_strict(m, s).is_ok());
        }
    });
    // What Sequoia's backend does for each signature: the key decompressed, then verified.
    let with_key = per_op(|| {
        for (m, s) in messages.iter().zip(&sigs) {
            let k = VerifyingKey::from_bytes(black_box(&public)).expect("a valid key");
            assert!(k.verify(m, s).is_ok());
        }
    });

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let limit = |per_sig: f64| cores as f64 / (2.0 * per_sig);
    println!("Ed25519 verification with ed25519-dalek ({N} signatures, median of {ROUNDS} rounds, {cores} cores)\n");
    println!("| what | per signature | decisions/s on {cores} cores at 2 signatures each, nothing else done |");
    println!("|---|---:|---:|");
    for (what, t) in [
        ("`VerifyingKey::verify` (a decoded key)", verify),
        ("`VerifyingKey::verify_strict`", strict),
        (
            "key decoded, then `verify` (as Sequoia's backend does)",
            with_key,
        ),
    ] {
        println!("| {what} | {:.1} µs | {:.0} |", t * 1e6, limit(t));
    }
}
