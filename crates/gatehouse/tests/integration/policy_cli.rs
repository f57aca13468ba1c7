//! `gatehouse policy` through the real binary: the example's case table (what CI runs), a failing
//! case with its diff, `check` locating a broken rule and an unknown group, `explain` printing the
//! rules and facts, and `replay` reporting the recorded requests a candidate configuration would
//! decide differently.

use std::path::{Path, PathBuf};

use crate::cli::cli_in;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/research-library")
}

/// `gatehouse policy ARGS` with the example's configuration (or `config`) and no store.
fn policy(config: &Path, args: &[&str]) -> (i32, String, String) {
    let data = tempfile::tempdir().unwrap();
    let mut all = vec!["policy"];
    all.extend_from_slice(args);
    cli_in(data.path(), config, &all, None)
}

#[test]
fn the_example_passes_its_own_case_table() {
    let dir = example();
    let cases = dir.join("cases.toml");
    let (code, out, err) = policy(
        &dir.join("gatehouse.toml"),
        &["test", cases.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("12 passed, 0 failed"), "{out}");
}

#[test]
fn a_case_that_does_not_hold_fails_with_a_diff_and_the_facts() {
    let dir = example();
    let tmp = tempfile::tempdir().unwrap();
    let cases = tmp.path().join("cases.toml");
    std::fs::write(
        &cases,
        r#"
[[case]]
name = "a guest in the reading room"
principal = "gus"
groups = ["guests"]
tier = "open"
terminal = "rr-03"
at = "2026-12-07T10:00"
url = "http://journal.example/"
expect = "allow"
rule = "tier-open"
"#,
    )
    .unwrap();
    let (code, out, _) = policy(
        &dir.join("gatehouse.toml"),
        &["test", cases.to_str().unwrap()],
    );
    assert_ne!(code, 0);
    assert!(out.contains("FAIL  a guest in the reading room"), "{out}");
    assert!(out.contains("- expected: allow tier-open"), "{out}");
    assert!(
        out.contains("+ got:      deny reading-room-researchers-only"),
        "{out}"
    );
    assert!(
        out.contains("terminal=rr-03 location=reading-room"),
        "{out}"
    );
    assert!(out.contains("0 passed, 1 failed"), "{out}");
}

/// The example's configuration in a folder of its own, with `rules` as its rule file.
fn example_with_rules(rules: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        example().join("gatehouse.toml"),
        tmp.path().join("gatehouse.toml"),
    )
    .unwrap();
    std::fs::write(tmp.path().join("rules.cedar"), rules).unwrap();
    tmp
}

#[test]
fn check_locates_a_broken_rule_and_an_unknown_name() {
    let tmp = example_with_rules(
        r#"@id("fine")
permit (principal, action, resource) when { context.location == "foyer" };

@id("typo")
permit (principal, action, resource) when { context.location == "reading-rom" };
"#,
    );
    let (code, _, err) = policy(&tmp.path().join("gatehouse.toml"), &["check"]);
    assert_ne!(code, 0);
    let file = tmp.path().join("rules.cedar");
    assert!(
        err.contains(&format!("{}:5:", file.display())),
        "the second rule's line: {err}"
    );
    assert!(err.contains("reading-rom"), "{err}");

    // check-config refuses the same file (and so would a reload: the running configuration stays).
    let out = std::process::Command::new(crate::cli::BIN)
        .arg("check-config")
        .arg(tmp.path().join("gatehouse.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rules.cedar:5:"), "{err}");
}

#[test]
fn check_with_a_store_refuses_a_rule_naming_a_group_that_does_not_exist() {
    let tmp = example_with_rules(
        r#"@id("staff")
@tier("open")
permit (principal in Gatehouse::Group::"staf", action, resource);
"#,
    );
    let config = tmp.path().join("gatehouse.toml");
    let data = tempfile::tempdir().unwrap();
    // Without a store, groups cannot be checked, and check says so.
    let (code, out, err) = cli_in(data.path(), &config, &["policy", "check"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("groups not checked"), "{out}");
    // With a store that has no such group, it is an error at the rule's line.
    let (code, _, err) = cli_in(data.path(), &config, &["group", "add", "staff"], None);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli_in(data.path(), &config, &["policy", "check"], None);
    assert_ne!(code, 0);
    assert!(err.contains("rules.cedar:3:"), "{err}");
    assert!(err.contains("staf"), "{err}");
}

#[test]
fn explain_prints_the_decision_the_rules_and_the_facts() {
    let dir = example();
    let (code, out, err) = policy(
        &dir.join("gatehouse.toml"),
        &[
            "explain",
            "--principal",
            "sam",
            "--groups",
            "staff",
            "--tier",
            "intranet",
            "--terminal",
            "staff-desk",
            "--at",
            "2026-12-07T19:30",
            "http://news.example/today",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("decision: deny by `no-news-in-the-evening`"),
        "{out}"
    );
    assert!(out.contains("forbid `no-news-in-the-evening`"), "{out}");
    assert!(out.contains("permit `staff-office-open`"), "{out}");
    assert!(out.contains("schedules active: [evening]"), "{out}");
    assert!(out.contains("categories: [news]"), "{out}");
    assert!(
        out.contains("terminal: staff-desk, location: staff-office"),
        "{out}"
    );
}
