//! The node's P2P identity: a secp256k1 key kept in the data directory (mode 0600), so the
//! node id stays the same across restarts.

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

/// Loads the node key, creating it (0600) on first run.
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
        let bytes = Zeroizing::new(
            hex::decode(text.trim()).with_context(|| format!("{} is not hex", path.display()))?,
        );
        return SecretKey::from_slice(&bytes)
            .with_context(|| format!("{} is not a valid secp256k1 key", path.display()));
    }
    let key = SecretKey::random(&mut rand::rngs::OsRng);
    let hex_key = Zeroizing::new(hex::encode(key.to_bytes()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(hex_key.as_bytes())?;
    f.sync_all()?;
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
}
