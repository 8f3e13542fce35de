//! `downhill explore`: gradient descent on 2-D surfaces, computed by the engine's own kernels
//! (the surface kernel `ops::surface` and the optimizers' fused updates) and shown in the
//! browser.
//!
//! - [`surfaces`]: the catalogue (names, regions, known minima).
//! - [`run`]: trajectories and basin maps on any [`crate::Backend`].
//! - [`api`]: the JSON requests and answers, with every limit; [`presets`]: the racers.
//! - [`server`]: axum on 127.0.0.1, computing in [`lanes`] (light at once, basin maps in a
//!   bounded queue), its connections bounded by [`listen`]; [`page`]: the page (`web/`), compiled in.
//! - [`export`]: a self-contained page or a PNG still ([`still`], [`colour`]) without a server.

pub mod api;
pub mod colour;
pub mod export;
pub mod lanes;
pub mod listen;
pub mod page;
pub mod presets;
pub mod run;
pub mod server;
pub mod still;
pub mod surfaces;

pub use run::{basin_map, basin_map_unless_cancelled, surface_grid, trajectories, BasinMap, RunSpec, Trajectory};
pub use surfaces::{catalogue, Surface, SurfaceInfo};
