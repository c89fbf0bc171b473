//! The previous output a render is compared with and carries state over from (zone serials): a
//! directory on disk here, or a commit's tree (`gitops`). Files are named by their git blob id,
//! so a comparison reads no file whose id already matches.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::blob::BlobId;
use super::tree::{MANIFEST, TreeError, io, owned_files, parse_manifest};

pub(crate) trait Previous {
    /// The bytes the previous output holds at `rel`, `None` when it holds nothing there.
    fn get(&self, rel: &str) -> Result<Option<Vec<u8>>, TreeError>;
    /// Where `rel` is, for messages.
    fn locate(&self, rel: &str) -> PathBuf;
    /// The git blob id of what is at `rel`: hashed from [`Previous::get`] unless known already.
    fn id(&self, rel: &str) -> Result<Option<BlobId>, TreeError> {
        Ok(self.get(rel)?.map(|bytes| BlobId::of(&bytes)))
    }
    /// Every file's blob id by path, when they are known without reading the files (a commit's
    /// tree): a render then keeps no bytes of a file that is unchanged.
    fn ids(&self) -> Option<BTreeMap<String, BlobId>> {
        None
    }
    /// The files peergen owns there (its manifest); empty when there is no previous output.
    fn owned(&self) -> Result<BTreeSet<String>, TreeError>;
    /// The manifest's bytes, checked like any other file.
    fn manifest(&self) -> Result<Option<Vec<u8>>, TreeError> {
        self.get(MANIFEST)
    }
}

/// The previous output as a directory on disk. No symbolic link inside it is ever followed.
pub(crate) struct PreviousDir<'a>(&'a Path);

impl<'a> PreviousDir<'a> {
    pub(crate) fn new(dir: &'a Path) -> PreviousDir<'a> {
        PreviousDir(dir)
    }
}

impl Previous for PreviousDir<'_> {
    fn get(&self, rel: &str) -> Result<Option<Vec<u8>>, TreeError> {
        read_optional(self.0, rel)
    }

    fn locate(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }

    fn owned(&self) -> Result<BTreeSet<String>, TreeError> {
        self.manifest()?;
        owned_files(self.0)
    }
}

/// The manifest of a previous output, parsed: `None` when it has none.
pub(crate) fn manifest_of(previous: &dyn Previous) -> Result<Option<BTreeSet<String>>, TreeError> {
    let path = previous.locate(MANIFEST);
    previous
        .manifest()?
        .map(|bytes| parse_manifest(&String::from_utf8_lossy(&bytes), &path))
        .transpose()
}

/// The bytes of `dir/rel`, `None` when it is absent. Every component below `dir` is checked with
/// `symlink_metadata` first, so no symbolic link is ever followed; one is an error naming it.
pub(crate) fn read_optional(dir: &Path, rel: &str) -> Result<Option<Vec<u8>>, TreeError> {
    let mut path = dir.to_path_buf();
    for part in rel.split('/') {
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(io(&path)(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "a symbolic link in peergen's output; peergen never follows one (replace it with a regular file or directory)",
                )));
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(io(&path)(e)),
        }
    }
    std::fs::read(&path).map(Some).map_err(io(&path))
}

/// No previous output at all, for the reports' tests.
#[cfg(test)]
pub(crate) struct NoPrevious;

#[cfg(test)]
impl Previous for NoPrevious {
    fn get(&self, _: &str) -> Result<Option<Vec<u8>>, TreeError> {
        Ok(None)
    }

    fn locate(&self, rel: &str) -> PathBuf {
        PathBuf::from(rel)
    }

    fn owned(&self) -> Result<BTreeSet<String>, TreeError> {
        Ok(BTreeSet::new())
    }
}
