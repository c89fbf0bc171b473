//! SVG from Graphviz: the DOT text laid out by the external `dot -Tsvg`, bounded by a timeout.
//! peergen places no coordinates itself.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The program run; looked up on `PATH`.
const DOT: &str = "dot";

/// How long `dot` may run by default. Measured here (docs/graph.md): a 50-node full mesh (1,225
/// links) takes about 1.3 s, a 100-node one more than two minutes.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub(crate) enum SvgError {
    #[error(
        "--format svg needs Graphviz's `dot`, which is not on PATH: install it (Debian/Ubuntu: apt-get install graphviz), or use --format dot or --format mermaid"
    )]
    Missing,
    #[error("running `dot -Tsvg`: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "`dot -Tsvg` did not finish within {0:?} and was stopped: raise --timeout, or use Graphviz's force-directed layout for a large graph (peergen graph --format dot | sfdp -Tsvg)"
    )]
    Timeout(Duration),
    #[error("`dot -Tsvg` failed ({status}): {stderr}")]
    Failed { status: String, stderr: String },
}

/// `dot -Tsvg` of `dot_text`, stopped after `timeout`.
pub(crate) fn svg(dot_text: &str, timeout: Duration) -> Result<Vec<u8>, SvgError> {
    let mut child = Command::new(DOT)
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SvgError::Missing,
            _ => SvgError::Io(e),
        })?;
    // Feeding and draining happen on their own threads so neither pipe can fill and stall `dot`.
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = dot_text.as_bytes().to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        let mut pipe = pipe.expect("piped");
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).map(|_| bytes)
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            // The reader threads are left behind: a grandchild could hold the pipes open.
            let _ = child.kill();
            let _ = child.wait();
            return Err(SvgError::Timeout(timeout));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let joined = |t: std::thread::JoinHandle<std::io::Result<Vec<u8>>>| {
        t.join()
            .unwrap_or_else(|_| Err(std::io::Error::other("reader thread panicked")))
    };
    let out = joined(stdout)?;
    let err = joined(stderr)?;
    // A `dot` that exits before reading all its input breaks the pipe: its status says why.
    let fed = feeder
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("writer thread panicked")));
    if !status.success() {
        return Err(SvgError::Failed {
            status: status.to_string(),
            stderr: String::from_utf8_lossy(&err).trim().to_owned(),
        });
    }
    fed?;
    Ok(out)
}
