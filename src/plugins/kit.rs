//! The plugin kit for operators: `staybase plugin new` writes a ready Rust project for a
//! plugin kind, and `staybase plugin check` validates and runs a component without a server.

use std::path::{Path, PathBuf};

use super::{
    model::PluginKind,
    runtime::Limits,
    service::{self, DryRun},
};

const WIT: &str = include_str!("../../plugins/wit/plugin.wit");
const README: &str = include_str!("../../plugins/kit/README.md");
const PRICING_CARGO: &str = include_str!("../../plugins/kit/pricing/Cargo.toml");
const PRICING_LIB: &str = include_str!("../../plugins/kit/pricing/src/lib.rs");
const REVIEW_CARGO: &str = include_str!("../../plugins/kit/review-rules/Cargo.toml");
const REVIEW_LIB: &str = include_str!("../../plugins/kit/review-rules/src/lib.rs");
/// A 64 KiB stack instead of Rust's default 1 MiB keeps the component's memory small, which
/// Staybase then resets between calls by clearing a few pages instead of unmapping them.
const CARGO_CONFIG: &str = "# A small stack keeps each call fast (see the README).\n\
    [target.wasm32-wasip2]\n\
    rustflags = [\"-C\", \"link-arg=-zstack-size=65536\"]\n";

/// A kind as the CLI spells it (`review-rules`, the WIT world's name) or as the API does.
pub fn parse_kind(value: &str) -> Option<PluginKind> {
    match value {
        "pricing" => Some(PluginKind::Pricing),
        "review-rules" | "review_rules" => Some(PluginKind::ReviewRules),
        _ => None,
    }
}

/// A project name that is also its crate's and its `.wasm` file's: a lowercase letter, then
/// up to 63 lowercase letters, digits and underscores.
fn check_name(name: &str) -> Result<(), String> {
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a plugin name: use a lowercase letter, then lowercase letters, \
             digits and underscores (at most 64)"
        ))
    }
}

/// Writes a new plugin project `name` of `kind` into `parent/name`, which must not exist;
/// answers the project's folder.
pub fn new_project(parent: &Path, name: &str, kind: PluginKind) -> Result<PathBuf, String> {
    check_name(name)?;
    let folder = parent.join(name);
    if folder.exists() {
        return Err(format!("{} already exists", folder.display()));
    }
    let (cargo, lib, world, config, policy) = match kind {
        PluginKind::Pricing => (
            PRICING_CARGO,
            PRICING_LIB,
            "pricing",
            r#"{"percent": 10, "label": "Peak demand surcharge"}"#,
            "fail_closed",
        ),
        PluginKind::ReviewRules => (
            REVIEW_CARGO,
            REVIEW_LIB,
            "review-rules",
            r#"{"empty_comment": "hold"}"#,
            "hold",
        ),
    };
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{kind}}", world)
            .replace("{{api_kind}}", kind.as_str())
            .replace("{{config}}", config)
            .replace("{{policy}}", policy)
    };
    let files = [
        ("Cargo.toml", fill(cargo)),
        ("src/lib.rs", fill(lib)),
        ("wit/plugin.wit", WIT.to_owned()),
        ("README.md", fill(README)),
        (".gitignore", "/target\n".to_owned()),
        (".cargo/config.toml", CARGO_CONFIG.to_owned()),
    ];
    for (path, text) in files {
        let path = folder.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        }
        std::fs::write(&path, text).map_err(|err| format!("{}: {err}", path.display()))?;
    }
    Ok(folder)
}

/// Checks a component file as an upload would be checked, then runs it once on `input` (the
/// sample input of its kind when `None`) with `fuel` and the other limits of live calls.
pub async fn check(
    file: &Path,
    kind: PluginKind,
    input: Option<serde_json::Value>,
    fuel: u64,
) -> Result<DryRun, String> {
    let module = std::fs::read(file).map_err(|err| format!("{}: {err}", file.display()))?;
    let prepared = tokio::task::spawn_blocking(move || service::prepare_local(kind, &module))
        .await
        .map_err(|err| err.to_string())??;
    let limits = Limits {
        fuel,
        ..Limits::default()
    };
    service::run_input((uuid::Uuid::nil(), prepared), kind, (input, None), limits)
        .await
        .map_err(|err| err.detail())
}
