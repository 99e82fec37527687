//! The `seqspool` binary: the command line, logging, signals, and nothing else.

use seqspool::cli::{self, Command};
use seqspool::config::Refused;
use seqspool::Config;

fn main() {
    let command = match cli::parse(std::env::args_os()) {
        Ok(command) => command,
        // Usage errors, and --help and --version, as clap prints them.
        Err(Refused::CommandLine(err)) => err.exit(),
        Err(Refused::File(message)) => fail("seqspool", &message),
    };
    match command {
        Command::Serve(config) => serve(*config),
        Command::Client(command) => match cli::client::run(command) {
            Ok(()) => std::process::exit(0),
            // Each kind of failure has its exit code (`seqspool submit --help` lists them).
            Err(failure) => {
                eprintln!("seqspool: {failure}");
                std::process::exit(failure.code());
            }
        },
        Command::User(command) => finish("seqspool user", cli::user::run(command)),
        Command::Db(command) => finish("seqspool db", cli::db::run(command)),
        Command::Retention(command) => finish("seqspool", cli::retention::run(&command)),
        Command::Completions(command) => finish("seqspool", cli::manual::completions(&command)),
        Command::Man(command) => finish("seqspool", cli::manual::man(&command)),
        // Local commands are started by a runner: a process of this same binary.
        Command::Runner => seqspool::exec::runner::main(),
        // The built-in BLAST pipelines' command, which the runner starts.
        Command::Blast { program } => std::process::exit(cli::blast(&program)),
    }
}

fn serve(config: Config) {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let runtime = tokio::runtime::Runtime::new()
        .unwrap_or_else(|err| fail("seqspool", &format!("starting the runtime: {err}")));
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|err| {
                seqspool::Error::Internal(format!("listening on {}: {err}", config.bind))
            })?;
        seqspool::run(listener, config, stop_signal()).await
    });
    if let Err(err) = result {
        fail("seqspool", &err.to_string());
    }
}

/// Completes at the first SIGINT (Ctrl-C) or SIGTERM (systemd's stop).
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        fail("seqspool", "installing the signal handlers");
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
}

/// Exits 0 when a command succeeded, else 1 with its message.
fn finish(name: &str, result: Result<(), String>) -> ! {
    match result {
        Ok(()) => std::process::exit(0),
        Err(message) => fail(name, &message),
    }
}

fn fail(name: &str, message: &str) -> ! {
    eprintln!("{name}: {message}");
    std::process::exit(1);
}
