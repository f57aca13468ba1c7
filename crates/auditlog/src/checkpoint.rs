//! Checkpoints (c2sp.org/tlog-checkpoint): a tree's size and root under the log's origin, as the
//! text of a signed note.
//!
//! The body is `<origin>\n<size>\n<base64 root>\n` followed by zero or more extension lines (the
//! gateway can put the signing time there). The size is decimal without leading zeros and the
//! root standard base64 of 32 bytes, so each checkpoint has exactly one spelling and printing a
//! parsed body gives the same bytes back. [`Checkpoint::open`] accepts a note only when the given
//! key's signature verifies; a caller that expects one log must also compare [`Checkpoint::origin`].

use crate::hash::Hash;
use crate::note::{check_text, Note, NoteError, Signer, Verifier};

/// A tree head: origin, size, root and extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

/// A checkpoint could not be made, read or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The origin or an extension line is not one line of note text.
    #[error("`{0}` cannot be a checkpoint line: it must be non-empty, one line, without control characters")]
    Line(String),
    /// The body has fewer than three lines or does not end in a newline.
    #[error("not a checkpoint: expected the lines origin, tree size and root hash, each ending in a newline")]
    Shape,
    /// The second line is not a tree size.
    #[error("`{0}` is not a tree size: expected a decimal number without leading zeros")]
    Size(String),
    /// The third line is not a root hash.
    #[error("`{0}` is not a root hash: expected 32 bytes in standard base64")]
    Root(String),
    /// The note around the checkpoint is malformed or does not verify.
    #[error(transparent)]
    Note(#[from] NoteError),
}

impl Checkpoint {
    /// A checkpoint of the tree of `size` leaves with root `root`, for the log named `origin`
    /// (by convention a schema-less URL, such as `gatehouse.example.org/audit`).
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Checkpoint, CheckpointError> {
        check_line(origin)?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Adds an extension line after the root (for example `time 1733558400`).
    pub fn with_extension(mut self, line: &str) -> Result<Checkpoint, CheckpointError> {
        check_line(line)?;
        self.extensions.push(line.to_owned());
        Ok(self)
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree's root hash.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The extension lines, in order.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The note text: origin, size, base64 root and extensions, one per line.
    pub fn body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for line in &self.extensions {
            body.push_str(line);
            body.push('\n');
        }
        body
    }

    /// Reads a checkpoint body (a note's text).
    pub fn parse_body(text: &str) -> Result<Checkpoint, CheckpointError> {
        check_text(text)?;
        let lines = text.strip_suffix('\n').ok_or(CheckpointError::Shape)?;
        let mut lines = lines.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::Shape);
        };
        let size = parse_size(size)?;
        let root = Hash::from_base64(root).map_err(|_| CheckpointError::Root(root.to_owned()))?;
        let mut checkpoint = Checkpoint::new(origin, size, root)?;
        for line in lines {
            checkpoint = checkpoint.with_extension(line)?;
        }
        Ok(checkpoint)
    }

    /// Signs the checkpoint into a note. Print it with `to_string()`.
    pub fn sign(&self, signer: &Signer) -> Result<Note, CheckpointError> {
        Ok(signer.sign(&self.body())?)
    }

    /// Reads a signed checkpoint note, verifies it against `verifier` (see [`Note::verify`]) and
    /// returns the checkpoint.
    pub fn open(note: &str, verifier: &Verifier) -> Result<Checkpoint, CheckpointError> {
        let note = Note::parse(note)?;
        note.verify(verifier)?;
        Checkpoint::parse_body(note.text())
    }
}

fn check_line(line: &str) -> Result<(), CheckpointError> {
    if line.is_empty() || line.chars().any(char::is_control) {
        return Err(CheckpointError::Line(line.to_owned()));
    }
    Ok(())
}

fn parse_size(text: &str) -> Result<u64, CheckpointError> {
    let error = || CheckpointError::Size(text.to_owned());
    // `u64::from_str` also takes a leading `+`; a size has one spelling only.
    if !text.bytes().all(|b| b.is_ascii_digit()) || (text.len() > 1 && text.starts_with('0')) {
        return Err(error());
    }
    text.parse().map_err(|_| error())
}
