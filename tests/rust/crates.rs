//! What each function's binary links: only the token function links the token exchange and the AWS SDK,
//! and the authorizer links no HTTP function stack (docs/contract.md section 6; README, "Layout").

use std::process::Command;

/// The crates `cargo tree` lists as `package`'s normal (not dev, not build) dependencies.
fn linked(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}", "-p", package])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn only_the_token_function_links_the_exchange_and_the_aws_sdk() {
    let exchange = ["m2m-token", "aws-sdk-secretsmanager", "aws-config"];
    for package in ["protected", "user", "admin", "whoami", "authorizer", "page"] {
        let crates = linked(package);
        assert!(
            crates
                .iter()
                .any(|name| name == "m2m-auth" || name == "m2m-telemetry"),
            "{package}: {crates:?}"
        );
        for name in exchange {
            assert!(!crates.iter().any(|c| c == name), "{package} links {name}");
        }
    }
    let token = linked("token");
    for name in exchange {
        assert!(token.iter().any(|c| c == name), "token links no {name}");
    }
    let authorizer = linked("authorizer");
    assert!(
        !authorizer
            .iter()
            .any(|c| c == "lambda_http" || c == "m2m-api"),
        "{authorizer:?}"
    );
}
