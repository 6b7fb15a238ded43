//! `descope-local [--port N] [--host 127.0.0.1] [--keys FILE] [--ttl SECONDS] [--project-id ID]`
//!
//! Serves the local Descope-compatible issuer. On start prints exactly one line to stdout,
//! `descope-local listening on http://127.0.0.1:PORT project=P2LocalDevProject`, and logs to stderr
//! (`RUST_LOG` filters, default `info`). Stops cleanly on SIGINT/SIGTERM.

use std::io::{IsTerminal as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use descope_local::{IssuerConfig, LocalIssuer, MAX_SESSION_TTL_SECONDS, validate_project_id};

#[derive(Debug, Parser)]
#[command(
    name = "descope-local",
    about = "A local, Descope-compatible issuer for machine-to-machine access keys.",
    after_help = "Routes: POST /v1/auth/accesskey/exchange, GET /v2/keys/{projectId}, \
GET /{projectId}/.well-known/jwks.json, GET /{projectId}/.well-known/openid-configuration, \
GET /v1/mgmt/license, POST /local/rotate-keys (local only: rotate the signing key)."
)]
struct Options {
    /// Port to listen on (0 = a free port)
    #[arg(long, default_value_t = 4040)]
    port: u16,
    /// Address to bind
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Key file (JSON; default: the built-in dev keys)
    #[arg(long, value_name = "FILE")]
    keys: Option<PathBuf>,
    /// Session token lifetime (overrides the key file)
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=MAX_SESSION_TTL_SECONDS))]
    ttl: Option<u64>,
    /// Project id (overrides the key file)
    #[arg(long, value_name = "ID", value_parser = project_id)]
    project_id: Option<String>,
}

fn project_id(value: &str) -> Result<String, String> {
    validate_project_id(value)
        .map_err(|_| "a project id is 1-128 characters of A-Za-z0-9_-".to_owned())?;
    Ok(value.to_owned())
}

fn main() -> ExitCode {
    // A usage error exits 2, --help 0.
    let options = Options::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let config = match &options.keys {
        Some(path) => IssuerConfig::from_file(path),
        None => Ok(IssuerConfig::dev()),
    };
    let mut config = match config {
        Ok(config) => config,
        Err(error) => {
            eprintln!("descope-local: {error}");
            return ExitCode::from(2);
        }
    };
    if let Some(project_id) = options.project_id {
        config.project_id = project_id;
    }
    if let Some(ttl) = options.ttl {
        config.session_ttl = Duration::from_secs(ttl);
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("descope-local: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(config, SocketAddr::new(options.host, options.port)))
}

async fn serve(config: IssuerConfig, addr: SocketAddr) -> ExitCode {
    let issuer = LocalIssuer::new(config);
    let running = match issuer.start(addr).await {
        Ok(running) => running,
        Err(error) => {
            eprintln!("descope-local: cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let line = format!(
        "descope-local listening on {} project={}",
        running.base_url(),
        issuer.project_id()
    );
    {
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            // Nobody reads stdout any more; keep serving anyway.
            tracing::debug!("stdout closed");
        }
    }
    tracing::info!(
        base_url = %running.base_url(),
        project_id = %issuer.project_id(),
        kid = %issuer.current_kid(),
        keys = issuer.config().access_keys.len(),
        "descope-local started"
    );
    wait_for_signal().await;
    tracing::info!("descope-local stopping");
    running.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Options, clap::Error> {
        Options::try_parse_from(std::iter::once("descope-local").chain(list.iter().copied()))
    }

    #[test]
    fn defaults() {
        let options = args(&[]).unwrap();
        assert_eq!(options.port, 4040);
        assert_eq!(options.host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(options.keys.is_none() && options.ttl.is_none() && options.project_id.is_none());
    }

    #[test]
    fn all_flags() {
        let options = args(&[
            "--port",
            "0",
            "--host=0.0.0.0",
            "--keys",
            "k.json",
            "--ttl",
            "60",
            "--project-id",
            "P2X",
        ])
        .unwrap();
        assert_eq!(options.port, 0);
        assert_eq!(options.host, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(options.keys, Some(PathBuf::from("k.json")));
        assert_eq!(options.ttl, Some(60));
        assert_eq!(options.project_id.as_deref(), Some("P2X"));
        let help = args(&["--help"]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        assert!(
            help.to_string().contains("POST /local/rotate-keys"),
            "{help}"
        );
    }

    #[test]
    fn errors() {
        for bad in [
            &["--port"][..],
            &["--port", "x"],
            &["--port", "70000"],
            &["--host", "localhost"],
            &["--ttl", "0"],
            &["--ttl", "2592001"],
            &["--project-id", "bad id"],
            &["--verbose"],
        ] {
            let error = args(bad).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{bad:?}");
        }
        let error = args(&["--project-id", "bad id"]).unwrap_err().to_string();
        assert!(error.contains("1-128 characters of A-Za-z0-9_-"), "{error}");
    }
}
