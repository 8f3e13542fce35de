//! Choosing where to run: the best GPU, a named one, or the CPU path, with one line saying why
//! when the CPU path is used instead of a GPU.

use crate::backend::cpu::CpuBackend;
use crate::backend::gpu::{AdapterChoice, GpuBackend};
use crate::error::{Error, Result};
use std::str::FromStr;

/// The environment variable that picks a device when the caller does not: `auto`, `cpu`, `gpu`,
/// an adapter index or part of an adapter name.
pub const DEVICE_ENV: &str = "DOWNHILL_DEVICE";

/// What the caller asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceRequest {
    /// The best hardware GPU; the CPU path when there is none (a software rasteriser is slower
    /// than the CPU path, so `auto` does not choose one).
    Auto,
    /// The CPU path.
    Cpu,
    /// The best adapter of any kind, software included; an error if there is none.
    Gpu,
    /// The adapter at this index in `downhill devices`.
    Index(usize),
    /// The first adapter whose name contains this text (case-insensitive).
    Name(String),
}

impl FromStr for DeviceRequest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        Ok(match t.to_lowercase().as_str() {
            "" => {
                return Err(Error::InvalidArgument {
                    what: "device".into(),
                    detail: "empty; expected auto, cpu, gpu, an adapter index or part of a name".into(),
                })
            }
            "auto" => DeviceRequest::Auto,
            "cpu" => DeviceRequest::Cpu,
            "gpu" => DeviceRequest::Gpu,
            _ => match t.parse::<usize>() {
                Ok(i) => DeviceRequest::Index(i),
                Err(_) => DeviceRequest::Name(t.to_string()),
            },
        })
    }
}

impl DeviceRequest {
    /// The request in `DOWNHILL_DEVICE`, or `Auto` when unset.
    pub fn from_env() -> Result<Self> {
        match std::env::var(DEVICE_ENV) {
            Ok(v) => v.parse().map_err(|e| match e {
                Error::InvalidArgument { detail, .. } => Error::InvalidArgument { what: DEVICE_ENV.into(), detail },
                other => other,
            }),
            Err(_) => Ok(DeviceRequest::Auto),
        }
    }
}

impl DeviceRequest {
    /// The request a `--device` flag makes, or `DOWNHILL_DEVICE` (or `auto`) without one.
    pub fn from_flag_or_env(flag: Option<&str>) -> Result<Self> {
        match flag {
            Some(d) => d.parse(),
            None => Self::from_env(),
        }
    }

    /// The adapter a GPU opened for this request must be: the index or name asked for, the best
    /// of any kind otherwise.
    pub fn adapter_choice(&self) -> AdapterChoice {
        match self {
            DeviceRequest::Index(i) => AdapterChoice::Index(*i),
            DeviceRequest::Name(n) => AdapterChoice::Name(n.clone()),
            _ => AdapterChoice::Best,
        }
    }
}

/// Opens a GPU for work that needs one (GPU tests, benchmarks): the adapter `DOWNHILL_DEVICE`
/// names by index or name, otherwise the best of any kind, software rasterisers included.
pub fn open_gpu_from_env() -> Result<GpuBackend> {
    let choice = DeviceRequest::from_env().map(|r| r.adapter_choice()).unwrap_or(AdapterChoice::Best);
    GpuBackend::new(&choice)
}

/// The devices a `--device` value names for data-parallel training on one machine: a
/// comma-separated list (`gpu,cpu`, `0,1`; a device may repeat), or `all`, one replica per
/// hardware GPU (an adapter offered by several wgpu backends counts once). One entry means
/// no data parallelism.
pub fn replica_devices(flag: &str) -> Result<Vec<DeviceRequest>> {
    if flag.trim().eq_ignore_ascii_case("all") {
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for r in crate::backend::gpu::list_adapters() {
            if !r.is_software && r.device_type != "Other" && !seen.contains(&r.name) {
                seen.push(r.name.clone());
                out.push(DeviceRequest::Index(r.index));
            }
        }
        if out.is_empty() {
            return Err(Error::InvalidArgument {
                what: "device".into(),
                detail: "`all` trains one replica per hardware GPU and none was found (`downhill devices` lists the \
                         adapters); name the devices instead, e.g. --device gpu,cpu"
                    .into(),
            });
        }
        return Ok(out);
    }
    flag.split(',').map(str::parse).collect()
}

/// An opened path: one of the two backends.
pub enum Device {
    /// The CPU path (the `gemm` crate and rayon).
    Cpu(CpuBackend),
    /// A wgpu adapter.
    Gpu(Box<GpuBackend>),
}

impl Device {
    /// A one-line description of the device.
    pub fn describe(&self) -> String {
        use crate::backend::Backend;
        match self {
            Device::Cpu(b) => b.describe(),
            Device::Gpu(b) => b.describe(),
        }
    }
}

/// The device opened for a request, and why the CPU path was used when a GPU was not.
pub struct Selection {
    /// The opened device.
    pub device: Device,
    /// Set when `Auto` fell back to the CPU path: one line saying why.
    pub fallback_reason: Option<String>,
}

/// When `request` is what `DOWNHILL_DEVICE` asks for, says so in `e`: a value set long ago in
/// a shell profile is otherwise a mystery.
fn from_env_note(request: &DeviceRequest, e: Error) -> Error {
    let from_env = std::env::var(DEVICE_ENV).ok().and_then(|v| v.parse::<DeviceRequest>().ok());
    match e {
        Error::NoGpu(detail) if from_env.as_ref() == Some(request) => Error::NoGpu(format!(
            "{DEVICE_ENV}={}: {detail} (unset {DEVICE_ENV} or pass --device)",
            std::env::var(DEVICE_ENV).unwrap_or_default()
        )),
        e => e,
    }
}

/// Opens the device `request` names. `Auto` never fails: it falls back to the CPU path and
/// says why. Explicit GPU requests fail with an error naming what was not found.
pub fn open(request: &DeviceRequest) -> Result<Selection> {
    let gpu = |choice: AdapterChoice| -> Result<Selection> {
        let backend = GpuBackend::new(&choice)?;
        Ok(Selection { device: Device::Gpu(Box::new(backend)), fallback_reason: None })
    };
    match request {
        DeviceRequest::Cpu => Ok(Selection { device: Device::Cpu(CpuBackend::new()), fallback_reason: None }),
        DeviceRequest::Gpu | DeviceRequest::Index(_) | DeviceRequest::Name(_) => {
            gpu(request.adapter_choice()).map_err(|e| from_env_note(request, e))
        }
        DeviceRequest::Auto => {
            let cpu = |why: String| Selection { device: Device::Cpu(CpuBackend::new()), fallback_reason: Some(why) };
            let reports = crate::backend::gpu::list_adapters();
            let hardware = reports.iter().any(|r| !r.is_software && r.device_type != "Other");
            if reports.is_empty() {
                return Ok(cpu("no GPU adapter found on any wgpu backend; using the CPU path".into()));
            }
            if !hardware {
                // One name per adapter, however many backends reach it ("llvmpipe", not
                // "llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan), llvmpipe (LLVM 15.0.6, 256 bits) (Gl)").
                let mut names: Vec<&str> =
                    reports.iter().map(|r| r.name.split(" (").next().unwrap_or(&r.name)).collect();
                names.dedup();
                return Ok(cpu(format!(
                    "only a software GPU ({}): the CPU path is faster (DOWNHILL_DEVICE=gpu uses it anyway)",
                    names.join(", ")
                )));
            }
            match gpu(AdapterChoice::Best) {
                Ok(sel) => Ok(sel),
                Err(e) => Ok(cpu(format!("{e}; using the CPU path"))),
            }
        }
    }
}
