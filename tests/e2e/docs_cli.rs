//! Completions and man pages come from the CLI definition; output into a closed pipe is quiet.

use crate::harness::*;

#[test]
fn completions_and_man_pages_are_generated_from_the_cli() {
    let w = World::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = w.aiaudit(&["completions", shell]).ok();
        for cmd in ["record", "approve", "verify", "checkpoint", "export"] {
            assert!(out.contains(cmd), "{shell} completion lacks {cmd}");
        }
    }
    let man = w.aiaudit(&["man"]).ok();
    assert!(
        man.starts_with(".ie") || man.contains(".TH aiaudit 1"),
        "{man}"
    );
    let dir = w.server.with_file_name("man");
    w.aiaudit(&["man", "--out-dir", s(&dir)]).ok();
    let approve = std::fs::read_to_string(dir.join("aiaudit-approve.1")).unwrap();
    assert!(
        approve.contains("what you sign is exactly the file"),
        "the approve page carries its --help text"
    );
    let unknown = w.aiaudit(&["completions", "tcsh"]);
    assert_eq!(unknown.status.code(), Some(2), "{unknown}");
}
