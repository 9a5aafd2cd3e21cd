//! The command line: parse, load configuration, dispatch. Exit codes follow sysexits(3) where
//! one fits: 64 for bad configuration, so systemd's `RestartPreventExitStatus=64` stops a
//! crash loop on a typo.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::shutdown::{self, Shutdown};
use crate::startup::Application;
use crate::telemetry::log::Logger;

/// Configuration was invalid (EX_USAGE).
pub const EXIT_CONFIG: u8 = 64;

#[derive(Parser, Debug)]
#[command(
    name = "itemsd",
    version,
    about = "The items service: HTTP API over PostgreSQL, as one binary",
    long_about = "The items service: HTTP API over PostgreSQL, as one binary.\n\n\
        Configuration comes from environment variables (see the README); invalid \
        configuration exits 64."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Apply pending migrations as the schema's owner, make the serving role (DB_IAM_USER); exit.
    Migrate,
    /// Is this instance configured right, and can it reach everything? Prints the configuration
    /// (secrets masked), identity, secret, database and AWS checks; exits 1 on any failure.
    Check,
    /// What is the service on this host doing now? Asks the running process (this host only)
    /// and prints its phase, database, pool, duties and shipping. Exits 0 serving and healthy,
    /// 1 degraded, 2 starting or draining, 3 not running.
    Status {
        /// Print the status as JSON, for scripts and SSM Run Command.
        #[arg(long)]
        json: bool,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("itemsd: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("itemsd: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let ok = match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => return serve(config).await,
            Command::Migrate => crate::ops::migrate(&config, &mut std::io::stdout()).await,
            Command::Check => crate::ops::check(&config, &mut std::io::stdout()).await,
            Command::Status { json } => {
                return ExitCode::from(
                    crate::ops::status::status(&config, json, &mut std::io::stdout()).await,
                )
            }
        };
        if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    })
}

async fn serve(config: Config) -> ExitCode {
    let logger = Logger::stdout(config.log_level);
    let shutdown = Shutdown::new();
    if let Err(e) = shutdown::listen_for_signals(shutdown.clone(), logger.clone()) {
        logger
            .error("could not install signal handlers")
            .error_chain(&e)
            .emit();
        logger.flush(std::time::Duration::from_secs(1));
        return ExitCode::FAILURE;
    }
    match Application::build(config, logger.clone()).await {
        Ok(app) => {
            app.run(shutdown).await;
            ExitCode::SUCCESS
        }
        Err(e) if e.is_config() => {
            // One clear line, as for any other configuration error.
            eprintln!("itemsd: {}", crate::telemetry::log::cause_chain(&e));
            ExitCode::from(EXIT_CONFIG)
        }
        Err(e) => {
            logger
                .error("itemsd could not start")
                .error_chain(&e)
                .emit();
            logger.flush(std::time::Duration::from_secs(1));
            ExitCode::FAILURE
        }
    }
}
