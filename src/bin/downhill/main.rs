//! The `downhill` command: a thin layer over the library.

mod devices;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Train neural networks by gradient descent on any GPU wgpu reaches, or on the CPU.
#[derive(Parser)]
#[command(name = "downhill", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the GPU adapters wgpu finds and the CPU path, and say which one `auto` picks.
    Devices,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Devices => devices::run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
