//! Exports (`gatehouse audit export`) and their verification elsewhere (`gatehouse audit verify
//! --file`): JSON lines that hold what a third party needs to check the events in them against
//! the log's signed checkpoints, with no store and no configuration.
//!
//! The format (`gatehouse-audit-export/1`, `docs/audit-log.md`, "Exports"): a header line with the
//! log's origin, its public key (for information only: the verifier is given the key it trusts),
//! the first leaf `a` and the tree's frontier at `a`; one line per event in leaf order; then every
//! checkpoint whose size is in `(a, last leaf + 1]`. An export ends at the newest checkpoint:
//! events not yet covered by one are left out (and counted on the command's standard error).
//!
//! Verifying an export rebuilds each leaf from its event's fields, the tree from the header's
//! frontier (which cannot be trusted by itself, but enters every root), and checks every
//! checkpoint's signature and root. One pass over the file; memory grows by 48 bytes an event.

use std::io::{BufRead, Write};
use std::path::Path;

use auditlog::{Checkpoint, CheckpointError, Hash, NoteError, Tree, Verifier};
use serde_json::{json, Value};

use super::error::CheckError;
use super::event::{event_from_json, event_json};
use super::report::{Finding, Kind, Report};
use crate::store::{event_leaf, LogReadStore, StoreError};

/// The format name in an export's header.
pub const EXPORT_FORMAT: &str = "gatehouse-audit-export/1";

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exported {
    pub first_leaf: u64,
    pub events: u64,
    pub checkpoints: u64,
    /// Events after the newest checkpoint, left out.
    pub left_out: u64,
}

/// Write the export of the events from the first one at or after `since_us` (or the log's start)
/// up to the newest checkpoint. `public_key` is the verifier key string put in the header.
pub fn write_export(
    store: &dyn LogReadStore,
    since_us: Option<i64>,
    public_key: &str,
    out: &mut dyn Write,
) -> Result<Exported, CheckError> {
    store.begin_read()?;
    let written = export_snapshot(store, since_us, public_key, out);
    store.end_read()?;
    written
}

fn export_snapshot(
    store: &dyn LogReadStore,
    since_us: Option<i64>,
    public_key: &str,
    out: &mut dyn Write,
) -> Result<Exported, CheckError> {
    let state = store.log_state()?;
    let checkpoints = store.checkpoints()?;
    let newest = checkpoints
        .iter()
        .rfind(|c| c.size > state.first_leaf)
        .ok_or_else(|| {
            CheckError::Unavailable(
                "no checkpoint covers the log yet: the gateway signs one within \
                 `audit.checkpoint_interval` of the first event"
                    .into(),
            )
        })?;
    let first = match since_us {
        None => state.first_leaf,
        Some(ts) => store
            .first_leaf_since(state.first_leaf, ts)?
            .filter(|l| *l < newest.size)
            .ok_or_else(|| {
                CheckError::Unavailable(
                    "no event at or after `--since` is covered by a checkpoint yet".into(),
                )
            })?,
    };
    let frontier = frontier_at(
        store,
        state.first_leaf,
        &state.frontier,
        &checkpoints,
        first,
    )?;
    let origin = Checkpoint::parse_body(
        auditlog::Note::parse(&newest.note)
            .map_err(|e| StoreError::Log(e.to_string()))?
            .text(),
    )
    .map_err(|e| StoreError::Log(e.to_string()))?
    .origin()
    .to_string();
    let header = json!({
        "type": "header",
        "format": EXPORT_FORMAT,
        "origin": origin,
        "public_key": public_key,
        "first_leaf": first,
        "frontier": frontier.iter().map(Hash::to_base64).collect::<Vec<_>>(),
    });
    writeln!(out, "{header}")?;
    let mut written = Exported {
        first_leaf: first,
        ..Exported::default()
    };
    let mut failed = None;
    store.walk_events(first, newest.size, &mut |leaf, event| {
        let line = format!(
            "{{\"type\":\"event\",\"leaf\":{leaf},\"event\":{}}}",
            event_json(event)
        );
        match writeln!(out, "{line}") {
            Ok(()) => written.events += 1,
            Err(e) => failed = Some(e),
        }
        failed.is_none()
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    for c in checkpoints
        .iter()
        .filter(|c| c.size > first && c.size <= newest.size)
    {
        writeln!(out, "{}", json!({"type": "checkpoint", "note": c.note}))?;
        written.checkpoints += 1;
    }
    out.flush()?;
    written.left_out = store.tree_size()?.saturating_sub(newest.size);
    Ok(written)
}

/// The tree's frontier at leaf `at`: from the newest checkpoint at or before it (or the log's
/// start), plus the stored leaves after that.
fn frontier_at(
    store: &dyn LogReadStore,
    first_leaf: u64,
    start_frontier: &[Hash],
    checkpoints: &[crate::store::CheckpointRow],
    at: u64,
) -> Result<Vec<Hash>, CheckError> {
    let log = |e: auditlog::TreeError| StoreError::Log(e.to_string());
    let mut tree = match checkpoints
        .iter()
        .rfind(|c| c.size <= at && c.size >= first_leaf)
    {
        Some(c) => Tree::resume(c.size, &c.frontier, &c.root).map_err(log)?,
        None => Tree::from_frontier(first_leaf, start_frontier).map_err(log)?,
    };
    let from = tree.size();
    store.walk_hashes(from, at, &mut |h| {
        let _ = tree.append(h);
    })?;
    Ok(tree.frontier().to_vec())
}

/// One event line as read: its leaf number, recomputed leaf hash, event id and line number.
struct Line {
    leaf: u64,
    hash: Hash,
    event_id: i64,
    line: usize,
}

/// What the file holds, read in one pass.
struct Read {
    origin: String,
    first_leaf: u64,
    frontier: Vec<Hash>,
    events: Vec<Line>,
    notes: Vec<(usize, String)>,
}

/// Verify an export file with the key the verifier trusts.
pub fn verify_export(path: &Path, verifier: &Verifier) -> Result<Report, CheckError> {
    let read = read_export(path)?;
    let mut report = Report {
        first_leaf: read.first_leaf,
        origin: read.origin.clone(),
        ..Report::default()
    };
    if read.origin != verifier.name() {
        report.findings.push(Finding::new(
            Kind::WrongKey,
            None,
            None,
            format!(
                "the export is of the log `{}`, but the key given is `{}`",
                read.origin,
                verifier.name()
            ),
        ));
    }
    let signed = open_notes(&read.notes, verifier, &mut report.findings);
    let mut events = read.events;
    order_findings(&events, read.first_leaf, &mut report.findings);
    events.sort_by_key(|e| e.leaf);
    events.dedup_by_key(|e| e.leaf);
    check_roots(
        read.first_leaf,
        &read.frontier,
        &events,
        &signed,
        &mut report,
    );
    report.sort();
    Ok(report)
}

fn read_export(path: &Path) -> Result<Read, CheckError> {
    let file = std::fs::File::open(path).map_err(|source| CheckError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let format = |line: usize, message: String| CheckError::Format {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut read = Read {
        origin: String::new(),
        first_leaf: 0,
        frontier: Vec::new(),
        events: Vec::new(),
        notes: Vec::new(),
    };
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|source| CheckError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let v: Value = serde_json::from_str(&line).map_err(|e| format(n, e.to_string()))?;
        match (n, v["type"].as_str()) {
            (1, Some("header")) => read_header(&v, &mut read).map_err(|m| format(1, m))?,
            (1, _) => return Err(format(1, format!("not a `{EXPORT_FORMAT}` export header"))),
            (_, Some("event")) => {
                let leaf = v["leaf"]
                    .as_u64()
                    .ok_or_else(|| format(n, "no `leaf`".into()))?;
                let event = event_from_json(&v["event"]).map_err(|m| format(n, m))?;
                read.events.push(Line {
                    leaf,
                    hash: event_leaf(&event),
                    event_id: event.id,
                    line: n,
                });
            }
            (_, Some("checkpoint")) => {
                let note = v["note"]
                    .as_str()
                    .ok_or_else(|| format(n, "no `note`".into()))?;
                read.notes.push((n, note.to_string()));
            }
            _ => return Err(format(n, "a line of unknown `type`".into())),
        }
    }
    if read.origin.is_empty() {
        return Err(format(1, "the file is empty".into()));
    }
    Ok(read)
}

fn read_header(v: &Value, read: &mut Read) -> Result<(), String> {
    if v["format"].as_str() != Some(EXPORT_FORMAT) {
        return Err(format!("the format is not `{EXPORT_FORMAT}`"));
    }
    read.origin = v["origin"].as_str().ok_or("no `origin`")?.to_string();
    read.first_leaf = v["first_leaf"].as_u64().ok_or("no `first_leaf`")?;
    read.frontier = v["frontier"]
        .as_array()
        .ok_or("no `frontier`")?
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(|s| Hash::from_base64(s).ok())
                .ok_or("a `frontier` hash is not 32 bytes of base64")
        })
        .collect::<Result<_, _>>()?;
    Ok(())
}

/// The checkpoints whose signature verifies: (size, root), by size.
fn open_notes(
    notes: &[(usize, String)],
    verifier: &Verifier,
    findings: &mut Vec<Finding>,
) -> Vec<(u64, Hash)> {
    let mut signed = Vec::new();
    for (line, note) in notes {
        match Checkpoint::open(note, verifier) {
            Ok(c) => signed.push((c.size(), *c.root())),
            Err(e) => findings.push(Finding::new(
                match e {
                    CheckpointError::Note(NoteError::NotSignedBy { .. }) => Kind::WrongKey,
                    _ => Kind::Edited,
                },
                None,
                None,
                format!("the checkpoint on line {line} does not verify: {e}"),
            )),
        }
    }
    signed.sort_unstable();
    signed
}

/// Report the first place where the event lines are not the leaves `first, first + 1, …` in order.
fn order_findings(events: &[Line], first: u64, findings: &mut Vec<Finding>) {
    let Some(at) = events
        .iter()
        .enumerate()
        .position(|(i, e)| e.leaf != first + i as u64)
    else {
        return;
    };
    let want = first + at as u64;
    let e = &events[at];
    let seen_before = events[..at].iter().any(|p| p.leaf == e.leaf);
    let comes_later = events[at + 1..].iter().any(|l| l.leaf == want);
    let (kind, why) = if seen_before {
        (Kind::Inserted, format!("a second line for leaf {}", e.leaf))
    } else if comes_later {
        (
            Kind::Reordered,
            format!(
                "leaf {} where leaf {want} belongs: lines were moved",
                e.leaf
            ),
        )
    } else {
        (Kind::Removed, format!("the line of leaf {want} is missing"))
    };
    findings.push(Finding::new(
        kind,
        Some(want),
        Some(e.event_id),
        format!("line {} (event {}): {why}", e.line, e.event_id),
    ));
}

/// Rebuild the tree from the header's frontier and compare it with every signed root.
fn check_roots(
    first: u64,
    frontier: &[Hash],
    events: &[Line],
    signed: &[(u64, Hash)],
    report: &mut Report,
) {
    let mut tree = match Tree::from_frontier(first, frontier) {
        Ok(t) => t,
        Err(e) => {
            report
                .findings
                .push(Finding::new(Kind::Edited, Some(first), None, e.to_string()));
            return;
        }
    };
    let mut next = signed.partition_point(|(s, _)| *s <= first);
    let mut range = (first, events.first().map(|e| e.event_id));
    let mut gap = false;
    for e in events {
        if e.leaf != tree.size() {
            // Already reported by `order_findings`; no root after a gap can be rebuilt.
            gap = true;
            break;
        }
        if tree.size() == range.0 {
            range.1 = Some(e.event_id);
        }
        let _ = tree.append(e.hash);
        report.events += 1;
        while let Some((size, root)) = signed.get(next).filter(|(s, _)| *s == tree.size()) {
            report.checkpoints += 1;
            if tree.root() != *root {
                report.findings.push(Finding::new(
                    Kind::Edited,
                    Some(range.0),
                    range.1,
                    format!(
                        "the events of leaves {}..{size} (from event {}) do not give the root \
                         signed at size {size}: an event line was changed",
                        range.0,
                        range.1.map_or("-".into(), |e| e.to_string())
                    ),
                ));
                // Every later root depends on this one: the first mismatch is the one to report.
                next = signed.len();
                break;
            }
            next += 1;
            range = (*size, None);
        }
    }
    report.size = tree.size();
    let newest = signed.last().map_or(0, |(s, _)| *s);
    if signed.is_empty() {
        report.findings.push(Finding::new(
            Kind::TailCut,
            None,
            None,
            "the export holds no checkpoint signed by the key: nothing in it can be checked".into(),
        ));
    } else if newest > tree.size() && !gap {
        report.findings.push(Finding::new(
            Kind::TailCut,
            Some(tree.size()),
            events.last().map(|e| e.event_id),
            format!(
                "the export ends at leaf {}, but a checkpoint in it was signed for {newest} \
                 leaves: the lines of leaves {}..{newest} were removed",
                tree.size().saturating_sub(1),
                tree.size()
            ),
        ));
    }
    report.unsigned = tree.size().saturating_sub(newest);
}
