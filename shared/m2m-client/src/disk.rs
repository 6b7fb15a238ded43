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

/// Writes `bytes` to `path` through a temporary file (mode 0600) renamed over it, in a directory
/// created with mode 0700.
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
    let temporary = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("token"),
        std::process::id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let _ = std::fs::remove_file(&temporary);
    let mut file = options.open(&temporary).map_err(|e| fail(&temporary, e))?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    if let Err(error) = written.and_then(|()| std::fs::rename(&temporary, path)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(fail(path, error));
    }
    Ok(())
}
