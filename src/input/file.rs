//! Reading an input file: only regular files (a device, FIFO or directory named by mistake would
//! be read until memory runs out or block forever), and never more than the limit for its kind.

use std::io::Read;
use std::path::Path;

/// Inventories, StellarNode manifests and templates.
pub(crate) const TEXT_LIMIT: u64 = 16 << 20;
/// Provider-state snapshots and previous zone files, which grow with the fleet.
pub(crate) const STATE_LIMIT: u64 = 256 << 20;
/// A CometBFT `node_key.json` is about 150 bytes.
pub(crate) const KEY_LIMIT: u64 = 64 << 10;

/// The bytes of the regular file at `path` (symbolic links followed), refused past `limit`.
pub(crate) fn read_bytes(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a directory, device or pipe); give a file",
        ));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("larger than {limit} bytes, the most peergen reads for this kind of file"),
        ));
    }
    Ok(bytes)
}

/// [`read_bytes`] as UTF-8 text.
pub(crate) fn read_text(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_bytes(path, limit)?).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_up_to_the_limit_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "12345").unwrap();
        assert_eq!(read_text(&path, 5).unwrap(), "12345");
        let e = read_text(&path, 4).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::FileTooLarge);
        assert!(e.to_string().contains("larger than 4 bytes"), "{e}");
        assert_eq!(
            read_text(dir.path(), 4).unwrap_err().kind(),
            std::io::ErrorKind::InvalidInput
        );
    }
}
