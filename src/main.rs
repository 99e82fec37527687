//! The `seqspool` binary: the command line, logging, signals, and nothing else.

use seqspool::Config;

fn main() {
    // Local commands are started by a runner: a process of this same binary.
    if std::env::args_os().nth(1).as_deref() == Some(seqspool::exec::runner::SUBCOMMAND.as_ref()) {
        seqspool::exec::runner::main();
    }
    // `seqspool user add|list|remove`: the lab's users, beside the server.
    if std::env::args_os().nth(1).as_deref() == Some(seqspool::cli::user::SUBCOMMAND.as_ref()) {
        seqspool::cli::user::main(std::env::args_os().skip(1));
    }
    // `seqspool retention --dry-run`: a look at the directory, not a server.
    if std::env::args_os().nth(1).as_deref() == Some(seqspool::cli::retention::SUBCOMMAND.as_ref())
    {
        std::process::exit(seqspool::cli::retention::main(std::env::args_os()));
    }
    let config = match Config::load() {
        Ok(config) => config,
        // Usage errors, and --help and --version, as clap prints them.
        Err(seqspool::config::Refused::CommandLine(err)) => err.exit(),
        Err(seqspool::config::Refused::File(message)) => fail(&message),
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let runtime = tokio::runtime::Runtime::new()
        .unwrap_or_else(|err| fail(&format!("starting the runtime: {err}")));
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|err| {
                seqspool::Error::Internal(format!("listening on {}: {err}", config.bind))
            })?;
        seqspool::run(listener, config, stop_signal()).await
    });
    if let Err(err) = result {
        fail(&err.to_string());
    }
}

/// Completes at the first SIGINT (Ctrl-C) or SIGTERM (systemd's stop).
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        fail("installing the signal handlers");
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
}

fn fail(message: &str) -> ! {
    eprintln!("seqspool: {message}");
    std::process::exit(1);
}
