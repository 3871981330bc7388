//! `cargo bench --bench ed25519_floor`: what two cores can do at most when every decision costs
//! its two Ed25519 signature verifications and nothing else (SPEC §9, issue 11's
//! "the Ed25519 limit"). It times ed25519-dalek, the implementation Sequoia's pure-Rust backend
//! calls for every signature `aiaudit verify` checks, on this machine, and prints one table.
//! `benches/scale.rs` prints the last line of it as a row of its own table.
//!
//! Not a timed test: a program that prints what it measured, as `benches/scale.rs` does.

#[path = "support/ed25519.rs"]
mod floor;

fn main() {
    let f = floor::measure();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "Ed25519 verification with ed25519-dalek ({} signatures, median of {} rounds, {cores} cores)\n",
        floor::SIGNATURES,
        floor::ROUNDS
    );
    println!("| what | per signature | decisions/s on {cores} cores at 2 signatures each, nothing else done |");
    println!("|---|---:|---:|");
    for (what, t) in [
        ("`VerifyingKey::verify` (a decoded key)", f.verify),
        ("`VerifyingKey::verify_strict`", f.strict),
        (
            "key decoded, then `verify` (as Sequoia's backend does)",
            f.as_sequoia,
        ),
    ] {
        println!(
            "| {what} | {:.1} µs | {:.0} |",
            t * 1e6,
            floor::decisions_per_second(t, cores)
        );
    }
}
