//! Adapter discovery and choice, and the device + queue every GPU op runs on (built once).

use crate::error::{Error, Result};
use std::sync::{Arc, Mutex};

/// The limits of an adapter that decide what downhill can run on it.
#[derive(Clone, Debug)]
pub struct AdapterLimits {
    /// Largest storage buffer one binding can see, in bytes (the largest tensor an op takes).
    pub max_storage_buffer_binding_size: u64,
    /// Largest buffer that can be created, in bytes.
    pub max_buffer_size: u64,
    /// Largest workgroup along x, y, z.
    pub max_compute_workgroup_size: [u32; 3],
    /// Most invocations in one workgroup.
    pub max_compute_invocations_per_workgroup: u32,
    /// Workgroup (shared) memory per workgroup, in bytes.
    pub max_compute_workgroup_storage_size: u32,
    /// Most workgroups along one dispatch dimension.
    pub max_compute_workgroups_per_dimension: u32,
    /// Alignment of storage-buffer binding offsets, in bytes.
    pub min_storage_buffer_offset_alignment: u32,
}

impl From<&wgpu::Limits> for AdapterLimits {
    fn from(l: &wgpu::Limits) -> Self {
        Self {
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_buffer_size: l.max_buffer_size,
            max_compute_workgroup_size: [
                l.max_compute_workgroup_size_x,
                l.max_compute_workgroup_size_y,
                l.max_compute_workgroup_size_z,
            ],
            max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
            max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
            min_storage_buffer_offset_alignment: l.min_storage_buffer_offset_alignment,
        }
    }
}

/// What `downhill devices` prints about one adapter.
#[derive(Clone, Debug)]
pub struct AdapterReport {
    /// Position in the enumeration (what `DOWNHILL_DEVICE=<index>` names).
    pub index: usize,
    /// The adapter's name, e.g. `NVIDIA H100 80GB HBM3` or `llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub name: String,
    /// Vulkan, Metal, Dx12 or Gl.
    pub backend: String,
    /// DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu (a software rasteriser) or Other.
    pub device_type: String,
    /// Driver name and version as the adapter reports them.
    pub driver: String,
    /// Limits that matter for training.
    pub limits: AdapterLimits,
    /// Optional features present (SHADER_F16, SUBGROUP, TIMESTAMP_QUERY).
    pub features: Vec<&'static str>,
    /// True for software rasterisers (lavapipe, SwiftShader, WARP).
    pub is_software: bool,
}

/// Rank used to pick the best adapter: discrete > integrated > virtual > software > other.
fn type_rank(t: wgpu::DeviceType) -> u32 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 4,
        wgpu::DeviceType::IntegratedGpu => 3,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 1,
        wgpu::DeviceType::Other => 0,
    }
}

/// Native backends first; GL last (it lacks some compute features and is slower to set up).
fn backend_rank(b: wgpu::Backend) -> u32 {
    match b {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 1,
        _ => 0,
    }
}

fn report(index: usize, adapter: &wgpu::Adapter) -> AdapterReport {
    let info = adapter.get_info();
    let features = adapter.features();
    let mut present = Vec::new();
    for (flag, name) in [
        (wgpu::Features::SHADER_F16, "SHADER_F16"),
        (wgpu::Features::SUBGROUP, "SUBGROUP"),
        (wgpu::Features::TIMESTAMP_QUERY, "TIMESTAMP_QUERY"),
    ] {
        if features.contains(flag) {
            present.push(name);
        }
    }
    AdapterReport {
        index,
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
        limits: AdapterLimits::from(&adapter.limits()),
        features: present,
        is_software: info.device_type == wgpu::DeviceType::Cpu,
    }
}

/// An instance on every backend wgpu offers here (`WGPU_BACKEND` narrows it) and its adapters.
pub(crate) fn enumerate() -> (wgpu::Instance, Vec<wgpu::Adapter>) {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    (instance, adapters)
}

/// Lists every adapter wgpu finds, in enumeration order.
pub fn list_adapters() -> Vec<AdapterReport> {
    let (_instance, adapters) = enumerate();
    adapters.iter().enumerate().map(|(i, a)| report(i, a)).collect()
}

/// Which adapter to open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdapterChoice {
    /// The best by type, software rasterisers included (they come last).
    Best,
    /// The adapter at this position in [`list_adapters`].
    Index(usize),
    /// The first adapter whose name contains this text, ignoring case.
    Name(String),
}

/// Picks the index of the adapter `choice` names among `reports`.
pub fn pick(reports: &[AdapterReport], adapters: &[wgpu::Adapter], choice: &AdapterChoice) -> Result<usize> {
    match choice {
        AdapterChoice::Best => adapters
            .iter()
            .enumerate()
            .max_by_key(|(i, a)| {
                let info = a.get_info();
                // Earlier enumeration wins ties (max_by_key keeps the last max, so invert i).
                (type_rank(info.device_type), backend_rank(info.backend), usize::MAX - i)
            })
            .map(|(i, _)| i)
            .ok_or_else(|| Error::NoGpu("wgpu found no adapter on any backend".into())),
        AdapterChoice::Index(i) => {
            if *i < adapters.len() {
                Ok(*i)
            } else {
                Err(Error::NoGpu(format!(
                    "adapter index {i} requested but only {} adapter(s) exist (see `downhill devices`)",
                    adapters.len()
                )))
            }
        }
        AdapterChoice::Name(name) => {
            let wanted = name.to_lowercase();
            reports.iter().position(|r| r.name.to_lowercase().contains(&wanted)).ok_or_else(|| {
                let names: Vec<_> = reports.iter().map(|r| format!("{} ({})", r.name, r.backend)).collect();
                Error::NoGpu(format!("no adapter name contains {name:?}; found: {}", names.join(", ")))
            })
        }
    }
}

/// Errors the device reported outside any call (validation, out of memory), kept until read.
pub(crate) type ErrorSink = Arc<Mutex<Vec<String>>>;

/// The opened device: adapter facts, device, queue, and the sink for its errors.
pub struct GpuContext {
    /// What was opened.
    pub report: AdapterReport,
    /// The limits the device was created with (the adapter's own).
    pub limits: wgpu::Limits,
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) errors: ErrorSink,
}

impl GpuContext {
    /// Opens the adapter `choice` names, asking for all of its limits and, of the optional
    /// features, only TIMESTAMP_QUERY (when present; nothing else depends on it).
    pub fn open(choice: &AdapterChoice) -> Result<Self> {
        let (_instance, adapters) = enumerate();
        let reports: Vec<_> = adapters.iter().enumerate().map(|(i, a)| report(i, a)).collect();
        let index = pick(&reports, &adapters, choice)?;
        let adapter = &adapters[index];
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("downhill"),
            // Timestamps for `downhill bench --profile` where the adapter has them.
            required_features: adapter.features() & wgpu::Features::TIMESTAMP_QUERY,
            required_limits: limits.clone(),
            memory_hints: wgpu::MemoryHints::Performance,
            ..Default::default()
        }))
        .map_err(|e| Error::NoGpu(format!("could not open {}: {e}", reports[index].name)))?;
        let errors: ErrorSink = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        Ok(Self { report: reports[index].clone(), limits, device, queue, errors })
    }

    /// Returns and clears the errors the device reported since the last call.
    pub(crate) fn take_errors(&self) -> Result<()> {
        let mut v = self.errors.lock().map_err(|_| Error::Gpu("error sink poisoned".into()))?;
        if v.is_empty() {
            return Ok(());
        }
        let all = v.join("; ");
        v.clear();
        Err(Error::Gpu(all))
    }
}
