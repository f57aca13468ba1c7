//! Signed notes (c2sp.org/signed-note) with Ed25519 keys: signing, printing, parsing, verifying.
//!
//! A note is a text followed by a blank line and one or more signature lines
//! `— <key name> <base64(key id || signature)>` (U+2014 EM DASH, then a space). Each signature is
//! Ed25519 over the text's bytes, final newline included. A key is known by its name and a 32-bit
//! key id, the first four bytes (big-endian) of `SHA-256(name || 0x0A || 0x01 || public key)`,
//! where `0x01` marks Ed25519. A verifier key is shared as
//! `<name>+<8 hex digits of key id>+<base64(0x01 || public key)>`, the form Go's `sumdb/note` and
//! other transparency-log tools read and print.
//!
//! Guarantees: a note this module prints parses back to the same note; a text is signed only when
//! it is a valid note text (non-empty, ends in a newline, no blank line, no control character
//! other than newline); [`Note::verify`] accepts a note only when it has a signature line by the
//! given key and every signature line by that key verifies (strict Ed25519: weak keys and
//! non-canonical signatures are refused); lines by other keys are ignored, as the spec asks. Keys
//! are made from seed bytes the caller supplies, so this crate needs no random source.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use sha2::Digest as _;

/// The signature type byte of Ed25519 in key ids and verifier keys.
const ED25519: u8 = 0x01;

/// What starts every signature line: U+2014 EM DASH and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// The most signature lines a note may carry, as Go's `sumdb/note` allows.
pub const MAX_SIGNATURES: usize = 100;

/// A key could not be made or a verifier key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A key name that the signature line could not carry.
    #[error(
        "`{0}` is not a valid key name: it must be non-empty and contain no spaces and no `+`"
    )]
    Name(String),
    /// A verifier key string that is not `<name>+<hex key id>+<base64 key>`.
    #[error("`{0}` is not a verifier key: expected `<name>+<8 hex digits>+<base64 public key>`")]
    VerifierFormat(String),
    /// A verifier key of a signature type other than Ed25519.
    #[error(
        "verifier key `{key}` is of signature type {alg:#04x}; only Ed25519 (0x01) is supported"
    )]
    Algorithm { key: String, alg: u8 },
    /// A verifier key whose public key is not a usable Ed25519 key.
    #[error("verifier key `{0}` does not hold a valid 32-byte Ed25519 public key")]
    PublicKey(String),
    /// A verifier key whose key id is not the one its name and public key give.
    #[error(
        "verifier key `{key}` states key id {stated:08x}, but its name and public key give \
         {computed:08x}: the key string was altered or mistyped"
    )]
    KeyIdMismatch {
        key: String,
        stated: u32,
        computed: u32,
    },
    /// A private key string that is not `PRIVATE+KEY+<name>+<hex key id>+<base64 seed>`. The
    /// string itself is never quoted: it is a secret.
    #[error(
        "not a private key: expected `PRIVATE+KEY+<name>+<8 hex digits>+<base64 key>` \
         (an Ed25519 key as written by gatehouse or Go's golang.org/x/mod/sumdb/note)"
    )]
    PrivateFormat,
}

/// A note could not be made, parsed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The text to sign or the text of a parsed note is not a valid note text.
    #[error("invalid note text: {0}")]
    Text(&'static str),
    /// The note has no blank line separating the text from the signatures.
    #[error("not a signed note: no blank line separates the text from the signature lines")]
    NoSignatureBlock,
    /// A signature line could not be read.
    #[error("signature line {line} of the note is malformed: {reason}")]
    SignatureLine { line: usize, reason: &'static str },
    /// More signature lines than [`MAX_SIGNATURES`].
    #[error("the note has more than {MAX_SIGNATURES} signature lines")]
    TooManySignatures,
    /// No signature line by the key asked for.
    #[error("the note is not signed by key `{name}` (key id {key_id:08x}): it comes from another log or key")]
    NotSignedBy { name: String, key_id: u32 },
    /// A signature line by the key asked for does not verify.
    #[error("the signature by key `{name}` (key id {key_id:08x}) does not verify: the note's text or signature was changed")]
    BadSignature { name: String, key_id: u32 },
}

/// An Ed25519 signing key with its name: signs note texts. Its `Debug` form hides the key.
pub struct Signer {
    name: String,
    key_id: u32,
    key: ed25519_dalek::SigningKey,
}

impl Signer {
    /// The signing key made from a 32-byte secret seed (RFC 8032's private key), named `name`.
    /// The caller supplies the seed from a random source and keeps it secret.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Signer, KeyError> {
        check_name(name)?;
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        let key_id = key_id(name, key.verifying_key().as_bytes());
        Ok(Signer {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    /// The private key string `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>`, the format
    /// of Go's `golang.org/x/mod/sumdb/note`: what a key file holds. It is the secret itself.
    pub fn to_private_key(&self) -> String {
        let mut key = [0u8; 33];
        key[0] = ED25519;
        key[1..].copy_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(key)
        )
    }

    /// Reads a private key string written by [`Signer::to_private_key`], checking its key id.
    /// Errors never quote the string (it is a secret).
    pub fn from_private_key(text: &str) -> Result<Signer, KeyError> {
        let text = text.trim_end_matches(['\n', '\r']);
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(KeyError::PrivateFormat)?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(KeyError::PrivateFormat);
        };
        if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KeyError::PrivateFormat);
        }
        let stated = u32::from_str_radix(id, 16).map_err(|_| KeyError::PrivateFormat)?;
        let bytes = STANDARD.decode(key).map_err(|_| KeyError::PrivateFormat)?;
        let seed = match bytes.split_first() {
            Some((&ED25519, seed)) => {
                <[u8; 32]>::try_from(seed).map_err(|_| KeyError::PrivateFormat)?
            }
            _ => return Err(KeyError::PrivateFormat),
        };
        let signer = Signer::from_seed(name, &seed)?;
        if signer.key_id != stated {
            return Err(KeyError::PrivateFormat);
        }
        Ok(signer)
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id that signature lines carry.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier, to print and hand out (`Display` is the verifier key string).
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs `text` into a note with this key's signature alone. `text` must be a valid note
    /// text: non-empty, ending in a newline, without blank lines or control characters other than
    /// newline.
    pub fn sign(&self, text: &str) -> Result<Note, NoteError> {
        check_text(text)?;
        let mut note = Note {
            text: text.to_owned(),
            signatures: Vec::with_capacity(1),
        };
        note.add_signature(self);
        Ok(note)
    }

    fn signature_over(&self, text: &str) -> NoteSignature {
        NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature: self.key.sign(text.as_bytes()).to_bytes().to_vec(),
        }
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

/// An Ed25519 public key with its name: verifies notes. `Display` and `FromStr` use the verifier
/// key string `<name>+<hex key id>+<base64(0x01 || public key)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key_id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl Verifier {
    /// Reads a verifier key string, checking that its key id matches its name and public key.
    pub fn parse(text: &str) -> Result<Verifier, KeyError> {
        let format = || KeyError::VerifierFormat(text.to_owned());
        // The base64 part may itself contain `+`: split at the first two only.
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format());
        };
        check_name(name).map_err(|_| format())?;
        if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format());
        }
        let stated = u32::from_str_radix(id, 16).map_err(|_| format())?;
        let bytes = STANDARD.decode(key).map_err(|_| format())?;
        let Some((&alg, public)) = bytes.split_first() else {
            return Err(format());
        };
        if alg != ED25519 {
            return Err(KeyError::Algorithm {
                key: text.to_owned(),
                alg,
            });
        }
        let public = <[u8; 32]>::try_from(public)
            .ok()
            .and_then(|public| ed25519_dalek::VerifyingKey::from_bytes(&public).ok())
            .ok_or_else(|| KeyError::PublicKey(text.to_owned()))?;
        let computed = key_id(name, public.as_bytes());
        if computed != stated {
            return Err(KeyError::KeyIdMismatch {
                key: text.to_owned(),
                stated,
                computed,
            });
        }
        Ok(Verifier {
            name: name.to_owned(),
            key_id: computed,
            key: public,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id that signature lines by this key carry.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    fn verifies(&self, text: &str, signature: &[u8]) -> bool {
        ed25519_dalek::Signature::from_slice(signature)
            .map(|signature| self.key.verify_strict(text.as_bytes(), &signature).is_ok())
            .unwrap_or(false)
    }
}

impl fmt::Display for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut key = [0u8; 33];
        key[0] = ED25519;
        key[1..].copy_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(key)
        )
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Verifier({self})")
    }
}

impl FromStr for Verifier {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Verifier, KeyError> {
        Verifier::parse(text)
    }
}

/// One signature line of a note, verified or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The signing key's name.
    pub name: String,
    /// The signing key's id.
    pub key_id: u32,
    /// The signature bytes after the key id (64 for Ed25519; other types may differ).
    pub signature: Vec<u8>,
}

/// A text with one or more signature lines. `Display` prints the note; [`Note::parse`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// The signed text, final newline included.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds a signature line by `signer` (a cosigner, or the next key during a key rotation).
    pub fn add_signature(&mut self, signer: &Signer) {
        self.signatures.push(signer.signature_over(&self.text));
    }

    /// Reads a signed note: a valid text, a blank line, then 1 to [`MAX_SIGNATURES`] well-formed
    /// signature lines. Signatures are not checked here; see [`Note::verify`].
    pub fn parse(message: &str) -> Result<Note, NoteError> {
        // The text has no blank line, so the last one separates it from the signatures.
        let split = message.rfind("\n\n").ok_or(NoteError::NoSignatureBlock)?;
        let (text, block) = (&message[..=split], &message[split + 2..]);
        check_text(text)?;
        let Some(block) = block.strip_suffix('\n') else {
            return Err(NoteError::SignatureLine {
                line: block.split('\n').count(),
                reason: "it does not end with a newline",
            });
        };
        let mut signatures = Vec::new();
        for (i, line) in block.split('\n').enumerate() {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(parse_signature_line(line).map_err(|reason| {
                NoteError::SignatureLine {
                    line: i + 1,
                    reason,
                }
            })?);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Checks that the note carries a signature line by `verifier`'s key (same name and key id)
    /// and that every such line verifies over the text. Lines by other keys are ignored.
    pub fn verify(&self, verifier: &Verifier) -> Result<(), NoteError> {
        let mut found = false;
        for line in &self.signatures {
            if line.name != verifier.name || line.key_id != verifier.key_id {
                continue;
            }
            if !verifier.verifies(&self.text, &line.signature) {
                return Err(NoteError::BadSignature {
                    name: verifier.name.clone(),
                    key_id: verifier.key_id,
                });
            }
            found = true;
        }
        if !found {
            return Err(NoteError::NotSignedBy {
                name: verifier.name.clone(),
                key_id: verifier.key_id,
            });
        }
        Ok(())
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for line in &self.signatures {
            let mut bytes = Vec::with_capacity(4 + line.signature.len());
            bytes.extend_from_slice(&line.key_id.to_be_bytes());
            bytes.extend_from_slice(&line.signature);
            writeln!(
                f,
                "{SIGNATURE_PREFIX}{} {}",
                line.name,
                STANDARD.encode(bytes)
            )?;
        }
        Ok(())
    }
}

impl FromStr for Note {
    type Err = NoteError;

    fn from_str(message: &str) -> Result<Note, NoteError> {
        Note::parse(message)
    }
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, &'static str> {
    let rest = line
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or("it does not start with `\u{2014} ` (an em dash and a space)")?;
    let (name, encoded) = rest
        .split_once(' ')
        .ok_or("expected `\u{2014} <key name> <base64 signature>`")?;
    check_name(name).map_err(|_| "the key name is empty or contains spaces or `+`")?;
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| "the signature is not standard base64")?;
    if bytes.len() < 5 {
        return Err("the signature is shorter than a key id and one byte");
    }
    let (id, signature) = bytes.split_at(4);
    let key_id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id,
        signature: signature.to_vec(),
    })
}

/// The signed-note key id of an Ed25519 key: the first four bytes, big-endian, of
/// `SHA-256(name || 0x0A || 0x01 || public key)`.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let digest = sha2::Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', ED25519])
        .chain_update(public_key)
        .finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

fn check_name(name: &str) -> Result<(), KeyError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(KeyError::Name(name.to_owned()));
    }
    Ok(())
}

/// A note text: non-empty, ends in a newline, no blank line, no control character but newline.
pub(crate) fn check_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() {
        return Err(NoteError::Text("it is empty"));
    }
    if !text.ends_with('\n') {
        return Err(NoteError::Text("it does not end with a newline"));
    }
    if text.starts_with('\n') || text.contains("\n\n") {
        return Err(NoteError::Text("it contains a blank line"));
    }
    if text.chars().any(|c| c != '\n' && c.is_control()) {
        return Err(NoteError::Text(
            "it contains a control character other than newline",
        ));
    }
    Ok(())
}
