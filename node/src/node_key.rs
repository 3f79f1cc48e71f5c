//! The node's P2P identity: a secp256k1 key kept in the data directory (mode 0600), so the
//! node id stays the same across restarts.
//!
//! The key is created atomically: written to `node_key.tmp` (0600), fsynced, renamed into
//! place, and the directory fsynced, so a crash leaves either no key (a new one is made on
//! the next start) or a whole one. An existing key file that is empty, short or not hex is
//! an error, not silently replaced: the node id is the node's identity to its peers, and a
//! file this code did not write (a restore gone wrong, a full disk) should be looked at
//! rather than overwritten; the error says to delete it to get a new identity.

use std::{
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
};

use anyhow::{bail, Context, Result};
use k256::SecretKey;
use zeroize::Zeroizing;

/// File name of the key inside the data directory.
pub const FILE: &str = "node_key";

/// Loads the node key, creating it (0600, atomically) on first run.
pub fn load_or_create(datadir: &Path) -> Result<SecretKey> {
    let path = datadir.join(FILE);
    if path.exists() {
        let mode = std::fs::metadata(&path)?.permissions().mode();
        if mode & 0o077 != 0 {
            bail!(
                "{} is readable by others (mode {:o}): chmod 600 it",
                path.display(),
                mode & 0o777
            );
        }
        let text = Zeroizing::new(
            std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?,
        );
        let hex_text = text.trim();
        if hex_text.len() != 64 {
            bail!(
                "{} holds {} characters where a key has 64 hex digits (empty or cut short?): \
                 delete it to give the node a new identity",
                path.display(),
                hex_text.len()
            );
        }
        let bytes = Zeroizing::new(
            hex::decode(hex_text).with_context(|| format!("{} is not hex", path.display()))?,
        );
        return SecretKey::from_slice(&bytes)
            .with_context(|| format!("{} is not a valid secp256k1 key", path.display()));
    }
    let key = SecretKey::random(&mut rand::rngs::OsRng);
    let hex_key = Zeroizing::new(hex::encode(key.to_bytes()));
    let tmp = datadir.join(format!("{FILE}.tmp"));
    // A leftover from a crash mid-creation holds no key anyone used: start over.
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", tmp.display())),
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(hex_key.as_bytes())
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    drop(f);
    std::fs::rename(&tmp, &path).with_context(|| format!("creating {}", path.display()))?;
    std::fs::File::open(datadir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", datadir.display()))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_persists_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(dir.path()).unwrap();
        let b = load_or_create(dir.path()).unwrap();
        assert_eq!(a.to_bytes(), b.to_bytes());
        let mode = std::fs::metadata(dir.path().join(FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(
            dir.path().join(FILE),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert!(load_or_create(dir.path()).is_err());
    }

    #[test]
    fn crash_states_never_leave_a_usable_empty_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join(FILE);
        // A crash mid-creation leaves only the temp file: a whole key is made anyway.
        std::fs::write(dir.path().join("node_key.tmp"), "").unwrap();
        let a = load_or_create(dir.path()).unwrap();
        assert!(!dir.path().join("node_key.tmp").exists());
        assert_eq!(std::fs::read_to_string(&key).unwrap().len(), 64);
        assert_eq!(a.to_bytes(), load_or_create(dir.path()).unwrap().to_bytes());
        // An empty or short key file (what the old create-then-write could leave) is a
        // clear error naming the fix.
        for text in ["", "abcd"] {
            std::fs::write(&key, text).unwrap();
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
            let e = load_or_create(dir.path()).unwrap_err().to_string();
            assert!(e.contains("delete it"), "{e}");
        }
    }
}
