//! Whether this process was started by an MPI launcher, and whether this build can join it.

use crate::error::{Error, Result};

/// The environment variables MPI launchers set to the number of ranks: Open MPI's `mpirun`,
/// then PMI (MPICH, Intel MPI, Slurm's `srun --mpi=pmi2`).
const SIZE_VARIABLES: [&str; 2] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"];

/// The rank count an MPI launcher announced to this process, if it was started by one.
pub fn launcher_ranks(env: impl Fn(&str) -> Option<String>) -> Option<usize> {
    SIZE_VARIABLES.iter().find_map(|v| env(v).and_then(|s| s.trim().parse().ok()))
}

/// How a `train` command runs, decided from `--distributed`, the launcher's environment and
/// whether the `mpi` feature was compiled in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaunchCheck {
    /// One process (which may still drive several adapters).
    Single,
    /// Join the MPI world.
    Mpi,
}

impl LaunchCheck {
    /// Decides, or refuses a launch this build cannot serve: `--distributed`, or several ranks
    /// started by a launcher, without the `mpi` feature (each rank would train alone and write
    /// the same checkpoint).
    pub fn decide(distributed_flag: bool, launcher_ranks: Option<usize>, mpi_compiled: bool) -> Result<Self> {
        let several = launcher_ranks.is_some_and(|n| n > 1);
        let build =
            "rebuild with the feature: `cargo build --release --features mpi` (needs Open MPI: apt-get install \
                     libopenmpi-dev openmpi-bin libclang-dev)";
        match (distributed_flag || several, mpi_compiled) {
            (false, _) => Ok(LaunchCheck::Single),
            (true, true) => Ok(LaunchCheck::Mpi),
            (true, false) if several => Err(Error::Distributed(format!(
                "this process was started by an MPI launcher as one of {} ranks, but this downhill was built without \
                 the `mpi` feature, so every rank would train alone and write the same files; {build}",
                launcher_ranks.unwrap_or(0)
            ))),
            (true, false) => Err(Error::Distributed(format!(
                "--distributed needs the `mpi` cargo feature, which this downhill was built without; {build}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launches_without_the_feature_are_refused_by_name() {
        let env = |v: &str| (v == "OMPI_COMM_WORLD_SIZE").then(|| "4".to_string());
        assert_eq!(launcher_ranks(env), Some(4));
        assert_eq!(launcher_ranks(|_| None), None);
        assert_eq!(LaunchCheck::decide(false, None, false).unwrap(), LaunchCheck::Single);
        assert_eq!(LaunchCheck::decide(false, Some(1), false).unwrap(), LaunchCheck::Single);
        assert_eq!(LaunchCheck::decide(false, Some(4), true).unwrap(), LaunchCheck::Mpi);
        assert_eq!(LaunchCheck::decide(true, None, true).unwrap(), LaunchCheck::Mpi);
        let err = LaunchCheck::decide(false, Some(4), false).unwrap_err().to_string();
        assert!(err.contains("one of 4 ranks") && err.contains("--features mpi"), "{err}");
        let err = LaunchCheck::decide(true, None, false).unwrap_err().to_string();
        assert!(err.contains("--distributed") && err.contains("--features mpi"), "{err}");
    }
}
