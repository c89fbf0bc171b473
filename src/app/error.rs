//! The root error: every stage's error, plus usage errors and failures to write the output.

use crate::cosmos::dns::{srv::SrvError, zone::ZoneError};
use crate::cosmos::fetch::FetchError;
use crate::cosmos::graph::svg::SvgError;
use crate::cosmos::inventory::InventoryError;
use crate::cosmos::node_id::NodeKeyError;
use crate::cosmos::peers::PlanErrors;
use crate::cosmos::registry::RegistryError;
use crate::cosmos::render::RenderError;
use crate::cosmos::state::StateError;
use crate::gitops::GitopsError;
use crate::input::printable::printable;
use crate::output::lock::LockError;
use crate::output::template::TemplateError;
use crate::output::tree::TreeError;
use crate::probe::ProbeError;
use crate::stellar::StellarError;

/// What a command failed with. Opaque outside the crate: only the message and
/// [`Error::is_broken_pipe`] matter there.
#[derive(Debug)]
pub struct Error(Box<Kind>);

/// Messages quote file lines, keys and on-chain text: control and bidi characters are escaped.
impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&printable(&self.0.to_string()))
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum Kind {
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Plan(#[from] PlanErrors),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error(transparent)]
    NodeKey(#[from] NodeKeyError),
    #[error(transparent)]
    Gitops(#[from] GitopsError),
    #[error(transparent)]
    Zone(#[from] ZoneError),
    #[error(transparent)]
    Srv(#[from] SrvError),
    #[error(transparent)]
    Stellar(#[from] StellarError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Svg(#[from] SvgError),
    #[error(transparent)]
    Probe(#[from] ProbeError),
    #[error("{0}")]
    Usage(String),
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

impl Error {
    /// A closed stdout (`peergen plan | head`) is the reader's choice, not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(&*self.0, Kind::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    pub(crate) fn usage(message: impl Into<String>) -> Error {
        Error(Box::new(Kind::Usage(message.into())))
    }
}

/// `?` works on every stage's error inside a command.
macro_rules! from_stage {
    ($($t:ty),* $(,)?) => {
        $(impl From<$t> for Error {
            fn from(e: $t) -> Error {
                Error(Box::new(Kind::from(e)))
            }
        })*
    };
}

from_stage!(
    InventoryError,
    StateError,
    PlanErrors,
    RenderError,
    TemplateError,
    TreeError,
    NodeKeyError,
    GitopsError,
    ZoneError,
    SrvError,
    StellarError,
    FetchError,
    LockError,
    RegistryError,
    SvgError,
    ProbeError,
    std::io::Error,
);
