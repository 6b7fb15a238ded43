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

use descope_local::{IssuerConfig, LocalIssuer, MAX_SESSION_TTL_SECONDS, validate_project_id};

const USAGE: &str = "\
usage: descope-local [--port N] [--host ADDR] [--keys FILE] [--ttl SECONDS] [--project-id ID]

  --port N           port to listen on (default 4040; 0 = a free port)
  --host ADDR        address to bind (default 127.0.0.1)
  --keys FILE        key file (JSON; default: the built-in dev keys)
  --ttl SECONDS      session token lifetime (overrides the key file)
  --project-id ID    project id (overrides the key file)
  -h, --help         this help

Routes: POST /v1/auth/accesskey/exchange, GET /v2/keys/{projectId}, GET /{projectId}/.well-known/jwks.json,
GET /{projectId}/.well-known/openid-configuration, GET /v1/mgmt/license,
POST /local/rotate-keys (local only: rotate the signing key).";

const DEFAULT_PORT: u16 = 4040;

#[derive(Debug)]
struct Options {
    port: u16,
    host: IpAddr,
    keys: Option<PathBuf>,
    ttl: Option<u64>,
    project_id: Option<String>,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        port: DEFAULT_PORT,
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        keys: None,
        ttl: None,
        project_id: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--port" => {
                let v = value()?;
                options.port = v
                    .parse()
                    .map_err(|_| format!("--port: '{v}' is not a port number (0-65535)"))?;
            }
            "--host" => {
                let v = value()?;
                options.host = v
                    .parse()
                    .map_err(|_| format!("--host: '{v}' is not an IP address"))?;
            }
            "--keys" => options.keys = Some(PathBuf::from(value()?)),
            "--ttl" => {
                let v = value()?;
                let ttl: u64 = v
                    .parse()
                    .map_err(|_| format!("--ttl: '{v}' is not a number of seconds"))?;
                if ttl == 0 || ttl > MAX_SESSION_TTL_SECONDS {
                    return Err(format!(
                        "--ttl must be between 1 and {MAX_SESSION_TTL_SECONDS} seconds"
                    ));
                }
                options.ttl = Some(ttl);
            }
            "--project-id" => {
                let v = value()?;
                validate_project_id(&v).map_err(|e| format!("--project-id: {e}"))?;
                options.project_id = Some(v);
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    Ok(Some(options))
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("descope-local: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
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

    fn args(list: &[&str]) -> Result<Option<Options>, String> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults() {
        let options = args(&[]).unwrap().unwrap();
        assert_eq!(options.port, DEFAULT_PORT);
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
        .unwrap()
        .unwrap();
        assert_eq!(options.port, 0);
        assert_eq!(options.host, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(options.keys, Some(PathBuf::from("k.json")));
        assert_eq!(options.ttl, Some(60));
        assert_eq!(options.project_id.as_deref(), Some("P2X"));
        assert!(args(&["--help"]).unwrap().is_none());
    }

    #[test]
    fn errors() {
        for bad in [
            &["--port"][..],
            &["--port", "x"],
            &["--port", "70000"],
            &["--host", "localhost"],
            &["--ttl", "0"],
            &["--project-id", "bad id"],
            &["--verbose"],
        ] {
            assert!(args(bad).is_err(), "{bad:?}");
        }
    }
}
