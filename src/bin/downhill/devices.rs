//! `downhill devices`: every adapter with the limits that matter, then the CPU path and the choice.

use downhill::backend::gpu::list_adapters;
use downhill::device::{open, DeviceRequest, DEVICE_ENV};
use downhill::Result;

/// Prints the adapters, the CPU path, and what `auto` (or `DOWNHILL_DEVICE`) opens.
pub fn run() -> Result<()> {
    let reports = list_adapters();
    if reports.is_empty() {
        println!("no GPU adapter found on any wgpu backend");
    }
    for r in &reports {
        let l = &r.limits;
        println!(
            "[{}] {} — {} {}{}",
            r.index,
            r.name,
            r.backend,
            r.device_type,
            if r.is_software { " (software)" } else { "" }
        );
        if !r.driver.is_empty() {
            println!("    driver: {}", r.driver);
        }
        println!(
            "    max storage binding {} MiB, max buffer {} MiB, workgroup ≤ {:?} / {} invocations, {} KiB workgroup memory",
            l.max_storage_buffer_binding_size >> 20,
            l.max_buffer_size >> 20,
            l.max_compute_workgroup_size,
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroup_storage_size >> 10,
        );
        println!(
            "    features: {}",
            if r.features.is_empty() {
                "none of SHADER_F16, SUBGROUP, TIMESTAMP_QUERY".to_string()
            } else {
                r.features.join(", ")
            }
        );
    }
    println!("[cpu] gemm + rayon on {} threads", rayon::current_num_threads());

    let request = DeviceRequest::from_env()?;
    let selection = open(&request)?;
    let source = if std::env::var(DEVICE_ENV).is_ok() { DEVICE_ENV } else { "auto" };
    println!("{source} picks: {}", selection.device.describe());
    if let Some(why) = selection.fallback_reason {
        println!("    ({why})");
    }
    Ok(())
}
