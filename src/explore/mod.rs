//! `downhill explore`: gradient descent on 2-D surfaces, computed by the engine's own kernels
//! (the surface kernel and the optimizers' fused updates) and shown in the browser.
//!
//! - [`surfaces`]: the catalogue (names, regions, known minima).
//! - [`run`]: trajectories and basin maps on any [`crate::Backend`].

pub mod run;
pub mod surfaces;

pub use run::{basin_map, surface_grid, trajectories, BasinMap, RunSpec, Trajectory};
pub use surfaces::{catalogue, Surface, SurfaceInfo};
