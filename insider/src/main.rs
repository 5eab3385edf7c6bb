//! Entry point of the in-container agent.

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;

const HELP: &str = "The Interview Platform room agent. Started by the app inside a room \
container, it speaks a framed protocol on stdin/stdout and runs a shell in a terminal.

Usage: insider [--workdir DIR] [--shell PATH]
       insider --health     exit 0 when the running agent is alive (the container health check)
       insider --version
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut workdir = PathBuf::from(insider::DEFAULT_WORKDIR);
    let mut shell = None;
    let heartbeat = std::env::var_os("INSIDER_HEARTBEAT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(insider::DEFAULT_HEARTBEAT));
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--version" | "-V" => {
                println!("{}", insider::version_line());
                return ExitCode::SUCCESS;
            }
            "--help" | "-h" => {
                print!("{}\n{HELP}", insider::version_line());
                return ExitCode::SUCCESS;
            }
            "--health" => {
                return match insider::agent::check_health(&heartbeat) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("insider: unhealthy: {e}");
                        ExitCode::FAILURE
                    }
                };
            }
            "--workdir" => match args.next() {
                Some(dir) => workdir = PathBuf::from(dir),
                None => return usage("--workdir needs a folder"),
            },
            "--shell" => match args.next() {
                Some(s) => shell = Some(s),
                None => return usage("--shell needs a path"),
            },
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    let config = insider::agent::Config {
        workdir,
        shell,
        heartbeat: Some(heartbeat),
    };
    // Frames go to stdout unbuffered, one write each: the standard handle would buffer by
    // lines and split a frame holding a newline into two writes.
    let stdout = match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => std::fs::File::from(fd),
        Err(e) => {
            eprintln!("insider: stdout: {e}");
            return ExitCode::FAILURE;
        }
    };
    match insider::agent::run(config, std::io::stdin().lock(), stdout) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("insider: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("insider: {problem}\n\n{HELP}");
    ExitCode::from(2)
}
