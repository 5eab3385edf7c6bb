//! The connection to the container engine (Docker's API, local socket or `DOCKER_HOST`) and
//! the status shown to the interviewer: the engine's own version, or what is wrong and how to
//! fix it.

use std::path::PathBuf;
use std::time::Duration;

use bollard::Docker;
use serde::{Deserialize, Serialize};
use specta::Type;

/// How long a status check may take before the engine is reported as not answering.
pub const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// Request timeout (seconds) given to the Docker client for ordinary calls.
const CLIENT_TIMEOUT_SECS: u64 = 120;

/// What the interviewer is told about the container engine.
#[derive(Debug, Clone, Serialize, Deserialize, Type, PartialEq, Eq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EngineStatus {
    /// The engine answered.
    Ready {
        /// Where the engine was reached (`unix:///var/run/docker.sock`, `tcp://…`).
        endpoint: String,
        /// The engine's (server's) version, e.g. `20.10.24`.
        version: String,
        /// The API version agreed on with the engine.
        api_version: String,
        /// The engine's operating system (`linux`).
        os: String,
        /// The engine's architecture (`x86_64`, `aarch64`): rooms run the agent built for it.
        arch: String,
    },
    /// The engine could not be reached.
    Unreachable {
        /// Where the engine was looked for.
        endpoint: String,
        /// What went wrong, in plain words.
        reason: String,
        /// What the user can do about it.
        fix: String,
    },
}

/// A handle on the container engine at one endpoint.
#[derive(Debug, Clone)]
pub struct Engine {
    endpoint: String,
}

impl Engine {
    /// The engine at `endpoint` (a Docker host URL), or the one `DOCKER_HOST` names, or the
    /// local default socket.
    pub fn new(endpoint: Option<String>) -> Self {
        let endpoint = endpoint
            .filter(|e| !e.trim().is_empty())
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|e| !e.is_empty()))
            .unwrap_or_else(default_endpoint);
        Self { endpoint }
    }

    /// The endpoint this handle talks to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A client that has agreed on an API version with the engine. Negotiation matters: the
    /// client's default API is newer than what older engines accept.
    pub async fn client(&self) -> Result<Docker, bollard::errors::Error> {
        let docker = Docker::connect_with_host(&self.endpoint)?
            .with_timeout(Duration::from_secs(CLIENT_TIMEOUT_SECS));
        docker.negotiate_version().await
    }

    /// Asks the engine for its version, within [`STATUS_TIMEOUT`].
    pub async fn status(&self) -> EngineStatus {
        let probe = async {
            let docker = self.client().await?;
            let version = docker.version().await?;
            Ok::<_, bollard::errors::Error>((docker.client_version().to_string(), version))
        };
        match tokio::time::timeout(STATUS_TIMEOUT, probe).await {
            Ok(Ok((api_version, v))) => EngineStatus::Ready {
                endpoint: self.endpoint.clone(),
                version: v.version.unwrap_or_else(|| "unknown".into()),
                api_version: v.api_version.unwrap_or(api_version),
                os: v.os.unwrap_or_else(|| "unknown".into()),
                arch: normalise_arch(v.arch.as_deref().unwrap_or("unknown")),
            },
            Ok(Err(e)) => self.unreachable(&e),
            Err(_) => EngineStatus::Unreachable {
                endpoint: self.endpoint.clone(),
                reason: format!(
                    "The container engine at {} did not answer within {} seconds.",
                    self.endpoint,
                    STATUS_TIMEOUT.as_secs()
                ),
                fix: "Check that the engine is running and healthy (`docker info`), and that \
                      DOCKER_HOST or the engine endpoint setting names the right address."
                    .into(),
            },
        }
    }

    fn unreachable(&self, e: &bollard::errors::Error) -> EngineStatus {
        let (reason, fix) = explain(&self.endpoint, e);
        EngineStatus::Unreachable {
            endpoint: self.endpoint.clone(),
            reason,
            fix,
        }
    }
}

/// The local engine's usual address on this OS. On macOS, Docker Desktop's per-user socket is
/// used when the system one is absent.
fn default_endpoint() -> String {
    if cfg!(windows) {
        return "npipe:////./pipe/docker_engine".into();
    }
    let system = PathBuf::from("/var/run/docker.sock");
    if !system.exists() {
        if let Some(home) = dirs::home_dir() {
            let desktop = home.join(".docker/run/docker.sock");
            if desktop.exists() {
                return format!("unix://{}", desktop.display());
            }
        }
    }
    format!("unix://{}", system.display())
}

/// Docker reports `amd64`/`arm64`; the agent binaries are named by Rust's arch names.
pub(crate) fn normalise_arch(arch: &str) -> String {
    match arch {
        "amd64" => "x86_64".into(),
        "arm64" => "aarch64".into(),
        other => other.into(),
    }
}

fn start_hint() -> &'static str {
    if cfg!(target_os = "linux") {
        "Start the engine: `sudo systemctl start docker` (or run `sudo dockerd` where there is \
         no systemd). If Docker is not installed: `sudo apt-get install docker.io`."
    } else {
        "Start Docker Desktop and wait until it says it is running."
    }
}

/// The whole chain of an error's messages, and the first I/O error kind in it.
fn chain(e: &(dyn std::error::Error + 'static)) -> (String, Option<std::io::ErrorKind>) {
    let mut text = e.to_string();
    let mut kind = None;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            kind.get_or_insert(io.kind());
        }
        let msg = err.to_string();
        if !text.contains(&msg) {
            text.push_str(": ");
            text.push_str(&msg);
        }
        cur = err.source();
    }
    (text, kind)
}

/// Turns a client error into a reason and a fix a person can act on.
fn explain(endpoint: &str, e: &bollard::errors::Error) -> (String, String) {
    use bollard::errors::Error as E;
    use std::io::ErrorKind;
    let (text, kind) = chain(e);
    match (e, kind) {
        (E::SocketNotFoundError(path), _) => (
            format!(
                "No container engine socket exists at {path}: the Docker engine is not running \
                 or not installed."
            ),
            start_hint().into(),
        ),
        (E::UnsupportedURISchemeError { uri }, _) => (
            format!("The engine endpoint {uri} is not a supported address."),
            "Use unix:///path/to/docker.sock, tcp://HOST:PORT or npipe:////./pipe/NAME in \
             DOCKER_HOST or the engine endpoint setting."
                .into(),
        ),
        (_, Some(ErrorKind::PermissionDenied)) => (
            format!("Permission denied when connecting to the container engine at {endpoint}."),
            if cfg!(target_os = "linux") {
                "Add your user to the docker group (`sudo usermod -aG docker $USER`), then log \
                 out and back in."
                    .into()
            } else {
                "Check that your user may use Docker Desktop.".into()
            },
        ),
        (_, Some(ErrorKind::ConnectionRefused | ErrorKind::NotFound)) => (
            format!("Nothing answers at {endpoint}: the container engine is not running there."),
            format!(
                "{} If the engine runs elsewhere, set DOCKER_HOST or the engine endpoint \
                 setting to its address.",
                start_hint()
            ),
        ),
        _ => (
            format!("The container engine at {endpoint} could not be used: {text}"),
            format!(
                "{} If the engine runs elsewhere, set DOCKER_HOST or the engine endpoint \
                 setting to its address.",
                start_hint()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_names_follow_the_agent_builds() {
        assert_eq!(normalise_arch("amd64"), "x86_64");
        assert_eq!(normalise_arch("arm64"), "aarch64");
        assert_eq!(normalise_arch("s390x"), "s390x");
    }

    #[test]
    fn explicit_endpoint_wins() {
        let e = Engine::new(Some("tcp://127.0.0.1:9".into()));
        assert_eq!(e.endpoint(), "tcp://127.0.0.1:9");
    }
}
