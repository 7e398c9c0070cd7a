use std::process::ExitCode;

use clap::Parser;
use staybase::{
    cli::{self, Cli, Command},
    config::Config,
    telemetry,
};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("staybase: {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.log, config.log_format);
    for name in Config::unknown_env_vars() {
        tracing::warn!(variable = %name, "unknown STAYBASE_ setting ignored");
    }
    match cli::run(cli.command.unwrap_or(Command::Serve), config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "command failed");
            eprintln!("staybase: {err}");
            ExitCode::FAILURE
        }
    }
}
