//! Password hashing: argon2id at the crate's default parameters, and the [`Verifier`], a fixed pool
//! of threads that run argon2 for the gateway.
//!
//! Guarantees: memory spent on password checks is bounded by `threads × m_cost` however many
//! checks arrive at once, and an idle pool gives that memory back; a check for a name that does not
//! exist costs the same as a real one ([`Verifier::verify_unknown`]), so response time does not tell
//! which names exist; a check that cannot run counts as a mismatch (fail closed).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::Argon2;

use super::error::IdentityError;

/// Hash a password with argon2id at the crate's default (OWASP-recommended) parameters.
pub fn hash_password(password: &str) -> Result<String, IdentityError> {
    hash_with(&mut Vec::new(), password)
}

/// Verify a password against a stored argon2 hash. Slow by design: call off the async workers
/// (the gateway uses [`Verifier`], which also bounds memory; the CLI calls this directly).
pub fn verify_password(password: &[u8], hash: &str) -> bool {
    verify_with(&mut Vec::new(), password, hash)
}

/// A well-formed argon2id hash at the default parameters whose output is random bytes: no password
/// matches it. Verifying against it for a name that does not exist costs the same as a real check,
/// so response time does not tell which principal names exist.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$Z2F0ZWhvdXNlLWR1bW15$WL0m0BFpSfMNVa3L2NB8q2ve9NV4vIsA5C5AdXjQF8E";

enum Job {
    Verify {
        password: Vec<u8>,
        hash: Arc<str>,
        reply: tokio::sync::oneshot::Sender<bool>,
    },
    Hash {
        password: String,
        reply: tokio::sync::oneshot::Sender<Result<String, IdentityError>>,
    },
}

/// A fixed pool of threads that run argon2, each reusing one block buffer while it is busy. Memory
/// spent on password checks is bounded by `threads × m_cost` however many arrive at once
/// (argon2's own per-call allocation on a growing blocking pool leaves a 19 MiB heap behind in
/// every thread's malloc arena). A thread that has had no work for the idle period frees its
/// buffer, so a gateway whose clients are all in the credential cache goes back to its small
/// resident size instead of keeping 19 MiB per thread for good.
pub struct Verifier {
    tx: std::sync::mpsc::Sender<Job>,
    held: Arc<AtomicUsize>,
}

/// How long a pool thread keeps its block buffer without work.
pub const ARGON2_IDLE_RELEASE: Duration = Duration::from_secs(5);

impl Verifier {
    /// Start `threads` argon2 threads, each freeing its buffer after `idle` without work.
    pub fn start(threads: usize, idle: Duration) -> std::io::Result<Verifier> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(parking_lot::Mutex::new(rx));
        let held = Arc::new(AtomicUsize::new(0));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let held = held.clone();
            std::thread::Builder::new()
                .name(format!("gatehouse-argon2-{i}"))
                .spawn(move || {
                    let mut blocks: Vec<argon2::Block> = Vec::new();
                    let release = |blocks: &mut Vec<argon2::Block>| {
                        held.fetch_sub(buffer_bytes(blocks), Ordering::Relaxed);
                        *blocks = Vec::new();
                    };
                    loop {
                        // A thread holding a buffer waits for work (and for its turn at the
                        // queue, which another idle thread may hold) at most `idle`.
                        let job = if blocks.is_empty() {
                            rx.lock().recv().ok()
                        } else {
                            let Some(queue) = rx.try_lock_for(idle) else {
                                release(&mut blocks);
                                continue;
                            };
                            match queue.recv_timeout(idle) {
                                Ok(job) => Some(job),
                                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                                    drop(queue);
                                    release(&mut blocks);
                                    continue;
                                }
                                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => None,
                            }
                        };
                        let before = buffer_bytes(&blocks);
                        // The buffer is counted before the answer goes out, so that whoever
                        // got the answer sees the memory it cost.
                        let account = |blocks: &Vec<argon2::Block>| {
                            held.fetch_add(buffer_bytes(blocks), Ordering::Relaxed);
                            held.fetch_sub(before, Ordering::Relaxed);
                        };
                        match job {
                            Some(Job::Verify {
                                password,
                                hash,
                                reply,
                            }) => {
                                let ok = verify_with(&mut blocks, &password, &hash);
                                account(&blocks);
                                let _ = reply.send(ok);
                            }
                            Some(Job::Hash { password, reply }) => {
                                let hashed = hash_with(&mut blocks, &password);
                                account(&blocks);
                                let _ = reply.send(hashed);
                            }
                            None => return,
                        }
                    }
                })?;
        }
        Ok(Verifier { tx, held })
    }

    /// Bytes of argon2 block buffers the pool's threads hold right now.
    pub fn memory_held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Whether `password` matches `hash`. A failure to run counts as a mismatch (fail closed).
    pub async fn verify(&self, password: Vec<u8>, hash: Arc<str>) -> bool {
        let (reply, rx) = tokio::sync::oneshot::channel();
        if self
            .tx
            .send(Job::Verify {
                password,
                hash,
                reply,
            })
            .is_err()
        {
            return false;
        }
        rx.await.unwrap_or(false)
    }

    /// Spend the work of a verification for a principal name that does not exist.
    pub async fn verify_unknown(&self, password: Vec<u8>) {
        let _ = self.verify(password, DUMMY_HASH.into()).await;
    }

    /// Hash a new password on the pool.
    pub async fn hash(&self, password: String) -> Result<String, IdentityError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(Job::Hash { password, reply })
            .map_err(|_| IdentityError::Hash("the argon2 pool has stopped".into()))?;
        rx.await
            .map_err(|_| IdentityError::Hash("the argon2 pool has stopped".into()))?
    }
}

/// Resident bytes of a block buffer: only the blocks in use are ever touched.
fn buffer_bytes(blocks: &[argon2::Block]) -> usize {
    std::mem::size_of_val(blocks)
}

/// glibc serves an allocation from its heap, where a free does not give the memory back to the
/// system, once it is below the mmap threshold, and every large free raises that threshold up to
/// 32 MiB (loading a big list does so). A 19 MiB block buffer would then stay resident for good
/// after being freed. Reserving more than 32 MiB makes glibc map it on its own and unmap it on
/// free; the reserved pages beyond the blocks in use are never touched and cost nothing.
const MMAP_ALWAYS: usize = 33 * 1024 * 1024;

fn ensure_blocks(blocks: &mut Vec<argon2::Block>, count: usize) {
    if blocks.capacity() < count {
        let floor = MMAP_ALWAYS / std::mem::size_of::<argon2::Block>();
        *blocks = Vec::with_capacity(count.max(floor));
    }
    blocks.resize(count, argon2::Block::default());
}

fn argon2_for(parsed: &PasswordHash<'_>) -> Option<(Argon2<'static>, argon2::Params)> {
    let params = argon2::Params::try_from(parsed).ok()?;
    let algorithm = argon2::Algorithm::try_from(parsed.algorithm).ok()?;
    let version = match parsed.version {
        Some(v) => argon2::Version::try_from(v).ok()?,
        None => argon2::Version::default(),
    };
    Some((Argon2::new(algorithm, version, params.clone()), params))
}

fn verify_with(blocks: &mut Vec<argon2::Block>, password: &[u8], hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some((ctx, params)), Some(salt), Some(expected)) =
        (argon2_for(&parsed), parsed.salt, parsed.hash)
    else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    ensure_blocks(blocks, params.block_count());
    let mut out = vec![0u8; expected.len()];
    if ctx
        .hash_password_into_with_memory(password, salt, &mut out, &mut blocks[..])
        .is_err()
    {
        return false;
    }
    // `Output`'s equality is constant-time.
    argon2::password_hash::Output::new(&out).is_ok_and(|o| o == expected)
}

fn hash_with(blocks: &mut Vec<argon2::Block>, password: &str) -> Result<String, IdentityError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| IdentityError::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| IdentityError::Hash(e.to_string()))?;
    let params = argon2::Params::default();
    let ctx = Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
    );
    let mut salt_buf = [0u8; 64];
    let raw_salt = salt
        .decode_b64(&mut salt_buf)
        .map_err(|e| IdentityError::Hash(e.to_string()))?;
    ensure_blocks(blocks, params.block_count());
    let mut out = [0u8; 32];
    ctx.hash_password_into_with_memory(password.as_bytes(), raw_salt, &mut out, &mut blocks[..])
        .map_err(|e| IdentityError::Hash(e.to_string()))?;
    let output =
        argon2::password_hash::Output::new(&out).map_err(|e| IdentityError::Hash(e.to_string()))?;
    let hash = PasswordHash {
        algorithm: argon2::Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::V0x13.into()),
        params: argon2::password_hash::ParamsString::try_from(&params)
            .map_err(|e| IdentityError::Hash(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// A random password: 20 characters from an unambiguous alphabet (~115 bits).
pub fn random_password() -> Result<String, IdentityError> {
    random_password_of(GENERATED_CHARS)
}

/// How long a generated password is unless a longer minimum is configured: 20 characters of a
/// 57-character alphabet, about 116 bits.
pub const GENERATED_CHARS: usize = 20;

/// A random password of `chars` characters from an alphabet without look-alikes (`0`/`O`, `1`/`l`).
pub fn random_password_of(chars: usize) -> Result<String, IdentityError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    // 256 is not a multiple of the alphabet size; the bias is < 1 % per character and irrelevant to
    // a 115-bit secret, but rejection sampling is cheap enough to do it properly.
    let limit = 256 - (256 % ALPHABET.len());
    let mut out = String::with_capacity(chars);
    while out.len() < chars {
        let mut pool = [0u8; 32];
        getrandom::fill(&mut pool).map_err(|e| IdentityError::Random(e.to_string()))?;
        for b in pool {
            if (b as usize) < limit && out.len() < chars {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_verifies_what_the_crate_hashes_and_the_reverse() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let v = Verifier::start(2, ARGON2_IDLE_RELEASE).unwrap();
            let pooled = v.hash("pw-1".into()).await.unwrap();
            assert!(pooled.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
            assert!(verify_password(b"pw-1", &pooled));
            let plain = hash_password("pw-2").unwrap();
            assert!(v.verify(b"pw-2".to_vec(), plain.clone().into()).await);
            assert!(!v.verify(b"pw-3".to_vec(), plain.into()).await);
            assert!(!v.verify(b"x".to_vec(), "not a hash".into()).await);
            // The dummy hash is well-formed, so checking an unknown name costs a full verification.
            assert!(PasswordHash::new(DUMMY_HASH).is_ok());
            assert!(!v.verify(b"".to_vec(), DUMMY_HASH.into()).await);
        });
    }

    #[test]
    fn idle_pool_threads_free_their_argon2_buffers() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // Long enough that a loaded machine does not free the buffers before the first check.
        let v = Verifier::start(2, Duration::from_secs(1)).unwrap();
        assert_eq!(v.memory_held(), 0, "nothing is held before the first check");
        let hash = Arc::<str>::from(hash_password("pw").unwrap());
        rt.block_on(async {
            // Two at once, so both threads take one.
            let (a, b) = tokio::join!(
                v.verify(b"pw".to_vec(), hash.clone()),
                v.verify(b"nope".to_vec(), hash.clone())
            );
            assert!(a && !b);
        });
        let one = argon2::Params::default().block_count() * std::mem::size_of::<argon2::Block>();
        let held = v.memory_held();
        assert!(held >= one, "a busy thread keeps its buffer: {held}");
        // Each thread frees its buffer within its idle period plus its wait for the queue.
        let mut waited = Duration::ZERO;
        while v.memory_held() != 0 && waited < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
            waited += Duration::from_millis(50);
        }
        assert_eq!(v.memory_held(), 0, "idle threads still hold buffers");
        // And the pool still works afterwards.
        assert!(rt.block_on(v.verify(b"pw".to_vec(), hash)));
    }

    #[test]
    fn hashes_verify_and_random_passwords_differ() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(b"correct horse", &h));
        assert!(!verify_password(b"wrong", &h));
        let a = random_password().unwrap();
        let b = random_password().unwrap();
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
    }
}
