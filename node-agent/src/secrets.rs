//! A pod's secrets, opened by the agent when it starts the pod: values for
//! `secretEnv` go into the container's environment, each `secretFiles`
//! entry becomes a directory `<pod dir>/<NAME>` (mode 0500) with one file
//! per key (mode 0400), both owned by the container's user, named by
//! `SECRET_DIR_<NAME>`. The pod's directory is removed when the pod stops.
//!
//! What the process runtime cannot do: without mount namespaces the files
//! are ordinary files on the host, readable by root and by other pods that
//! run as the same uid and know the path; put `--secret-dir` on a tmpfs
//! (the default `/dev/shm/orch-secrets`) so they never touch a disk.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use domain::model::PodTemplate;
use domain::secret::Secret;
use infra::keyring::{Keys, Plain};

/// The secrets a template names, as the state holds them (`None`: missing).
pub fn wanted(
    state: &domain::state::State,
    namespace: &str,
    spec: &PodTemplate,
) -> BTreeMap<String, Option<Secret>> {
    spec.secret_env
        .iter()
        .map(|e| e.secret.as_str())
        .chain(spec.secret_files.iter().map(|f| f.secret.as_str()))
        .map(|name| {
            (
                name.to_string(),
                state.secrets.get(namespace, name).cloned(),
            )
        })
        .collect()
}

/// What a pod gets: variables to add, and the directory written (if any).
pub struct Injected {
    pub env: BTreeMap<String, String>,
    pub dir: Option<PathBuf>,
}

/// Open the pod's secrets and write its files under `pod_dir`. An error
/// names the secret and key, never a value.
pub fn inject(
    keys: &Keys,
    namespace: &str,
    spec: &PodTemplate,
    secrets: &BTreeMap<String, Option<Secret>>,
    pod_dir: &Path,
    uid: Option<u32>,
) -> Result<Injected, String> {
    let mut opened: BTreeMap<&str, BTreeMap<String, Plain>> = BTreeMap::new();
    for (name, s) in secrets {
        let Some(s) = s else {
            return Err(format!(
                "secret '{name}' does not exist in namespace '{namespace}'"
            ));
        };
        let values = keys
            .ring_with(&s.data.key_id)
            .and_then(|r| r.open(namespace, name, s.version, &s.data))
            .map_err(|e| e.0)?;
        opened.insert(name.as_str(), values);
    }
    let mut env = BTreeMap::new();
    for e in &spec.secret_env {
        let value = opened
            .get(e.secret.as_str())
            .and_then(|v| v.get(&e.key))
            .ok_or_else(|| format!("secret '{}' has no key '{}'", e.secret, e.key))?;
        let text = std::str::from_utf8(value).map_err(|_| {
            format!(
                "secret '{}' key '{}' is not text: give it as a file (secretFiles)",
                e.secret, e.key
            )
        })?;
        env.insert(e.name.clone(), text.to_string());
    }
    if spec.secret_files.is_empty() {
        return Ok(Injected { env, dir: None });
    }
    let io = |what: &str, p: &Path, e: std::io::Error| format!("{what} {}: {e}", p.display());
    let _ = std::fs::remove_dir_all(pod_dir);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o711)
        .create(pod_dir)
        .map_err(|e| io("creating", pod_dir, e))?;
    for f in &spec.secret_files {
        let dir = pod_dir.join(&f.name);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| io("creating", &dir, e))?;
        for (key, value) in opened.get(f.secret.as_str()).into_iter().flatten() {
            let path = dir.join(key);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o400)
                .open(&path)
                .map_err(|e| io("writing", &path, e))?;
            file.write_all(value).map_err(|e| io("writing", &path, e))?;
            if let Some(uid) = uid {
                std::os::unix::fs::chown(&path, Some(uid), Some(uid))
                    .map_err(|e| io("giving", &path, e))?;
            }
        }
        if let Some(uid) = uid {
            std::os::unix::fs::chown(&dir, Some(uid), Some(uid))
                .map_err(|e| io("giving", &dir, e))?;
        }
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o500))
            .map_err(|e| io("closing", &dir, e))?;
        env.insert(format!("SECRET_DIR_{}", f.name), dir.display().to_string());
    }
    Ok(Injected {
        env,
        dir: Some(pod_dir.to_path_buf()),
    })
}

/// Remove a stopped pod's secret files.
pub fn remove(pod_dir: &Path) {
    if pod_dir.exists()
        && let Err(e) = std::fs::remove_dir_all(pod_dir)
    {
        tracing::warn!(dir = %pod_dir.display(), error = %e, "cannot remove a stopped pod's secret files");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::model::{Resources, SecretEnv, SecretFiles};
    use domain::names::{Image, Name};
    use domain::secret::secret_id;
    use infra::keyring::{KeySource, Keyring, generate_line};
    use std::os::unix::fs::PermissionsExt;
    use zeroize::Zeroizing;

    #[test]
    fn env_and_files_from_a_sealed_secret() {
        let line = generate_line("k1");
        let ring = Keyring::parse(&line).unwrap();
        let values: BTreeMap<String, Plain> = [("password", "s3cr3t"), ("user", "bob")]
            .iter()
            .map(|(k, v)| (k.to_string(), Zeroizing::new(v.as_bytes().to_vec())))
            .collect();
        let data = ring.seal("prod", "db", 1, &values).unwrap();
        let secret = Secret {
            id: secret_id("prod", "db"),
            namespace: Name::parse("n", "prod").unwrap(),
            name: Name::parse("n", "db").unwrap(),
            version: 1,
            data,
        };
        let mut spec = PodTemplate::new(
            Image::parse("image", "demo-app").unwrap(),
            Resources {
                cpu_request_milli: 10,
                cpu_limit_milli: 10,
                mem_request_mb: 10,
                mem_limit_mb: 10,
            },
        );
        spec.secret_env.push(SecretEnv {
            name: "DB_PASSWORD".into(),
            secret: Name::parse("n", "db").unwrap(),
            key: "password".into(),
        });
        spec.secret_files.push(SecretFiles {
            name: "DB".into(),
            secret: Name::parse("n", "db").unwrap(),
        });
        let secrets = BTreeMap::from([("db".to_string(), Some(secret))]);
        let keys = Keys::new(KeySource::Inline(Zeroizing::new(line)));
        let dir = std::env::temp_dir().join(format!("orch-secret-test-{}", uuid::Uuid::new_v4()));
        let got = inject(&keys, "prod", &spec, &secrets, &dir, None).unwrap();
        assert_eq!(got.env["DB_PASSWORD"], "s3cr3t");
        let files = PathBuf::from(&got.env["SECRET_DIR_DB"]);
        assert_eq!(std::fs::read_to_string(files.join("user")).unwrap(), "bob");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&files.join("password")), 0o400);
        assert_eq!(mode(&files), 0o500);
        remove(&dir);
        assert!(!dir.exists());

        // A missing secret, or a ring without its key: refused by name.
        let missing = BTreeMap::from([("db".to_string(), None)]);
        let e = inject(&keys, "prod", &spec, &missing, &dir, None)
            .err()
            .unwrap();
        assert!(e.contains("'db' does not exist"), "{e}");
        let other = Keys::new(KeySource::Inline(Zeroizing::new(generate_line("k2"))));
        let e = inject(&other, "prod", &spec, &secrets, &dir, None)
            .err()
            .unwrap();
        assert!(e.contains("'k1'") && !e.contains("s3cr3t"), "{e}");
    }
}
