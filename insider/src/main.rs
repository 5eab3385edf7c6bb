//! Entry point of the in-container agent.

use std::process::ExitCode;

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    match arg.as_deref() {
        Some("--version") | Some("-V") => {
            println!("{}", insider::version_line());
            ExitCode::SUCCESS
        }
        Some("--help") | Some("-h") => {
            println!(
                "{}\nThe Interview Platform room agent. It is started by the app inside a room \
                 container and speaks a framed protocol on stdin/stdout.\n\nOptions:\n  \
                 --version  print the version and protocol version\n  --help     this text",
                insider::version_line()
            );
            ExitCode::SUCCESS
        }
        other => {
            eprintln!(
                "insider: unknown invocation {:?}; try --help",
                other.unwrap_or("")
            );
            ExitCode::from(2)
        }
    }
}
