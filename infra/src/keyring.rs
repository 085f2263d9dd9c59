//! The key ring of secrets' key-encryption keys (KEKs), and the envelope
//! encryption the API (sealing) and the node agents (opening) share.
//!
//! A ring is text, one key per line: `<id>:<32 bytes, base64>`; blank lines
//! and `#` comments are skipped. The **last** line is the active key (new
//! versions are sealed with it, a rotation re-wraps every data key under
//! it); the others only open what was sealed with them. It comes from the
//! file named by `ORCH_SECRET_KEY_FILE` (mode 0600, never in the log), or
//! inline from `ORCH_SECRET_KEYS`. Rotating: append a new line on every API
//! and agent host (they re-read the ring when they meet a key they do not
//! hold, and at every rotation), run `orch secrets rotate-key`, then remove
//! the old line.
//!
//! Every value is sealed with AES-256-GCM under a fresh data key per secret
//! version; the data key is sealed with the KEK. Both carry associated data
//! naming the secret, version (and key), so a ciphertext moved elsewhere
//! does not open. No error here ever contains a key or a value.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use domain::secret::{Sealed, SecretData, key_aad, value_aad};
use zeroize::Zeroizing;

/// Opened values, wiped from memory when dropped.
pub type Plain = Zeroizing<Vec<u8>>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

type R<T> = Result<T, KeyError>;

/// The KEKs, in the order given (the last is active).
pub struct Keyring {
    keys: Vec<(String, Zeroizing<[u8; 32]>)>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("ids", &self.ids()).finish()
    }
}

/// A fresh ring line: `<id>:<random 256-bit key, base64>`.
pub fn generate_line(id: &str) -> String {
    let key = Aes256Gcm::generate_key(OsRng);
    format!("{id}:{}", B64.encode(key.as_slice()))
}

impl Keyring {
    pub fn parse(text: &str) -> R<Keyring> {
        let mut keys: Vec<(String, Zeroizing<[u8; 32]>)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((id, b64)) = line.split_once(':') else {
                return Err(KeyError(format!(
                    "key ring line {}: expected <id>:<base64 key>",
                    i + 1
                )));
            };
            let id = id.trim();
            if id.is_empty()
                || id.len() > 64
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(KeyError(format!(
                    "key ring line {}: the id must be 1 to 64 of A-Z, a-z, 0-9, '-', '_', '.'",
                    i + 1
                )));
            }
            let raw = Zeroizing::new(B64.decode(b64.trim()).map_err(|_| {
                KeyError(format!("key ring line {}: the key is not base64", i + 1))
            })?);
            let Ok(bytes) = <[u8; 32]>::try_from(raw.as_slice()) else {
                return Err(KeyError(format!(
                    "key ring line {}: a key is 32 bytes (256 bits), this one {}",
                    i + 1,
                    raw.len()
                )));
            };
            if keys.iter().any(|(k, _)| k == id) {
                return Err(KeyError(format!(
                    "key ring line {}: key '{id}' is given twice",
                    i + 1
                )));
            }
            keys.push((id.to_string(), Zeroizing::new(bytes)));
        }
        if keys.is_empty() {
            return Err(KeyError("the key ring holds no key".into()));
        }
        Ok(Keyring { keys })
    }

    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// The key new versions are sealed with.
    pub fn active_id(&self) -> &str {
        &self.keys.last().expect("a ring holds a key").0
    }

    fn kek(&self, id: &str, what: &str) -> R<Aes256Gcm> {
        let (_, k) = self.keys.iter().find(|(k, _)| k == id).ok_or_else(|| {
            KeyError(format!(
                "{what} is wrapped with key '{id}', which this key ring does not hold (it holds: {})",
                self.ids().join(", ")
            ))
        })?;
        Ok(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(k.as_slice())))
    }

    /// Version `version` of `namespace/name` holding `values`, sealed under
    /// a fresh data key wrapped with the active key.
    pub fn seal(
        &self,
        namespace: &str,
        name: &str,
        version: u64,
        values: &BTreeMap<String, Plain>,
    ) -> R<SecretData> {
        let what = format!("secret {namespace}/{name}");
        let dek = Aes256Gcm::generate_key(OsRng);
        let cipher = Aes256Gcm::new(&dek);
        let mut sealed = BTreeMap::new();
        for (key, value) in values {
            let aad = value_aad(namespace, name, version, key);
            sealed.insert(key.clone(), seal_with(&cipher, value, &aad, &what)?);
        }
        let active = self.active_id();
        let kek = self.kek(active, &what)?;
        let wrapped_key = seal_with(
            &kek,
            dek.as_slice(),
            &key_aad(namespace, name, version),
            &what,
        )?;
        // `dek` is a GenericArray: overwrite it before it goes.
        let mut dek = dek;
        zeroize::Zeroize::zeroize(dek.as_mut_slice());
        Ok(SecretData {
            key_id: active.to_string(),
            wrapped_key,
            values: sealed,
        })
    }

    /// The version's data key, unwrapped (256 bits).
    fn unwrap_key(&self, namespace: &str, name: &str, version: u64, data: &SecretData) -> R<Plain> {
        let what = format!("secret {namespace}/{name}");
        let kek = self.kek(&data.key_id, &what)?;
        let dek = open_with(
            &kek,
            &data.wrapped_key,
            &key_aad(namespace, name, version),
            &format!("{what}'s data key (with key '{}')", data.key_id),
        )?;
        if dek.len() != 32 {
            return Err(KeyError(format!("{what}: its data key is not 256 bits")));
        }
        Ok(dek)
    }

    /// Every value of the version.
    pub fn open(
        &self,
        namespace: &str,
        name: &str,
        version: u64,
        data: &SecretData,
    ) -> R<BTreeMap<String, Plain>> {
        let dek = self.unwrap_key(namespace, name, version, data)?;
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&dek));
        let mut out = BTreeMap::new();
        for (key, sealed) in &data.values {
            let aad = value_aad(namespace, name, version, key);
            let what = format!("secret {namespace}/{name} key '{key}'");
            out.insert(key.clone(), open_with(&cipher, sealed, &aad, &what)?);
        }
        Ok(out)
    }

    /// The version's data key, wrapped with the active key instead.
    pub fn rewrap(
        &self,
        namespace: &str,
        name: &str,
        version: u64,
        data: &SecretData,
    ) -> R<Sealed> {
        let what = format!("secret {namespace}/{name}");
        let dek = self.unwrap_key(namespace, name, version, data)?;
        let active = self.kek(self.active_id(), &what)?;
        seal_with(&active, &dek, &key_aad(namespace, name, version), &what)
    }
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn mac(key: &[u8], msg: &[u8]) -> HmacSha256 {
    use hmac::Mac;
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    m.update(msg);
    m
}

impl Keyring {
    /// The key a KEK lends pods' identities (never the KEK itself).
    fn identity_key(&self, id: &str) -> Option<Zeroizing<Vec<u8>>> {
        use hmac::Mac;
        let (_, k) = self.keys.iter().find(|(k, _)| k == id)?;
        let derived = mac(k.as_slice(), b"orch/pod-identity-key")
            .finalize()
            .into_bytes();
        Some(Zeroizing::new(derived.to_vec()))
    }

    /// A pod's identity for the gateway (`ORCH_POD_TOKEN`, sent as
    /// `X-Orch-Pod-Token`): `<pod id>.<key id>.<base64url HMAC>`, made by
    /// the agent that runs the pod with the ring's active key.
    pub fn pod_token(&self, pod_id: &str) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use hmac::Mac;
        let id = self.active_id();
        let key = self
            .identity_key(id)
            .expect("the active key is in the ring");
        let tag = mac(&key, pod_id.as_bytes()).finalize().into_bytes();
        format!("{pod_id}.{id}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The pod a token names, if its HMAC holds under the key it names.
    pub fn verify_pod_token(&self, token: &str) -> R<String> {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use hmac::Mac;
        let bad = |why: &str| KeyError(format!("the pod identity token {why}"));
        let mut parts = token.splitn(3, '.');
        let (Some(pod), Some(id), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("is not <pod>.<key>.<mac>"));
        };
        let key = self.identity_key(id).ok_or_else(|| {
            bad(&format!(
                "names key '{id}', which this key ring does not hold"
            ))
        })?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| bad("is malformed"))?;
        mac(&key, pod.as_bytes())
            .verify_slice(&tag)
            .map_err(|_| bad("does not verify: forged, or made for another pod"))?;
        Ok(pod.to_string())
    }
}

fn seal_with(cipher: &Aes256Gcm, plain: &[u8], aad: &str, what: &str) -> R<Sealed> {
    let nonce = Aes256Gcm::generate_nonce(OsRng);
    let ct = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plain,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| KeyError(format!("{what}: sealing failed")))?;
    Ok(Sealed {
        nonce: B64.encode(nonce.as_slice()),
        ciphertext: B64.encode(ct),
    })
}

fn open_with(cipher: &Aes256Gcm, sealed: &Sealed, aad: &str, what: &str) -> R<Plain> {
    let bad = || {
        KeyError(format!(
            "{what} does not open: a wrong key, or altered data"
        ))
    };
    let nonce = B64.decode(&sealed.nonce).map_err(|_| bad())?;
    if nonce.len() != 12 {
        return Err(bad());
    }
    let ct = B64.decode(&sealed.ciphertext).map_err(|_| bad())?;
    cipher
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &ct,
                aad: aad.as_bytes(),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| bad())
}

/// Where a ring comes from.
#[derive(Clone)]
pub enum KeySource {
    File(PathBuf),
    /// The ring's text itself (`ORCH_SECRET_KEYS`).
    Inline(Zeroizing<String>),
    /// None configured: every secret operation says how to configure one.
    None,
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::File(p) => write!(f, "File({})", p.display()),
            KeySource::Inline(_) => f.write_str("Inline(ORCH_SECRET_KEYS)"),
            KeySource::None => f.write_str("None"),
        }
    }
}

impl KeySource {
    /// `ORCH_SECRET_KEYS` (inline), else the file given, else none.
    pub fn from_env_or(file: Option<PathBuf>) -> KeySource {
        match std::env::var("ORCH_SECRET_KEYS") {
            Ok(v) if !v.trim().is_empty() => KeySource::Inline(Zeroizing::new(v)),
            _ => file.map_or(KeySource::None, KeySource::File),
        }
    }

    fn load(&self) -> R<Keyring> {
        match self {
            KeySource::File(p) => {
                let text = Zeroizing::new(std::fs::read_to_string(p).map_err(|e| {
                    KeyError(format!("the key ring {}: {e}", p.display()))
                })?);
                Keyring::parse(&text)
                    .map_err(|e| KeyError(format!("the key ring {}: {}", p.display(), e.0)))
            }
            KeySource::Inline(t) => Keyring::parse(t)
                .map_err(|e| KeyError(format!("ORCH_SECRET_KEYS: {}", e.0))),
            KeySource::None => Err(KeyError(
                "no key ring: set ORCH_SECRET_KEY_FILE (a file of <id>:<base64 32-byte key> lines) or ORCH_SECRET_KEYS".into(),
            )),
        }
    }
}

/// A ring loaded from its source, re-read on demand (a rotation, or a key
/// met that it does not hold).
pub struct Keys {
    source: KeySource,
    ring: RwLock<Option<Arc<Keyring>>>,
}

impl Keys {
    pub fn new(source: KeySource) -> Keys {
        let ring = source.load().ok().map(Arc::new);
        Keys {
            source,
            ring: RwLock::new(ring),
        }
    }

    /// The ring as last read (read now if it never was).
    pub fn ring(&self) -> R<Arc<Keyring>> {
        if let Some(r) = self.ring.read().unwrap().as_ref() {
            return Ok(r.clone());
        }
        self.reload()
    }

    /// Read the source again.
    pub fn reload(&self) -> R<Arc<Keyring>> {
        let ring = Arc::new(self.source.load()?);
        *self.ring.write().unwrap() = Some(ring.clone());
        Ok(ring)
    }

    /// The ring that holds `key_id`: as last read, else read again.
    pub fn ring_with(&self, key_id: &str) -> R<Arc<Keyring>> {
        let ring = self.ring()?;
        if ring.ids().contains(&key_id) {
            return Ok(ring);
        }
        self.reload()
    }

    pub fn configured(&self) -> bool {
        !matches!(self.source, KeySource::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, Plain> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Zeroizing::new(v.as_bytes().to_vec())))
            .collect()
    }

    fn text(m: &BTreeMap<String, Plain>) -> Vec<(String, String)> {
        m.iter()
            .map(|(k, v)| (k.clone(), String::from_utf8(v.to_vec()).unwrap()))
            .collect()
    }

    #[test]
    fn seal_open_rewrap_and_retire() {
        let ring1 = Keyring::parse(&format!("# first\n{}\n", generate_line("k1"))).unwrap();
        let v = values(&[("password", "hunter2"), ("user", "bob")]);
        let data = ring1.seal("prod", "db", 3, &v).unwrap();
        assert_eq!(data.key_id, "k1");
        let json = serde_json::to_string(&data).unwrap();
        assert!(!json.contains("hunter2") && !json.contains("bob"));
        assert_eq!(text(&ring1.open("prod", "db", 3, &data).unwrap()), text(&v));

        // Moved to another secret or version: does not open.
        assert!(ring1.open("prod", "db", 4, &data).is_err());
        assert!(ring1.open("test", "db", 3, &data).is_err());
        let mut swapped = data.clone();
        let pw = swapped.values["password"].clone();
        swapped.values.insert("user".into(), pw);
        let err = ring1.open("prod", "db", 3, &swapped).unwrap_err().0;
        assert!(
            err.contains("key 'user'") && !err.contains("hunter2"),
            "{err}"
        );

        // A second key: rewrap under it, open with it alone once k1 is gone.
        let k2 = generate_line("k2");
        let k1_line = format!("k1:{}", B64.encode(ring1.keys[0].1.as_slice()));
        let ring2 = Keyring::parse(&format!("{k1_line}\n{k2}\n")).unwrap();
        assert_eq!(ring2.active_id(), "k2");
        let wrapped = ring2.rewrap("prod", "db", 3, &data).unwrap();
        let rewrapped = SecretData {
            key_id: "k2".into(),
            wrapped_key: wrapped,
            ..data.clone()
        };
        let only_k2 = Keyring::parse(&k2).unwrap();
        assert_eq!(
            text(&only_k2.open("prod", "db", 3, &rewrapped).unwrap()),
            text(&v)
        );
        let err = only_k2.open("prod", "db", 3, &data).unwrap_err().0;
        assert!(
            err.contains("key 'k1'") && err.contains("does not hold"),
            "{err}"
        );
    }

    #[test]
    fn a_pod_token_verifies_for_its_pod_only() {
        let ring = Keyring::parse(&generate_line("k1")).unwrap();
        let t = ring.pod_token("pod-1");
        assert_eq!(ring.verify_pod_token(&t).unwrap(), "pod-1");
        let forged = t.replacen("pod-1", "pod-2", 1);
        assert!(
            ring.verify_pod_token(&forged)
                .unwrap_err()
                .0
                .contains("does not verify")
        );
        let other = Keyring::parse(&generate_line("k1")).unwrap();
        assert!(other.verify_pod_token(&t).is_err());
        assert!(ring.verify_pod_token("garbage").is_err());
    }

    #[test]
    fn bad_rings_are_refused_with_the_line() {
        for (text, says) in [
            ("", "no key"),
            ("k1", "line 1: expected"),
            ("k1:???", "not base64"),
            ("k1:aGVsbG8=", "32 bytes"),
            ("bad id:aGVsbG8=", "the id"),
        ] {
            let e = Keyring::parse(text).unwrap_err().0;
            assert!(e.contains(says), "{text:?}: {e}");
        }
        let line = generate_line("k1");
        let e = Keyring::parse(&format!("{line}\n{line}")).unwrap_err().0;
        assert!(e.contains("line 2") && e.contains("twice"), "{e}");
    }
}
