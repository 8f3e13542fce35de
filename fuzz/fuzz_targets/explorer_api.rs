//! The explorer's JSON API bodies (`POST /api/race`, `/api/basin`, `/api/surface`), decoded
//! as the server decodes them and answered on the CPU backend. The first byte picks the
//! endpoint. Requests within the server's limits have their work scaled down (steps, grid,
//! resolution) so one input stays well inside the fuzzer's time limit; requests beyond the
//! limits go through unchanged and must be refused.
#![no_main]
use downhill::explore::api::{self, BasinRequest, RaceRequest, SurfaceGridRequest};
use downhill::CpuBackend;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let be = CpuBackend::new();
    match pick % 3 {
        0 => {
            let Ok(mut r) = serde_json::from_slice::<RaceRequest>(body) else { return };
            if r.steps <= api::MAX_RACE_STEPS && r.runs.len() <= api::MAX_RACE_RUNS {
                r.steps = r.steps.min(50);
                r.runs.truncate(3);
            }
            let _ = api::race(&be, &r);
        }
        1 => {
            let Ok(mut r) = serde_json::from_slice::<BasinRequest>(body) else { return };
            if r.grid <= api::MAX_BASIN_GRID && r.steps <= api::MAX_BASIN_STEPS {
                r.grid = r.grid.min(8);
                r.steps = r.steps.min(50);
            }
            let _ = api::basin(&be, &r, &std::sync::atomic::AtomicBool::new(false));
        }
        _ => {
            let Ok(mut r) = serde_json::from_slice::<SurfaceGridRequest>(body) else { return };
            if r.resolution <= api::MAX_RESOLUTION {
                r.resolution = r.resolution.min(16);
            }
            let _ = api::surface_values(&be, &r);
        }
    }
});
