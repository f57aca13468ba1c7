//! Known-answer and tampering tests of the whole crate.
//!
//! The reference is a naive implementation of RFC 9162 §2.1 written here from the RFC's recursive
//! definitions (`MTH`, `PATH`, `PROOF`/`SUBPROOF`) over the raw data, hashing with the `blake3`
//! crate directly: it shares no code with the crate under test. Every tree size 1..=64, every leaf
//! index and every pair of sizes is compared; then verification is shown to refuse each kind of
//! tampering. The signed-note tests include the example note of Go's `sumdb/note` documentation,
//! so the format is checked against another implementation's output, byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::*;

// ---- The reference: RFC 9162 §2.1, recursively, from the definitions. ----

fn h(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

fn ref_leaf(data: &[u8]) -> [u8; 32] {
    h(&[&[0u8][..], data].concat())
}

fn ref_node(left: [u8; 32], right: [u8; 32]) -> [u8; 32] {
    h(&[&[1u8][..], &left, &right].concat())
}

/// The largest power of two strictly smaller than `n` (n > 1).
fn ref_k(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[Vec<u8>]) -> [u8; 32] {
    match d.len() {
        0 => h(b""),
        1 => ref_leaf(&d[0]),
        n => {
            let k = ref_k(n);
            ref_node(mth(&d[..k]), mth(&d[k..]))
        }
    }
}

fn path(m: usize, d: &[Vec<u8>]) -> Vec<[u8; 32]> {
    let n = d.len();
    if n == 1 {
        return Vec::new();
    }
    let k = ref_k(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

fn subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<[u8; 32]> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(d)] };
    }
    let k = ref_k(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn data(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("event {i}").into_bytes()).collect()
}

fn hashes(list: &[[u8; 32]]) -> Vec<Hash> {
    list.iter().map(|bytes| Hash(*bytes)).collect()
}

// ---- Known answers against the reference. ----

#[test]
fn roots_match_the_rfc_definition_for_every_size_up_to_64() {
    let all = data(64);
    let mut tree = Tree::new();
    assert_eq!(tree.root(), Hash(mth(&[])));
    for n in 1..=64 {
        assert_eq!(leaf_hash(&all[n - 1]), Hash(ref_leaf(&all[n - 1])));
        tree.append(leaf_hash(&all[n - 1])).unwrap();
        let expected = Hash(mth(&all[..n]));
        assert_eq!(tree.root(), expected, "size {n}");
        let leaves: Vec<Hash> = all[..n].iter().map(|d| leaf_hash(d)).collect();
        assert_eq!(root_of(&leaves), expected, "size {n}");
        assert_eq!(leaves.subtree_root(0, n as u64).unwrap(), expected);
    }
}

#[test]
fn inclusion_proofs_match_the_rfc_definition_and_verify() {
    let all = data(64);
    let leaves: Vec<Hash> = all.iter().map(|d| leaf_hash(d)).collect();
    for n in 1..=64usize {
        let root = Hash(mth(&all[..n]));
        for m in 0..n {
            let proof = inclusion_proof(&leaves, m as u64, n as u64).unwrap();
            assert_eq!(proof, hashes(&path(m, &all[..n])), "index {m} size {n}");
            verify_inclusion(m as u64, n as u64, &leaves[m], &proof, &root)
                .unwrap_or_else(|e| panic!("index {m} size {n}: {e}"));
        }
    }
}

#[test]
fn consistency_proofs_match_the_rfc_definition_and_verify() {
    let all = data(64);
    let leaves: Vec<Hash> = all.iter().map(|d| leaf_hash(d)).collect();
    for n in 1..=64usize {
        let root2 = Hash(mth(&all[..n]));
        for m in 1..=n {
            let root1 = Hash(mth(&all[..m]));
            let proof = consistency_proof(&leaves, m as u64, n as u64).unwrap();
            assert_eq!(proof, hashes(&subproof(m, &all[..n], true)), "{m} → {n}");
            verify_consistency(m as u64, n as u64, &root1, &root2, &proof)
                .unwrap_or_else(|e| panic!("{m} → {n}: {e}"));
        }
        // The empty tree is a prefix of every tree.
        assert!(consistency_proof(&leaves, 0, n as u64).unwrap().is_empty());
        verify_consistency(0, n as u64, &empty_root(), &root2, &[]).unwrap();
    }
}

// ---- Tampering. ----

#[test]
fn tampered_inclusion_proofs_fail() {
    let all = data(65);
    let leaves: Vec<Hash> = all.iter().map(|d| leaf_hash(d)).collect();
    let other = leaf_hash(b"event changed");
    for n in 2..=64u64 {
        let root = root_of(&leaves[..n as usize]);
        for m in 0..n {
            let leaf = leaves[m as usize];
            let proof = inclusion_proof(&leaves, m, n).unwrap();
            // A changed leaf.
            assert!(verify_inclusion(m, n, &other, &proof, &root).is_err());
            // A leaf claimed at another index (a reordering).
            let elsewhere = (m + 1) % n;
            assert!(
                verify_inclusion(elsewhere, n, &leaf, &proof, &root).is_err(),
                "{m} as {elsewhere} in {n}"
            );
            // Another tree size, with that tree's root: the checkpoint signs size and root
            // together, so a proof alone must not pass for a tree it was not made for.
            for size in [n - 1, n + 1] {
                let other_root = root_of(&leaves[..size as usize]);
                if m < size {
                    assert!(verify_inclusion(m, size, &leaf, &proof, &other_root).is_err());
                }
            }
            // A truncated proof, a proof with an extra hash, a changed hash.
            if let Some((_, head)) = proof.split_last() {
                assert!(matches!(
                    verify_inclusion(m, n, &leaf, head, &root),
                    Err(VerifyError::ProofTooShort { .. } | VerifyError::RootMismatch { .. })
                ));
            }
            let mut longer = proof.clone();
            longer.push(other);
            assert!(verify_inclusion(m, n, &leaf, &longer, &root).is_err());
            for i in 0..proof.len() {
                let mut changed = proof.clone();
                changed[i] = other;
                assert!(verify_inclusion(m, n, &leaf, &changed, &root).is_err());
            }
            // Another root.
            assert!(verify_inclusion(m, n, &leaf, &proof, &other).is_err());
        }
    }
    assert_eq!(
        verify_inclusion(3, 3, &other, &[], &other),
        Err(VerifyError::IndexOutOfRange {
            index: 3,
            tree_size: 3
        })
    );
}

#[test]
fn a_swapped_pair_of_leaves_fails_inclusion_and_consistency() {
    let leaves: Vec<Hash> = data(20).iter().map(|d| leaf_hash(d)).collect();
    let root = root_of(&leaves);
    let mut swapped = leaves.clone();
    swapped.swap(6, 7);
    let swapped_root = root_of(&swapped);
    assert_ne!(root, swapped_root);
    // The proof from the swapped log does not verify against the signed root.
    let proof = inclusion_proof(&swapped, 6, 20).unwrap();
    assert!(verify_inclusion(6, 20, &swapped[6], &proof, &root).is_err());
    // A log that swapped two old leaves cannot prove it only grew since a checkpoint of 10.
    let old_root = root_of(&leaves[..10]);
    let mut grown = swapped.clone();
    grown.push(leaf_hash(b"new"));
    let proof = consistency_proof(&grown, 10, 21).unwrap();
    assert!(matches!(
        verify_consistency(10, 21, &old_root, &root_of(&grown), &proof),
        Err(VerifyError::RootMismatch {
            what: "first tree",
            ..
        })
    ));
}

#[test]
fn tampered_consistency_proofs_fail() {
    let leaves: Vec<Hash> = data(65).iter().map(|d| leaf_hash(d)).collect();
    let other = leaf_hash(b"x");
    for n in 2..=64u64 {
        let root2 = root_of(&leaves[..n as usize]);
        for m in 1..n {
            let root1 = root_of(&leaves[..m as usize]);
            let proof = consistency_proof(&leaves, m, n).unwrap();
            assert!(!proof.is_empty());
            assert!(verify_consistency(m, n, &other, &root2, &proof).is_err());
            assert!(verify_consistency(m, n, &root1, &other, &proof).is_err());
            assert!(verify_consistency(m, n, &root1, &root2, &proof[1..]).is_err());
            assert!(verify_consistency(m, n, &root1, &root2, &proof[..proof.len() - 1]).is_err());
            let mut longer = proof.clone();
            longer.push(other);
            assert!(verify_consistency(m, n, &root1, &root2, &longer).is_err());
            for i in 0..proof.len() {
                let mut changed = proof.clone();
                changed[i] = other;
                assert!(verify_consistency(m, n, &root1, &root2, &changed).is_err());
            }
            // Other sizes, each with its own tree's root (as a checkpoint would pair them).
            let root_at = |size: u64| root_of(&leaves[..size as usize]);
            for size1 in [m - 1, m + 1] {
                if size1 >= 1 && size1 < n {
                    let r1 = root_at(size1);
                    assert!(verify_consistency(size1, n, &r1, &root2, &proof).is_err());
                }
            }
            for size2 in [n - 1, n + 1] {
                if size2 > m {
                    let r2 = root_at(size2);
                    assert!(verify_consistency(m, size2, &root1, &r2, &proof).is_err());
                }
            }
        }
    }
}

#[test]
fn consistency_edge_cases() {
    let root = leaf_hash(b"a");
    let other = leaf_hash(b"b");
    verify_consistency(5, 5, &root, &root, &[]).unwrap();
    assert!(verify_consistency(5, 5, &root, &other, &[]).is_err());
    assert_eq!(
        verify_consistency(5, 5, &root, &root, &[other]),
        Err(VerifyError::ProofLength { size1: 5, size2: 5 })
    );
    assert_eq!(
        verify_consistency(0, 5, &root, &root, &[other])
            .unwrap_err()
            .to_string(),
        "a consistency proof from size 0 to 5 must be empty"
    );
    assert_eq!(
        verify_consistency(3, 5, &root, &other, &[])
            .unwrap_err()
            .to_string(),
        "a consistency proof from size 3 to 5 cannot be empty"
    );
    assert_eq!(
        verify_consistency(6, 5, &root, &other, &[]),
        Err(VerifyError::SizesOutOfOrder { size1: 6, size2: 5 })
    );
}

#[test]
fn proof_generation_refuses_what_is_not_there() {
    let leaves: Vec<Hash> = data(8).iter().map(|d| leaf_hash(d)).collect();
    assert!(matches!(
        inclusion_proof(&leaves, 8, 8),
        Err(ProofError::IndexOutOfRange {
            index: 8,
            tree_size: 8
        })
    ));
    assert!(matches!(
        inclusion_proof(&leaves, 0, 9),
        Err(ProofError::SizeTooLarge {
            tree_size: 9,
            available: 8
        })
    ));
    assert!(matches!(
        consistency_proof(&leaves, 5, 4),
        Err(ProofError::SizesOutOfOrder { size1: 5, size2: 4 })
    ));
    assert!(matches!(
        consistency_proof(&leaves, 4, 9),
        Err(ProofError::SizeTooLarge { .. })
    ));
    assert!(inclusion_proof(&leaves, 0, 0).is_err());
}

/// A source whose reads can fail, as a store's can: its error reaches the caller typed.
#[test]
fn a_failing_source_reports_its_error() {
    #[derive(Debug, thiserror::Error)]
    #[error("leaf {0} is unreadable")]
    struct Unreadable(u64);
    struct Holey;
    impl Leaves for Holey {
        type Error = Unreadable;
        fn size(&self) -> u64 {
            10
        }
        fn leaf(&self, index: u64) -> Result<Hash, Unreadable> {
            if index == 3 {
                return Err(Unreadable(3));
            }
            Ok(leaf_hash(&index.to_be_bytes()))
        }
    }
    let err = inclusion_proof(&Holey, 9, 10).unwrap_err();
    assert!(matches!(err, ProofError::Source(Unreadable(3))));
    assert_eq!(
        std::error::Error::source(&err).map(ToString::to_string),
        Some("leaf 3 is unreadable".to_owned())
    );
    // A proof that needs no unreadable leaf still succeeds (2 → 3 reads leaf 2 alone).
    assert!(consistency_proof(&Holey, 2, 3).is_ok());
}

// ---- Frontier resume. ----

#[test]
fn a_resumed_tree_gives_the_same_roots_as_one_never_stopped() {
    let all = data(200);
    let mut whole = Tree::new();
    for stop in [0usize, 1, 2, 3, 7, 8, 63, 64, 65, 127, 128, 150] {
        let mut first = Tree::new();
        for d in &all[..stop] {
            first.append(leaf_hash(d)).unwrap();
        }
        // What a writer stores: the size and the frontier, nothing else.
        let (size, frontier) = (first.size(), first.frontier().to_vec());
        let mut resumed = Tree::resume(size, &frontier, &first.root()).unwrap();
        whole = Tree::new();
        for (i, d) in all.iter().enumerate() {
            whole.append(leaf_hash(d)).unwrap();
            if i >= stop {
                resumed.append(leaf_hash(d)).unwrap();
                assert_eq!(
                    resumed.root(),
                    whole.root(),
                    "stopped at {stop}, size {}",
                    i + 1
                );
                assert_eq!(resumed.root(), Hash(mth(&all[..=i])));
            }
        }
        assert_eq!(resumed, whole);
    }
    assert_eq!(whole.size(), 200);
}

// ---- Signed notes and checkpoints. ----

/// Go's `sumdb/note` documentation signs this text with the key
/// `PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz`.
const GO_TEXT: &str =
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_SIGNATURE_LINE: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

fn go_signer() -> Signer {
    let bytes = STANDARD
        .decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")
        .unwrap();
    assert_eq!(bytes[0], 0x01);
    Signer::from_seed("PeterNeumann", &bytes[1..].try_into().unwrap()).unwrap()
}

fn signer(name: &str, byte: u8) -> Signer {
    Signer::from_seed(name, &[byte; 32]).unwrap()
}

#[test]
fn notes_match_go_sumdb_note_byte_for_byte() {
    let signer = go_signer();
    assert_eq!(signer.key_id(), 0xc74f20a3);
    assert_eq!(signer.verifier().to_string(), GO_VKEY);
    let note = signer.sign(GO_TEXT).unwrap();
    let printed = note.to_string();
    assert_eq!(printed, format!("{GO_TEXT}\n{GO_SIGNATURE_LINE}"));
    let verifier: Verifier = GO_VKEY.parse().unwrap();
    Note::parse(&printed).unwrap().verify(&verifier).unwrap();
    // The key id written out from the spec, with SHA-256 directly.
    use sha2::Digest as _;
    let mut input = b"PeterNeumann\n\x01".to_vec();
    input.extend_from_slice(&verifier.public_key());
    let digest = sha2::Sha256::digest(&input);
    assert_eq!(&digest[..4], &0xc74f20a3u32.to_be_bytes());
}

#[test]
fn a_checkpoint_round_trips_and_verifies() {
    let signer = signer("gatehouse.test/audit", 7);
    let leaves: Vec<Hash> = data(13).iter().map(|d| leaf_hash(d)).collect();
    let checkpoint = Checkpoint::new("gatehouse.test/audit", 13, root_of(&leaves))
        .unwrap()
        .with_extension("time 1796601600")
        .unwrap();
    let note = checkpoint.sign(&signer).unwrap().to_string();
    assert_eq!(
        note.lines().take(4).collect::<Vec<_>>(),
        [
            "gatehouse.test/audit",
            "13",
            &root_of(&leaves).to_base64(),
            "time 1796601600"
        ]
    );
    assert!(note.contains("\n\n\u{2014} gatehouse.test/audit "));
    let verifier = Verifier::parse(&signer.verifier().to_string()).unwrap();
    let opened = Checkpoint::open(&note, &verifier).unwrap();
    assert_eq!(opened, checkpoint);
    assert_eq!(Note::parse(&note).unwrap().to_string(), note);
    assert_eq!(
        Checkpoint::parse_body(&checkpoint.body()).unwrap(),
        checkpoint
    );
}

#[test]
fn a_changed_checkpoint_or_signature_or_key_fails() {
    let signer = signer("gatehouse.test/audit", 7);
    let verifier = signer.verifier();
    let checkpoint = Checkpoint::new("gatehouse.test/audit", 42, leaf_hash(b"root")).unwrap();
    let note = checkpoint.sign(&signer).unwrap().to_string();

    // A changed body: the size, then the root.
    let bigger = note.replacen("\n42\n", "\n43\n", 1);
    assert!(matches!(
        Checkpoint::open(&bigger, &verifier),
        Err(CheckpointError::Note(NoteError::BadSignature { .. }))
    ));
    let other_root = note.replacen(
        &leaf_hash(b"root").to_base64(),
        &leaf_hash(b"toor").to_base64(),
        1,
    );
    assert!(Checkpoint::open(&other_root, &verifier).is_err());

    // A changed signature: one byte of the signature, keeping the key id.
    let parsed = Note::parse(&note).unwrap();
    let mut sig = parsed.signatures()[0].clone();
    sig.signature[10] ^= 1;
    let mut bytes = sig.key_id.to_be_bytes().to_vec();
    bytes.extend_from_slice(&sig.signature);
    let forged = format!(
        "{}\n\u{2014} {} {}\n",
        parsed.text(),
        sig.name,
        STANDARD.encode(bytes)
    );
    let err = Checkpoint::open(&forged, &verifier).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the signature by key `gatehouse.test/audit` (key id {:08x}) does not verify: the \
             note's text or signature was changed",
            verifier.key_id()
        )
    );

    // A wrong key: same name, other key (another id), and a key that reuses the name and id.
    let impostor = self::signer("gatehouse.test/audit", 8);
    assert!(matches!(
        Checkpoint::open(&note, &impostor.verifier()),
        Err(CheckpointError::Note(NoteError::NotSignedBy { .. }))
    ));
    let forged_by_impostor = impostor.sign(&checkpoint.body()).unwrap().to_string();
    assert!(Checkpoint::open(&forged_by_impostor, &verifier).is_err());
}

#[test]
fn a_note_with_several_signatures_verifies_against_the_one_key_given() {
    let log = signer("gatehouse.test/audit", 1);
    let witness = signer("witness.test", 2);
    let next = signer("gatehouse.test/audit", 3);
    let checkpoint = Checkpoint::new("gatehouse.test/audit", 5, leaf_hash(b"r")).unwrap();
    let mut note = checkpoint.sign(&witness).unwrap();
    note.add_signature(&log);
    note.add_signature(&next);
    let printed = note.to_string();
    assert_eq!(printed.matches('\u{2014}').count(), 3);
    for key in [&log, &witness, &next] {
        assert_eq!(
            Checkpoint::open(&printed, &key.verifier()).unwrap(),
            checkpoint
        );
    }
    assert!(Checkpoint::open(&printed, &signer("gatehouse.test/audit", 4).verifier()).is_err());
    // A broken line by another key does not matter; a broken line by the given key does.
    let parsed = Note::parse(&printed).unwrap();
    let broken_witness = printed.replacen(
        &line_of(&parsed, 0)[..20],
        &format!("{}A", &line_of(&parsed, 0)[..19]),
        1,
    );
    assert_ne!(broken_witness, printed);
    Checkpoint::open(&broken_witness, &log.verifier()).unwrap();
    assert!(Checkpoint::open(&broken_witness, &witness.verifier()).is_err());
}

/// The base64 part of signature line `i`.
fn line_of(note: &Note, i: usize) -> String {
    let sig = &note.signatures()[i];
    let mut bytes = sig.key_id.to_be_bytes().to_vec();
    bytes.extend_from_slice(&sig.signature);
    STANDARD.encode(bytes)
}

#[test]
fn malformed_notes_and_keys_are_refused_with_reasons() {
    let signer = signer("gatehouse.test/audit", 9);
    let good = signer.sign("a\nb\n").unwrap().to_string();
    let cases: Vec<(String, &str)> = vec![
        ("a\nb\n".to_owned(), "no blank line separates"),
        (good.replace('\u{2014}', "-"), "does not start with"),
        (good.trim_end().to_owned(), "does not end with a newline"),
        (good.replacen("a\n", "a\r\n", 1), "control character"),
        (format!("{good}extra\n"), "signature line 2"),
        (
            good.replace("gatehouse.test/audit ", "gatehouse.test/audit  "),
            "not standard base64",
        ),
        ("\n\n\u{2014} k AAAAAAA=\n".to_owned(), "invalid note text"),
    ];
    for (message, reason) in cases {
        let err = Note::parse(&message).unwrap_err().to_string();
        assert!(err.contains(reason), "{message:?}: {err}");
    }
    let line = format!("{}\n", good.lines().last().unwrap());
    let many = format!("{good}{}", line.repeat(100));
    assert_eq!(Note::parse(&many), Err(NoteError::TooManySignatures));

    assert!(signer.sign("no newline").is_err());
    assert!(signer.sign("blank\n\nline\n").is_err());
    assert!(signer.sign("").is_err());
    assert!(Signer::from_seed("has space", &[0; 32]).is_err());
    assert!(Signer::from_seed("has+plus", &[0; 32]).is_err());
    assert!(Signer::from_seed("", &[0; 32]).is_err());

    let vkey = signer.verifier().to_string();
    let (name, rest) = vkey.split_once('+').unwrap();
    let (id, key) = rest.split_once('+').unwrap();
    assert!(matches!(
        Verifier::parse(&format!("{name}+00000000+{key}")),
        Err(KeyError::KeyIdMismatch { .. })
    ));
    assert!(matches!(
        Verifier::parse(&format!("other+{id}+{key}")),
        Err(KeyError::KeyIdMismatch { .. })
    ));
    let mut raw = STANDARD.decode(key).unwrap();
    raw[0] = 0x02;
    assert!(matches!(
        Verifier::parse(&format!("{name}+{id}+{}", STANDARD.encode(&raw))),
        Err(KeyError::Algorithm { alg: 2, .. })
    ));
    for bad in [
        "",
        "name",
        "name+1234+AQ==",
        &format!("{name}+{id}"),
        &format!("{name}+{id}+!!"),
    ] {
        assert!(Verifier::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        Verifier::parse("junk").unwrap_err().to_string(),
        "`junk` is not a verifier key: expected `<name>+<8 hex digits>+<base64 public key>`"
    );
    // The signing key never shows in `Debug`.
    let debug = format!("{signer:?}");
    assert!(debug.contains("gatehouse.test/audit") && !debug.contains("[9, 9"));
}

#[test]
fn malformed_checkpoints_are_refused() {
    let root = leaf_hash(b"r").to_base64();
    for (body, expected) in [
        ("origin\n12\n".to_owned(), CheckpointError::Shape),
        (
            format!("origin\n012\n{root}\n"),
            CheckpointError::Size("012".to_owned()),
        ),
        (
            format!("origin\n+12\n{root}\n"),
            CheckpointError::Size("+12".to_owned()),
        ),
        (
            format!("origin\n18446744073709551616\n{root}\n"),
            CheckpointError::Size("18446744073709551616".to_owned()),
        ),
        (
            "origin\n12\nAAAA\n".to_owned(),
            CheckpointError::Root("AAAA".to_owned()),
        ),
    ] {
        assert_eq!(Checkpoint::parse_body(&body), Err(expected), "{body:?}");
    }
    assert_eq!(
        Checkpoint::parse_body(&format!("origin\n0\n{root}\n"))
            .unwrap()
            .size(),
        0
    );
    assert!(Checkpoint::new("", 1, leaf_hash(b"r")).is_err());
    assert!(Checkpoint::new("two\nlines", 1, leaf_hash(b"r")).is_err());
    assert!(Checkpoint::new("o", 1, leaf_hash(b"r"))
        .unwrap()
        .with_extension("")
        .is_err());
}

#[test]
fn a_private_key_string_round_trips_and_rejects_tampering() {
    let signer = Signer::from_seed("gatehouse/audit/0123abcd", &[7; 32]).unwrap();
    let text = signer.to_private_key();
    assert!(text.starts_with("PRIVATE+KEY+gatehouse/audit/0123abcd+"));
    let back = Signer::from_private_key(&format!("{text}\n")).unwrap();
    assert_eq!(back.verifier(), signer.verifier());
    // Another key id, a cut key, another prefix: refused, and the secret is never echoed.
    let other_id = text.replacen(&format!("{:08x}", signer.key_id()), "00000000", 1);
    for bad in [
        other_id,
        text[..text.len() - 4].to_string(),
        text.replacen("PRIVATE", "PUBLIC", 1),
    ] {
        let err = Signer::from_private_key(&bad).err().unwrap();
        assert!(!err.to_string().contains(&text[30..]), "{err}");
    }
}
