//! `m2m`: tokens from an M2M stack's token function, and calls to the APIs it protects.
//!
//! ```text
//! m2m token [--scopes a,b] [--tenant T] [--iam] [--json] [--cache]
//! m2m call METHOD URL [--data JSON] [--scopes a,b] [--tenant T] [--iam] [--cache]
//! ```
//!
//! The stack from `--base-url` or `M2M_BASE_URL`; the access key from `DESCOPE_ACCESS_KEY` or
//! `--access-key-file FILE` (`-`: standard input), never from the command line. Exit codes: see
//! `EXIT_CODES` below and `m2m --help`.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use m2m_client::{AccessKey, AuthorizedClient, CallError, Error, TokenSource};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  m2m call: the API answered 4xx or 5xx (the status on stderr, the body on stdout)
  2  usage or configuration: bad arguments, no access key, no base URL, no AWS credentials or region
  3  the token function refused the exchange (refused key, scope not granted, bad request, 429)
  4  the stack could not be reached or failed (connection refused, timeout, 5xx, unexpected answer)

The access key comes from DESCOPE_ACCESS_KEY or --access-key-file FILE (- for stdin), never from the
command line, where shell history and ps would keep it.";

const OK: u8 = 0;
const API_ERROR: u8 = 1;
const USAGE: u8 = 2;
const REFUSED: u8 = 3;
const UNAVAILABLE: u8 = 4;

#[derive(Parser, Debug)]
#[command(
    name = "m2m",
    version,
    about = "Tokens from an M2M stack's token function, and calls to the APIs it protects",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print a JWT from the token function (or, with --json, its whole answer) to stdout.
    #[command(after_help = EXIT_CODES)]
    Token {
        #[command(flatten)]
        source: SourceArgs,
        /// Print the token function's whole answer (JSON) instead of the JWT alone.
        #[arg(long)]
        json: bool,
    },
    /// Call URL with a token and print the answer's body; exit 1 on a 4xx or 5xx answer.
    #[command(after_help = EXIT_CODES)]
    Call {
        /// The HTTP method (GET, POST, ...).
        method: String,
        /// The URL to call; a path (/api/user) is taken relative to the base URL.
        url: String,
        /// A JSON body to send (content-type: application/json).
        #[arg(long, value_name = "JSON")]
        data: Option<String>,
        #[command(flatten)]
        source: SourceArgs,
    },
}

#[derive(Args, Debug)]
struct SourceArgs {
    /// The stack's base URL (default: $M2M_BASE_URL), e.g. `https://xxxx.execute-api.eu-west-1.amazonaws.com`
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Read the access key from FILE (- for stdin) instead of $DESCOPE_ACCESS_KEY.
    #[arg(long, value_name = "FILE")]
    access_key_file: Option<String>,
    /// Scopes to ask for, comma-separated (they only narrow the key's grants).
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    scopes: Vec<String>,
    /// The tenant to select.
    #[arg(long, value_name = "T")]
    tenant: Option<String>,
    /// Use POST /m2m/token/iam signed with SigV4 (AWS credentials and region from the standard chain):
    /// the stack exchanges its own key, no access key is needed.
    #[arg(long)]
    iam: bool,
    /// Keep tokens between runs in the user's cache directory ($XDG_CACHE_HOME/m2m or ~/.cache/m2m; files
    /// mode 0600, named by a hash, never holding the key).
    #[arg(long)]
    cache: bool,
    /// Seconds each request may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    timeout: u64,
    /// Log to stderr: -v what m2m does, -vv also the HTTP client (never keys, secrets or tokens).
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(code) = refuse_key_arguments(&args) {
        return ExitCode::from(code);
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => {
            let text = error.render().to_string();
            let text = match std::env::var("DESCOPE_ACCESS_KEY") {
                Ok(key) => m2m_redact::redact(&text, key.trim()),
                Err(_) => text,
            };
            if error.use_stderr() {
                eprint!("{text}");
            } else {
                print!("{text}");
            }
            return ExitCode::from(if error.use_stderr() { USAGE } else { OK });
        }
    };
    let source = match &cli.command {
        Command::Token { source, .. } | Command::Call { source, .. } => source,
    };
    init_logging(source.verbose);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    ExitCode::from(runtime.block_on(run(cli)))
}

/// `--access-key VALUE` and friends: refused before anything else, without repeating the value.
fn refuse_key_arguments(args: &[String]) -> Option<u8> {
    let offending = args.iter().skip(1).any(|arg| {
        let name = arg.split('=').next().unwrap_or_default();
        matches!(
            name,
            "--access-key" | "--key" | "--accessKey" | "--access_key"
        )
    });
    offending.then(|| {
        eprintln!(
            "m2m: the access key is never taken on the command line (shell history and ps would keep it): set DESCOPE_ACCESS_KEY or use --access-key-file FILE (- for stdin)"
        );
        USAGE
    })
}

async fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Token { source, json } => {
            let tokens = match token_source(&source) {
                Ok(tokens) => tokens,
                Err(code) => return code,
            };
            match tokens.token().await {
                Ok(token) => {
                    let text = if json {
                        token.answer().to_string()
                    } else {
                        token.jwt().to_owned()
                    };
                    print_line(&text)
                }
                Err(error) => fail(&error),
            }
        }
        Command::Call {
            method,
            url,
            data,
            source,
        } => {
            let tokens = match token_source(&source) {
                Ok(tokens) => tokens,
                Err(code) => return code,
            };
            call(tokens, &source, &method, &url, data.as_deref()).await
        }
    }
}

async fn call(
    tokens: TokenSource,
    source: &SourceArgs,
    method: &str,
    url: &str,
    data: Option<&str>,
) -> u8 {
    let method = match reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()) {
        Ok(method) => method,
        Err(_) => return usage(&format!("'{method}' is not an HTTP method")),
    };
    let url = if url.starts_with('/') {
        format!("{}{url}", tokens.base_url())
    } else {
        url.to_owned()
    };
    let parsed = match reqwest::Url::parse(&url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => parsed,
        _ => return usage(&format!("'{url}' is not an http or https URL")),
    };
    let client = AuthorizedClient::with_http(
        http_client(Duration::from_secs(source.timeout.max(1))),
        tokens,
    );
    let mut request = client.request(method.clone(), parsed);
    if let Some(data) = data {
        if serde_json::from_str::<serde_json::Value>(data).is_err() {
            return usage("--data is not JSON");
        }
        request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(data.to_owned());
    }
    let response = match client.send(request).await {
        Ok(response) => response,
        Err(CallError::Token(error)) | Err(CallError::Transport(error)) => return fail(&error),
        Err(error) => return usage(&error.to_string()),
    };
    let status = response.status();
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(error) => {
            eprintln!(
                "m2m: reading the answer of {url} failed: {}",
                error.without_url()
            );
            return UNAVAILABLE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(&body);
    if !body.ends_with(b"\n") && !body.is_empty() {
        let _ = stdout.write_all(b"\n");
    }
    let _ = stdout.flush();
    if status.is_client_error() || status.is_server_error() {
        eprintln!("m2m: {method} {url} answered {status}");
        return API_ERROR;
    }
    OK
}

fn token_source(args: &SourceArgs) -> Result<TokenSource, u8> {
    let base_url = match args.base_url.clone().or_else(|| {
        std::env::var("M2M_BASE_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
    }) {
        Some(url) => url.trim().to_owned(),
        None => {
            return Err(usage(
                "no stack URL: pass --base-url URL or set M2M_BASE_URL (e.g. http://127.0.0.1:9000 for bash scripts/local-stack.sh)",
            ));
        }
    };
    let builder = if args.iam {
        if args.access_key_file.is_some() {
            return Err(usage(
                "--iam exchanges the stack's own key: --access-key-file is not used with it",
            ));
        }
        TokenSource::iam(base_url)
    } else {
        let key = match &args.access_key_file {
            Some(file) => read_key_file(file)?,
            None => match AccessKey::from_env() {
                Ok(Some(key)) => key,
                Ok(None) => {
                    return Err(usage(
                        "no access key: set DESCOPE_ACCESS_KEY or pass --access-key-file FILE (- for stdin), or use --iam on AWS",
                    ));
                }
                Err(error) => return Err(fail(&error)),
            },
        };
        TokenSource::access_key(base_url, key)
    };
    let mut builder = builder
        .scopes(args.scopes.iter().filter(|s| !s.is_empty()).cloned())
        .timeout(Duration::from_secs(args.timeout.max(1)))
        .http_client(http_client(Duration::from_secs(args.timeout.max(1))));
    if let Some(tenant) = &args.tenant {
        builder = builder.tenant(tenant);
    }
    if args.cache {
        match m2m_client::default_cache_dir() {
            Some(dir) => builder = builder.cache_dir(dir),
            None => return Err(usage("--cache: neither XDG_CACHE_HOME nor HOME is set")),
        }
    }
    builder.build().map_err(|error| fail(&error))
}

fn read_key_file(file: &str) -> Result<AccessKey, u8> {
    let mut text = String::new();
    let read = if file == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(file).map(|t| text = t)
    };
    if let Err(error) = read {
        let from = if file == "-" { "stdin" } else { file };
        return Err(usage(&format!(
            "cannot read the access key from {from}: {error}"
        )));
    }
    AccessKey::new(text).map_err(|error| fail(&error))
}

fn http_client(timeout: Duration) -> reqwest::Client {
    m2m_auth::fetch::build_client(timeout)
}

fn print_line(text: &str) -> u8 {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Ok(()) => OK,
        Err(_) => UNAVAILABLE,
    }
}

fn usage(message: &str) -> u8 {
    eprintln!("m2m: {message}");
    USAGE
}

fn fail(error: &Error) -> u8 {
    eprintln!("m2m: {error}");
    exit_code(error)
}

fn exit_code(error: &Error) -> u8 {
    match error {
        Error::Refused { .. } | Error::RateLimited { .. } => REFUSED,
        Error::InvalidBaseUrl { .. }
        | Error::InvalidAccessKey(_)
        | Error::AwsCredentials(_)
        | Error::NoRegion
        | Error::Signing(_)
        | Error::Cache { .. } => USAGE,
        Error::BackingOff { last, .. } => exit_code(last),
        _ => UNAVAILABLE,
    }
}

/// Logs to stderr at the asked verbosity. The HTTP stack stays at DEBUG at most and the AWS SDK at INFO,
/// as in the functions: their more verbose lines carry request bodies and credentials.
fn init_logging(verbose: u8) {
    if verbose == 0 {
        return;
    }
    let filter = match verbose {
        1 => "warn,m2m=debug,m2m_client=debug",
        2 => {
            "info,m2m=trace,m2m_client=trace,reqwest=debug,hyper_util=debug,hyper=debug,aws_config=info"
        }
        _ => {
            "trace,reqwest=debug,hyper_util=debug,hyper=debug,h2=debug,rustls=debug,aws_config=info,aws_smithy_runtime=info,aws_smithy_runtime_api=info,aws_sigv4=info,aws_credential_types=info,aws_runtime=info,aws_types=info"
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}
