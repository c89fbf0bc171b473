//! The one place YAML is parsed: serde-saphyr, duplicate keys rejected, every error carrying file, line and column.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
pub(crate) use serde_saphyr::Spanned;

/// Where a value came from: file, line, column. Displayed as `file:line:column`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) path: Arc<Path>,
    pub(crate) line: u64,
    pub(crate) column: u64,
}

impl Origin {
    pub(crate) fn of<T>(path: &Arc<Path>, spanned: &Spanned<T>) -> Origin {
        Origin {
            path: Arc::clone(path),
            line: spanned.referenced.line(),
            column: spanned.referenced.column(),
        }
    }

    pub(crate) fn file(path: &Arc<Path>) -> Origin {
        Origin {
            path: Arc::clone(path),
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.path.display())
        } else {
            write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
        }
    }
}

/// A value with the place in an input file it came from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Located<T> {
    pub(crate) value: T,
    pub(crate) at: Origin,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum YamlError {
    #[error("{path}:{line}:{column}: {message}")]
    Located {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },
    #[error("{path}: {message}")]
    Unlocated { path: PathBuf, message: String },
}

/// Parses `text` (read from `path`) into `T`. Duplicate mapping keys are errors, never last-wins.
pub(crate) fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, YamlError> {
    serde_saphyr::from_str(text).map_err(|e| located(path, text, &e))
}

/// Parses every document of a multi-document stream (`---` separated, as `kubectl` manifests often
/// are) into `T`, in order; empty documents are skipped. Lines and columns count from the file start.
pub(crate) fn parse_multiple<T: DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<Vec<T>, YamlError> {
    serde_saphyr::from_multiple(text).map_err(|e| located(path, text, &e))
}

/// Type errors ("invalid u32") do not name the field, so the offending source line is quoted.
fn located(path: &Path, text: &str, e: &serde_saphyr::Error) -> YamlError {
    let message = e.without_snippet().to_string();
    let message = strip_location_suffix(&message);
    // The library's wording names its own functions; say what the file needs instead.
    let message = if message.starts_with("multiple YAML documents detected") {
        "a second YAML document starts here (after `---`); this file must hold one document: merge them, or split them into files given with one -i each".to_owned()
    } else {
        message
    };
    match e.location() {
        Some(loc) if loc.line() > 0 => {
            let source = usize::try_from(loc.line() - 1)
                .ok()
                .and_then(|i| text.lines().nth(i))
                .map(str::trim)
                .filter(|l| !l.is_empty() && l.len() <= 200);
            YamlError::Located {
                path: path.to_path_buf(),
                line: loc.line(),
                column: loc.column(),
                message: match source {
                    Some(line) => format!("{message} (in `{line}`)"),
                    None => message,
                },
            }
        }
        _ => YamlError::Unlocated {
            path: path.to_path_buf(),
            message,
        },
    }
}

/// serde-saphyr appends ` at line L column C` to messages (we print the location up front) and, for
/// duplicate keys, advice about its own options that means nothing to an inventory author.
fn strip_location_suffix(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message);
    let first = first.rfind(" at line ").map_or(first, |i| &first[..i]);
    first
        .strip_suffix(", set DuplicateKeyPolicy in Options if acceptable")
        .map_or_else(
            || first.to_owned(),
            |m| format!("{m}: each key may appear once (peergen never lets a later entry win)"),
        )
}

/// A YAML boolean written as one: `true` or `false`. A string such as `"yes"` or `"false"` is
/// refused instead of being read as a boolean (a quoted `"false"` meaning true would be worse).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bool(pub(crate) bool);

impl<'de> serde::Deserialize<'de> for Bool {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Bool, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Bool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true or false (unquoted)")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Bool, E> {
                Ok(Bool(v))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// `workload: {kind, name}` as both networks' inventories write it, checked by each.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkload {
    pub(crate) kind: Option<Spanned<String>>,
    pub(crate) name: Spanned<String>,
}
