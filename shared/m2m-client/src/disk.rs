//! Tokens kept between processes: private files in the user's cache directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Error;

/// The default directory for [`TokenSourceBuilder::cache_dir`](crate::TokenSourceBuilder::cache_dir):
/// `$XDG_CACHE_HOME/m2m`, else `$HOME/.cache/m2m`. `None` when neither variable is set.
///
/// ```
/// if let Some(dir) = m2m_client::default_cache_dir() {
///     assert!(dir.ends_with("m2m"));
/// }
/// ```
pub fn default_cache_dir() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("m2m"));
    }
    non_empty("HOME").map(|home| PathBuf::from(home).join(".cache").join("m2m"))
}

/// The file's text, when it is a regular file nobody else may read (mode 0600).
pub(crate) fn read_private(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // Not a symbolic link, and readable by nobody else (the directory is 0700 too, so no other user
        // could have put it there).
        let meta = std::fs::symlink_metadata(path).ok()?;
        if !meta.file_type().is_file() || meta.mode() & 0o077 != 0 {
            tracing::debug!(path = %path.display(), "ignoring a cache file that is not private");
            return None;
        }
    }
    std::fs::read_to_string(path).ok()
}

/// Writes `bytes` to `path` through a temporary file (mode 0600, a fresh name each time, so writers in one
/// process do not meet) renamed over it, in a directory created with mode 0700.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let fail = |path: &Path, error: std::io::Error| Error::Cache {
        path: path.display().to_string(),
        cause: error.to_string(),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| fail(dir, e))?;
    // tempfile removes it again if anything below fails.
    let mut file = tempfile::Builder::new()
        .prefix(".m2m-token")
        .tempfile_in(dir)
        .map_err(|e| fail(dir, e))?;
    file.write_all(bytes).map_err(|e| fail(file.path(), e))?;
    file.as_file()
        .sync_all()
        .map_err(|e| fail(file.path(), e))?;
    file.persist(path).map_err(|e| fail(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_in_one_process_do_not_undo_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache").join("token");
        std::thread::scope(|scope| {
            for writer in 0..8u8 {
                let path = &path;
                scope.spawn(move || {
                    for _ in 0..200 {
                        write_private(path, &[b'a' + writer; 64]).expect("every write lands");
                    }
                });
            }
        });
        let text = read_private(&path).expect("a private file");
        assert!(
            text.len() == 64 && text.bytes().all(|b| b == text.as_bytes()[0]),
            "{text}"
        );
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1, "temporary files left behind: {left:?}");
    }
}
