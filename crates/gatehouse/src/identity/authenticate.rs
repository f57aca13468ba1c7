//! The authentication flow: from a request's `Proxy-Authorization` value to a [`Principal`] or an
//! [`AuthFailure`], on the state [`Identity`] holds.
//!
//! The checks run cheapest first, and each later one only when the earlier ones could not answer:
//! 1. the same header as the previous request on this connection (a byte compare);
//! 2. the verified cache (one keyed hash);
//! 3. the refused cache: the same wrong credential under the same principals generation is
//!    refused at once (no argon2, no store read), and does not count towards the throttle, so a
//!    client that keeps sending a stale password costs nothing and locks nobody out;
//! 4. the throttle: a name or client address cooling down is refused without a password check;
//! 5. argon2 against the snapshot; and when the snapshot does not accept the credential (an unknown
//!    name, a wrong password), one check of the store's change counter: if it moved, the snapshot is
//!    reloaded at once (the reload the poller uses, single-flight) and the credential checked again
//!    if the principal is new or has a new password hash. A principal just added or a password just
//!    changed with the CLI therefore works on the first request, not a poll interval later.
//!
//! Guarantees: argon2 runs only at step 5, at most twice per request and only when the store holds
//! a different password hash than the one that failed; an unknown name costs the work of one
//! verification like a wrong password does, so response time does not tell which names exist; a
//! store that cannot be read refuses (fail closed). What the store takes away applies when the poller
//! swaps the snapshot (within 250 ms of the change): until then a credential verified before still
//! passes, and the same wrong credential repeated is still answered from the refused cache.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::Guard;

use super::credentials::{parse_basic, CredentialCache, CredentialKey, RefusedCredentials};
use super::error::IdentityError;
use super::password::Verifier;
use super::principal::{Principal, Principals};
use super::source::PrincipalSource;
use super::throttle::{Throttle, ADDRESS_LIMITS, NAME_LIMITS};
use crate::metrics::Metrics;

/// The last `Proxy-Authorization` value of a client connection and the principal it proved.
pub type AuthMemo = Option<(Vec<u8>, Arc<Principal>)>;

/// The rule id of a sign-in refused by the throttle.
pub const AUTH_THROTTLED: &str = "auth-throttled";

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Proxy-Authorization` field.
    Missing,
    /// A malformed field (`name` is `None`), an unknown name or a wrong password.
    Wrong { name: Option<String> },
    /// Too many recent failures for this name or from this client address; no password was
    /// checked.
    Throttled { name: String, retry_after: Duration },
}

impl AuthFailure {
    /// The rule id shown in `X-Gatehouse-Rule`, the audit trail and the metrics.
    pub fn rule(&self) -> &'static str {
        match self {
            AuthFailure::Missing => "auth-required",
            AuthFailure::Wrong { .. } => "auth-failed",
            AuthFailure::Throttled { .. } => AUTH_THROTTLED,
        }
    }

    /// The user name the client tried, when its field decoded.
    pub fn tried_name(&self) -> Option<&str> {
        match self {
            AuthFailure::Missing => None,
            AuthFailure::Wrong { name } => name.as_deref(),
            AuthFailure::Throttled { name, .. } => Some(name),
        }
    }
}

/// Bounds of the caches: a verified entry is about 100 bytes, a refused one about 50.
const VERIFIED_CAPACITY: usize = 100_000;
const REFUSED_CAPACITY: usize = 100_000;

/// Everything authentication needs, shared by every connection.
pub struct Identity {
    principals: PrincipalSource,
    credentials: CredentialCache,
    refused: RefusedCredentials,
    /// Runs argon2 on a fixed pool of threads: a flood of wrong passwords takes at most those
    /// threads and their fixed memory.
    verifier: Verifier,
    throttle: Throttle,
    /// How long a store check answers for refused credentials ([`REFUSED_RECHECK`]).
    refused_recheck: Duration,
    metrics: Arc<Metrics>,
}

/// A credential refused under the current snapshot is checked against the store again when the
/// last store check is older than this (the principal may just have been added, or the password
/// just set): so a person who was refused, then given an account, gets in on the next try, while a
/// flood of wrong guesses costs the store at most one read of its change counter per this window.
pub const REFUSED_RECHECK: Duration = Duration::from_millis(20);

impl Identity {
    pub fn new(
        principals: PrincipalSource,
        verifier: Verifier,
        metrics: Arc<Metrics>,
    ) -> Result<Identity, IdentityError> {
        Ok(Identity {
            principals,
            credentials: CredentialCache::new(VERIFIED_CAPACITY)?,
            refused: RefusedCredentials::new(REFUSED_CAPACITY),
            verifier,
            throttle: Throttle::new(NAME_LIMITS, ADDRESS_LIMITS),
            refused_recheck: REFUSED_RECHECK,
            metrics,
        })
    }

    /// The current principals snapshot. Lock-free.
    pub fn principals(&self) -> Guard<Arc<Principals>> {
        self.principals.load()
    }

    /// Where the snapshot comes from; the poller refreshes it.
    pub fn source(&self) -> &PrincipalSource {
        &self.principals
    }

    /// Find who is asking. `header` is the request's `Proxy-Authorization` value, `client` the
    /// address of the client connection, `memo` that connection's last success.
    pub async fn authenticate(
        &self,
        header: Option<&[u8]>,
        client: IpAddr,
        memo: &mut AuthMemo,
    ) -> Result<Arc<Principal>, AuthFailure> {
        let Some(value) = header else {
            self.metrics.auth_failures.inc();
            return Err(AuthFailure::Missing);
        };
        let principals = self.principals.load();
        if let Some((remembered, p)) = memo.as_ref() {
            if remembered.as_slice() == value {
                if let Some(current) = principals.get(&p.name) {
                    if current.password_hash == p.password_hash {
                        return Ok(current.clone());
                    }
                }
            }
        }
        let key = self.credentials.key_of(value);
        let found = match self.credentials.lookup(&key, &principals) {
            Some(p) => Ok(p),
            None => self.check_new(key, value, client).await,
        };
        if let Ok(p) = &found {
            *memo = Some((value.to_vec(), p.clone()));
        }
        found
    }

    /// Steps 3–5 for a credential the verified cache does not hold.
    async fn check_new(
        &self,
        key: CredentialKey,
        value: &[u8],
        client: IpAddr,
    ) -> Result<Arc<Principal>, AuthFailure> {
        let Some(creds) = parse_basic(value) else {
            return Err(self.wrong(None));
        };
        let name = creds.user;
        let mut snapshot = self.principals.load_full();
        if self.refused.refused_at(&key, snapshot.generation) {
            // Refused under this snapshot; the store may have moved since.
            if let Err(e) = self
                .principals
                .refresh_unless_within(self.refused_recheck)
                .await
            {
                tracing::warn!(error = %e, "cannot check the store for a refused credential");
            }
            snapshot = self.principals.load_full();
            if self.refused.refused_at(&key, snapshot.generation) {
                return Err(self.wrong(Some(name)));
            }
        }
        let now = Instant::now();
        if let Some(retry_after) = self.throttle.check(&name, client, now) {
            self.metrics.auth_throttled.inc();
            return Err(AuthFailure::Throttled { name, retry_after });
        }
        if !creds.exact {
            // Not UTF-8: it names no principal. Recorded (bytes replaced) and counted like a
            // wrong password.
            self.throttle.failed(&name, client, now);
            return Err(self.wrong(Some(name)));
        }
        // The hash that already failed, if the snapshot knew the name.
        let mut failed_hash = None;
        if let Some(p) = snapshot.get(&name) {
            if self.verify(creds.password.clone(), p).await {
                return Ok(self.accepted(key, &name, p));
            }
            failed_hash = Some(p.password_hash.clone());
        }
        // The snapshot does not accept it; the store may (a principal just added, a password just
        // changed with the CLI).
        if let Err(e) = self.principals.refresh().await {
            tracing::warn!(error = %e, "cannot check the store for a credential the gateway does not know");
        }
        let fresh = self.principals.load_full();
        match (fresh.get(&name), failed_hash) {
            // The same hash already failed: nothing new to check.
            (Some(p), Some(failed)) if p.password_hash == failed => {}
            (Some(p), _) => {
                if self.verify(creds.password, p).await {
                    return Ok(self.accepted(key, &name, p));
                }
            }
            // Unknown before and after: spend a verification's work, as a wrong password does.
            (None, None) => self.verifier.verify_unknown(creds.password).await,
            (None, Some(_)) => {}
        }
        self.refused.insert(key, fresh.generation);
        self.throttle.failed(&name, client, now);
        Err(self.wrong(Some(name)))
    }

    /// Check a name and password typed into a form (the portal's login) with the same argon2
    /// pool and the same throttle as proxy credentials: a name or address cooling down is refused
    /// without a password check, a failure counts towards the cool-down, a success resets the
    /// name's count, and an unknown name costs a verification like a wrong password. The store's
    /// change counter is read first, so a principal just added, disabled or given a new password
    /// is judged as the store holds it now. No cache: a login is rare, and each one is checked.
    /// Whether the principal may log in (disabled) is the caller's to judge.
    pub async fn check_password(
        &self,
        name: &str,
        password: Vec<u8>,
        client: IpAddr,
    ) -> Result<Arc<Principal>, AuthFailure> {
        let now = Instant::now();
        if let Some(retry_after) = self.throttle.check(name, client, now) {
            self.metrics.auth_throttled.inc();
            return Err(AuthFailure::Throttled {
                name: name.to_string(),
                retry_after,
            });
        }
        if let Err(e) = self.principals.refresh().await {
            tracing::warn!(error = %e, "cannot check the store before a login");
        }
        let snapshot = self.principals.load_full();
        match snapshot.get(name) {
            Some(p) => {
                if self.verify(password, p).await {
                    self.throttle.succeeded(name);
                    return Ok(p.clone());
                }
            }
            None => self.verifier.verify_unknown(password).await,
        }
        self.throttle.failed(name, client, now);
        Err(self.wrong(Some(name.to_string())))
    }

    async fn verify(&self, password: Vec<u8>, principal: &Principal) -> bool {
        self.metrics.auth_verifications.inc();
        self.verifier
            .verify(password, principal.password_hash.clone())
            .await
    }

    fn accepted(
        &self,
        key: CredentialKey,
        name: &str,
        principal: &Arc<Principal>,
    ) -> Arc<Principal> {
        self.credentials.insert(key, principal);
        self.throttle.succeeded(name);
        principal.clone()
    }

    fn wrong(&self, name: Option<String>) -> AuthFailure {
        self.metrics.auth_failures.inc();
        AuthFailure::Wrong { name }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use base64::Engine;

    use super::*;
    use crate::identity::{hash_password, ARGON2_IDLE_RELEASE};
    use crate::store::{PrincipalStore, Role, Store};

    struct Setup {
        identity: Identity,
        metrics: Arc<Metrics>,
        dir: tempfile::TempDir,
        rt: tokio::runtime::Runtime,
    }

    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Arc::new(Metrics::new());
        let store = Arc::new(Mutex::new(
            Box::new(Store::open(dir.path()).unwrap()) as Box<dyn crate::store::PrincipalStore>
        ));
        let source = PrincipalSource::open(store, metrics.clone()).unwrap();
        let verifier = Verifier::start(2, ARGON2_IDLE_RELEASE).unwrap();
        Setup {
            identity: Identity::new(source, verifier, metrics.clone()).unwrap(),
            metrics,
            dir,
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    impl Setup {
        /// A write made by another process (the CLI), which the gateway has not seen yet.
        fn store(&self) -> Store {
            Store::open(self.dir.path()).unwrap()
        }

        fn try_as(&self, user: &str, password: &str) -> Result<Arc<Principal>, AuthFailure> {
            let header = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            );
            let client = IpAddr::from([192, 0, 2, 1]);
            self.rt.block_on(
                self.identity
                    .authenticate(Some(header.as_bytes()), client, &mut None),
            )
        }

        fn verifications(&self) -> u64 {
            self.metrics.auth_verifications.get()
        }

        fn store_checks(&self) -> u64 {
            self.identity.source().checks()
        }
    }

    fn wrong(name: &str) -> Result<Arc<Principal>, AuthFailure> {
        Err(AuthFailure::Wrong {
            name: Some(name.into()),
        })
    }

    #[test]
    fn a_principal_added_to_the_store_is_accepted_on_its_first_request() {
        let s = setup();
        s.store()
            .add_principal(
                "ada",
                Role::User,
                policy::Tier::Open,
                &hash_password("pw-1").unwrap(),
            )
            .unwrap();
        assert!(
            s.identity.principals().get("ada").is_none(),
            "not polled yet"
        );
        let ada = s.try_as("ada", "pw-1").unwrap();
        assert_eq!(&*ada.name, "ada");
        // One store check, one argon2 run (the unknown name was not verified against a dummy).
        assert_eq!((s.store_checks(), s.verifications()), (1, 1));
    }

    #[test]
    fn a_credential_refused_before_its_principal_existed_is_accepted_once_it_does() {
        let mut s = setup();
        s.identity.refused_recheck = Duration::ZERO;
        assert_eq!(s.try_as("carol", "carol-pw-1"), wrong("carol"));
        assert_eq!(s.try_as("carol", "carol-pw-1"), wrong("carol"));
        let checks = s.store_checks();
        s.store()
            .add_principal(
                "carol",
                Role::User,
                policy::Tier::Open,
                &hash_password("carol-pw-1").unwrap(),
            )
            .unwrap();
        // Not polled: the refused cache still holds the credential, the store says otherwise.
        let carol = s.try_as("carol", "carol-pw-1").unwrap();
        assert_eq!(&*carol.name, "carol");
        assert_eq!(s.store_checks(), checks + 1);
    }

    #[test]
    fn a_changed_password_works_at_once_and_the_old_one_is_refused() {
        let s = setup();
        let store = s.store();
        store
            .add_principal(
                "ada",
                Role::User,
                policy::Tier::Open,
                &hash_password("old").unwrap(),
            )
            .unwrap();
        assert!(s.try_as("ada", "old").is_ok());
        store
            .set_password_hash("ada", &hash_password("new").unwrap())
            .unwrap();
        assert!(s.try_as("ada", "new").is_ok());
        assert_eq!(s.try_as("ada", "old"), wrong("ada"));
    }

    #[test]
    fn a_repeated_wrong_credential_costs_no_store_check_and_no_argon2() {
        let mut s = setup();
        // Within the recheck window (here: the whole test), a refused credential is answered from
        // the refused cache alone.
        s.identity.refused_recheck = Duration::from_secs(3600);
        let store = s.store();
        store
            .add_principal(
                "ada",
                Role::User,
                policy::Tier::Open,
                &hash_password("pw").unwrap(),
            )
            .unwrap();
        assert!(s.try_as("ada", "pw").is_ok());
        let (checks, verifications) = (s.store_checks(), s.verifications());
        assert_eq!(s.try_as("ada", "wrong"), wrong("ada"));
        assert_eq!(s.store_checks(), checks + 1);
        assert_eq!(s.verifications(), verifications + 1);
        for _ in 0..3 {
            assert_eq!(s.try_as("ada", "wrong"), wrong("ada"));
        }
        assert_eq!(s.store_checks(), checks + 1, "no store check for a repeat");
        assert_eq!(
            s.verifications(),
            verifications + 1,
            "no argon2 for a repeat"
        );
        assert_eq!(s.try_as("nobody", "x"), wrong("nobody"));
        assert_eq!(s.try_as("nobody", "x"), wrong("nobody"));
        assert_eq!(s.store_checks(), checks + 2);
        // Once the gateway has seen the store change (the poller's refresh), the same credential
        // is checked again: it may have become right. Until then a repeat is still refused.
        store
            .set_password_hash("ada", &hash_password("wrong").unwrap())
            .unwrap();
        assert_eq!(s.try_as("ada", "wrong"), wrong("ada"));
        assert!(s.rt.block_on(s.identity.source().refresh()).unwrap());
        assert!(s.try_as("ada", "wrong").is_ok());
    }

    #[test]
    fn repeats_of_one_wrong_password_do_not_throttle_the_name() {
        let s = setup();
        s.store()
            .add_principal(
                "ada",
                Role::User,
                policy::Tier::Open,
                &hash_password("pw").unwrap(),
            )
            .unwrap();
        // A client that keeps sending a stale password, many more times than the limit.
        for _ in 0..NAME_LIMITS.failures * 3 {
            assert_eq!(s.try_as("ada", "stale"), wrong("ada"));
        }
        assert!(s.try_as("ada", "pw").is_ok());
        assert_eq!(s.metrics.auth_throttled.get(), 0);
    }
}
