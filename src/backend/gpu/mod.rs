//! The GPU path: wgpu + the WGSL kernels in `shaders/`. Ops are recorded into one command
//! encoder and go out in one `queue.submit` at the next [`crate::Backend::sync`] or read-back.
//! Pipelines, uniforms, bind groups and staging buffers are created once and reused.

mod buffers;
pub mod context;

mod ops;
mod profile;

pub(crate) use buffers::Binding;
pub use buffers::{GpuTensor, GpuU32Buffer};
pub use context::{list_adapters, AdapterChoice, AdapterLimits, AdapterReport, GpuContext};
pub use profile::KernelTime;

use crate::backend::kernel::{Access, Arg, Grid, Kernel, MAX_STORAGE};
use crate::error::{Error, Result};
use buffers::{create_storage, map_read_with, DeviceBuffer, Graveyard};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use wgpu::util::DeviceExt;

/// Cached bind groups above this count are dropped wholesale (they are cheap to rebuild; the cap
/// only bounds memory when callers keep creating tensors with new shapes or scalars).
const BIND_GROUP_CACHE_CAP: usize = 4096;

/// Length of a bind-group key: the uniform's id, then (buffer id, offset, size) per binding.
const KEY_LEN: usize = 1 + 3 * MAX_STORAGE;
/// Fills the unused part of a key (no buffer gets this id).
const NO_BUFFER: u64 = u64::MAX;
/// A cached bind group's key: the entry point and what it binds.
type BindKey = (&'static str, [u64; KEY_LEN]);

/// Everything reused across ops, behind one lock.
#[derive(Default)]
struct State {
    /// The encoder ops are recorded into until the next submit.
    encoder: Option<wgpu::CommandEncoder>,
    /// The one compute pass every dispatch of the encoder goes into (wgpu orders the
    /// dispatches of a pass and inserts the barriers between them); ended at submit.
    pass: Option<wgpu::ComputePass<'static>>,
    /// Compute passes begun so far (tests check it is one per submit, not one per dispatch).
    passes: u64,
    /// Dispatches recorded so far.
    dispatches: u64,
    /// Ops recorded into `encoder`.
    recorded: usize,
    /// Buffers the recorded ops use: a host write to one of them must wait for a submit.
    used: std::collections::HashSet<u64>,
    modules: HashMap<&'static str, wgpu::ShaderModule>,
    pipelines: HashMap<&'static str, (wgpu::ComputePipeline, wgpu::BindGroupLayout)>,
    /// Uniform buffers keyed by their bytes: a shape's params are uploaded once.
    uniforms: HashMap<Vec<u8>, (u64, wgpu::Buffer)>,
    bind_groups: HashMap<BindKey, wgpu::BindGroup>,
    /// Map-readable buffers keyed by size.
    staging: HashMap<u64, wgpu::Buffer>,
    /// Scratch tensors (two-pass reduction partials) keyed by length.
    scratch: HashMap<usize, GpuTensor>,
    /// Every entry point dispatched so far (tests check that each registered kernel ran).
    dispatched: std::collections::BTreeSet<&'static str>,
    /// Per-kernel timestamps, while profiling ([`GpuBackend::set_profiling`]).
    profiler: Option<profile::Profiler>,
}

/// Sizes of the GPU backend's caches (see [`GpuBackend::cache_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Compute pipelines built.
    pub pipelines: usize,
    /// Bind groups held.
    pub bind_groups: usize,
    /// Uniform parameter buffers held.
    pub uniforms: usize,
    /// Read-back staging buffers held.
    pub staging_buffers: usize,
}

/// Runs ops on one wgpu device. Build it once per process and share it.
pub struct GpuBackend {
    ctx: GpuContext,
    next_id: AtomicU64,
    submissions: AtomicU64,
    /// Host nanoseconds spent in `dispatch` and `submit` (see [`crate::backend::RecordingStats`]).
    host_ns: AtomicU64,
    storage_created: AtomicU64,
    graveyard: Graveyard,
    state: Mutex<State>,
}

impl GpuBackend {
    /// Opens the adapter `choice` names.
    pub fn new(choice: &AdapterChoice) -> Result<Self> {
        Ok(Self::from_context(GpuContext::open(choice)?))
    }

    /// Wraps an opened context.
    pub fn from_context(ctx: GpuContext) -> Self {
        Self {
            ctx,
            next_id: AtomicU64::new(1),
            submissions: AtomicU64::new(0),
            host_ns: AtomicU64::new(0),
            storage_created: AtomicU64::new(0),
            graveyard: Arc::new(Mutex::new(Vec::new())),
            state: Mutex::new(State::default()),
        }
    }

    /// The adapter this backend runs on.
    pub fn adapter(&self) -> &AdapterReport {
        &self.ctx.report
    }

    /// How many `queue.submit` calls this backend has made (for tests and benchmarks).
    pub fn submissions(&self) -> u64 {
        self.submissions.load(Ordering::Relaxed)
    }

    /// Dispatches, submits and the host time spent recording and submitting them, so far.
    pub fn recording(&self) -> crate::backend::RecordingStats {
        crate::backend::RecordingStats {
            dispatches: self.dispatches(),
            submits: self.submissions(),
            host_ns: self.host_ns.load(Ordering::Relaxed),
        }
    }

    /// How many storage buffers this backend has created (tensors, scratch): a repeated
    /// training step must not add any (tests check it).
    pub fn storage_buffers_created(&self) -> u64 {
        self.storage_created.load(Ordering::Relaxed)
    }

    /// How many pipelines, bind groups and uniform buffers are cached: a repeated sequence of
    /// ops on the same tensors must not grow these (tests check it).
    pub fn cache_stats(&self) -> CacheStats {
        self.state
            .lock()
            .map(|s| CacheStats {
                pipelines: s.pipelines.len(),
                bind_groups: s.bind_groups.len(),
                uniforms: s.uniforms.len(),
                staging_buffers: s.staging.len(),
            })
            .unwrap_or_default()
    }

    /// Compute passes begun so far: one per submit that records any dispatch.
    pub fn compute_passes(&self) -> u64 {
        self.state.lock().map(|s| s.passes).unwrap_or(0)
    }

    /// Dispatches recorded so far.
    pub fn dispatches(&self) -> u64 {
        self.state.lock().map(|s| s.dispatches).unwrap_or(0)
    }

    /// The entry points this backend has dispatched at least once, sorted.
    pub fn dispatched_kernels(&self) -> Vec<&'static str> {
        self.state.lock().map(|s| s.dispatched.iter().copied().collect()).unwrap_or_default()
    }

    /// Turns per-kernel timing on or off; returns whether it is on (it needs the adapter's
    /// `TIMESTAMP_QUERY`). While on, each dispatch runs in its own compute pass with a
    /// timestamp at each end, and each submit waits for the device to read them back.
    pub fn set_profiling(&self, on: bool) -> Result<bool> {
        crate::Backend::sync(self)?;
        let mut state = self.lock()?;
        let available = self.ctx.device.features().contains(wgpu::Features::TIMESTAMP_QUERY);
        state.profiler = (on && available).then(|| profile::Profiler::new(&self.ctx.device, &self.ctx.queue));
        Ok(state.profiler.is_some())
    }

    /// Runs what is recorded, then returns each entry point's device time since profiling
    /// started or since the last call, longest first (empty when not profiling).
    pub fn take_profile(&self) -> Result<Vec<KernelTime>> {
        crate::Backend::sync(self)?;
        match self.lock()?.profiler.as_mut() {
            Some(p) => p.take(),
            None => Ok(Vec::new()),
        }
    }

    /// Ops recorded and not yet submitted.
    pub fn pending_ops(&self) -> usize {
        self.state.lock().map(|s| s.recorded).unwrap_or(0)
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| Error::Gpu("GPU backend state poisoned by an earlier panic".into()))
    }

    fn new_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A scratch tensor of `len` elements, created once per length and reused. Ops recorded in
    /// order may share it: each dispatch sees the previous one's writes.
    pub(crate) fn scratch(&self, len: usize) -> Result<GpuTensor> {
        if let Some(t) = self.lock()?.scratch.get(&len) {
            return Ok(t.clone());
        }
        let t = GpuTensor { buf: Arc::new(self.storage(&[len], (len * 4) as u64)?), offset: 0, shape: vec![len] };
        self.lock()?.scratch.insert(len, t.clone());
        Ok(t)
    }

    fn storage(&self, shape: &[usize], bytes: u64) -> Result<DeviceBuffer> {
        self.storage_created.fetch_add(1, Ordering::Relaxed);
        create_storage(&self.ctx.device, &self.ctx.limits, self.new_id(), &self.graveyard, shape, bytes)
    }

    /// Workgroup counts covering `items` invocations at `per_group` each, folded into a 2-D grid
    /// when one dimension is not enough (the shaders fold `num_workgroups.x` back in).
    pub(crate) fn grid(&self, op: &'static str, items: usize, per_group: u32) -> Result<(u32, u32, u32)> {
        let groups = items.div_ceil(per_group as usize).max(1);
        let max = self.ctx.limits.max_compute_workgroups_per_dimension as usize;
        if groups <= max {
            return Ok((groups as u32, 1, 1));
        }
        let y = groups.div_ceil(max);
        if y > max {
            return Err(Error::InvalidArgument {
                what: op.into(),
                detail: format!("{items} elements need more workgroups than the adapter can dispatch"),
            });
        }
        Ok((max as u32, y as u32, 1))
    }

    /// Builds (once) the pipeline and explicit bind group layout of `kernel`.
    fn pipeline<'s>(
        &self,
        state: &'s mut State,
        kernel: &Kernel,
    ) -> Result<&'s (wgpu::ComputePipeline, wgpu::BindGroupLayout)> {
        if !state.pipelines.contains_key(kernel.entry) {
            let device = &self.ctx.device;
            let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
            let module = state.modules.entry(kernel.shader.name).or_insert_with(|| {
                device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(kernel.shader.name),
                    source: wgpu::ShaderSource::Wgsl(kernel.shader.source.into()),
                })
            });
            let entries: Vec<_> = kernel
                .bindings
                .iter()
                .map(|&(binding, access)| wgpu::BindGroupLayoutEntry {
                    binding,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: match access {
                            Access::Uniform => wgpu::BufferBindingType::Uniform,
                            Access::Read => wgpu::BufferBindingType::Storage { read_only: true },
                            Access::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                        },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                })
                .collect();
            let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(kernel.entry),
                entries: &entries,
            });
            let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(kernel.entry),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
            let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(kernel.entry),
                layout: Some(&pipeline_layout),
                module,
                entry_point: Some(kernel.entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &[("WG", f64::from(kernel.shader.workgroup))],
                    ..Default::default()
                },
                cache: None,
            });
            if let Some(e) = pollster::block_on(scope.pop()) {
                return Err(Error::Gpu(format!("building kernel {} from {}: {e}", kernel.entry, kernel.shader.name)));
            }
            state.pipelines.insert(kernel.entry, (pipeline, layout));
        }
        Ok(&state.pipelines[kernel.entry])
    }

    /// [`crate::Backend::launch`] on this path: the grid resolved against the adapter's limits,
    /// then one recorded dispatch.
    pub(crate) fn launch_kernel(
        &self,
        kernel: &'static Kernel,
        params: &[u8],
        args: &mut [Arg<'_, GpuTensor, GpuU32Buffer>],
        grid: Grid,
    ) -> Result<()> {
        crate::backend::kernel::check_args(kernel, args)?;
        fn binding<'a>(a: &'a Arg<'_, GpuTensor, GpuU32Buffer>) -> Binding<'a> {
            match a {
                Arg::Read(t) | Arg::Write(t) => t.binding(),
                Arg::ReadU32(u) => u.binding(),
                Arg::WriteU32(u) => u.binding(),
            }
        }
        // A fixed array (no allocation per launch); kernels bind at least one buffer.
        let first = args.first().map(binding).ok_or_else(|| Error::InvalidArgument {
            what: kernel.entry.into(),
            detail: "a launch needs at least one storage buffer".into(),
        })?;
        let mut storage = [first; MAX_STORAGE];
        for (slot, arg) in storage.iter_mut().zip(args.iter()) {
            *slot = binding(arg);
        }
        let workgroups = match grid {
            Grid::Items(items) => self.grid(kernel.entry, items, kernel.shader.workgroup)?,
            Grid::Blocks { items, per_group } => self.grid(kernel.entry, items, per_group)?,
            Grid::Fixed(x, y, z) => {
                let max = self.ctx.limits.max_compute_workgroups_per_dimension;
                if x.max(y).max(z) > max {
                    return Err(Error::InvalidArgument {
                        what: kernel.entry.into(),
                        detail: format!("a {x}x{y}x{z} grid exceeds the adapter's {max} workgroups per dimension"),
                    });
                }
                (x, y, z)
            }
        };
        self.dispatch(kernel, params, &storage[..args.len()], workgroups)
    }

    /// Records one dispatch of `kernel` with a uniform holding `params` and the storage buffers
    /// in the kernel's binding order.
    fn dispatch(
        &self,
        kernel: &Kernel,
        params: &[u8],
        storage: &[Binding<'_>],
        workgroups: (u32, u32, u32),
    ) -> Result<()> {
        let started = std::time::Instant::now();
        let result = self.record(kernel, params, storage, workgroups);
        self.host_ns.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        result
    }

    /// The body of [`GpuBackend::dispatch`].
    fn record(
        &self,
        kernel: &Kernel,
        params: &[u8],
        storage: &[Binding<'_>],
        workgroups: (u32, u32, u32),
    ) -> Result<()> {
        debug_assert_eq!(storage.len() + 1, kernel.bindings.len(), "{}: binding count", kernel.entry);
        debug_assert!(storage.len() <= MAX_STORAGE, "{}: more storage bindings than a key holds", kernel.entry);
        check_no_alias(kernel, storage)?;
        let mut guard = self.lock()?;
        let state = &mut *guard;
        self.collect_garbage(state);

        if state.uniforms.len() >= BIND_GROUP_CACHE_CAP {
            // Bind groups hold the uniforms they use: drop both together.
            state.uniforms.clear();
            state.bind_groups.clear();
        }
        // Looked up by slice: a cached uniform costs no allocation.
        let uniform_id = match state.uniforms.get(params) {
            Some((id, _)) => *id,
            None => {
                let id = self.new_id();
                let buffer = self.ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("params"),
                    contents: params,
                    usage: wgpu::BufferUsages::UNIFORM,
                });
                state.uniforms.insert(params.to_vec(), (id, buffer));
                id
            }
        };

        // A fixed-size key (uniform id, then buffer id, offset, size per binding, the rest
        // NO_BUFFER): building it allocates nothing.
        let mut ids = [NO_BUFFER; KEY_LEN];
        ids[0] = uniform_id;
        for (k, b) in storage.iter().enumerate() {
            ids[1 + 3 * k..4 + 3 * k].copy_from_slice(&[b.buf.id, b.offset, b.bytes]);
        }
        let key = (kernel.entry, ids);

        self.pipeline(state, kernel)?;
        if !state.bind_groups.contains_key(&key) {
            if state.bind_groups.len() >= BIND_GROUP_CACHE_CAP {
                state.bind_groups.clear();
            }
            let uniform = &state.uniforms[params].1;
            let mut entries =
                vec![wgpu::BindGroupEntry { binding: kernel.bindings[0].0, resource: uniform.as_entire_binding() }];
            for (b, &(binding, _)) in storage.iter().zip(&kernel.bindings[1..]) {
                // An empty view still needs a non-empty binding: bind the buffer's first word.
                let (offset, bytes) = if b.bytes == 0 { (0, 4) } else { (b.offset, b.bytes) };
                let resource = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &b.buf.buffer,
                    offset,
                    size: std::num::NonZeroU64::new(bytes),
                });
                entries.push(wgpu::BindGroupEntry { binding, resource });
            }
            let layout = &state.pipelines[kernel.entry].1;
            let group = self.ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(kernel.entry),
                layout,
                entries: &entries,
            });
            state.bind_groups.insert(key, group);
        }

        if state.profiler.as_ref().is_some_and(|p| p.full()) {
            self.submit(state, None);
        }
        if state.pass.is_none() {
            let writes = state.profiler.as_mut().map(|p| p.push(kernel.entry));
            let encoder = state.encoder.get_or_insert_with(|| {
                self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("downhill ops") })
            });
            let timestamp_writes = match (writes, &state.profiler) {
                (Some((begin, end)), Some(p)) => Some(wgpu::ComputePassTimestampWrites {
                    query_set: &p.query_set,
                    beginning_of_pass_write_index: Some(begin),
                    end_of_pass_write_index: Some(end),
                }),
                _ => None,
            };
            let pass = encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("downhill step"), timestamp_writes });
            // The encoder stays locked while the pass is open; `submit` ends the pass first.
            state.pass = Some(pass.forget_lifetime());
            state.passes += 1;
        }
        let pass = state.pass.as_mut().expect("opened above");
        pass.set_pipeline(&state.pipelines[kernel.entry].0);
        pass.set_bind_group(0, &state.bind_groups[&key], &[]);
        pass.dispatch_workgroups(workgroups.0, workgroups.1, workgroups.2);
        if state.profiler.is_some() {
            // Profiling: the pass ends with its dispatch, so its end timestamp times it alone.
            drop(state.pass.take());
        }
        state.dispatches += 1;
        state.recorded += 1;
        state.used.extend(storage.iter().map(|b| b.buf.id));
        state.dispatched.insert(kernel.entry);
        Ok(())
    }

    /// Drops cached bind groups that reference buffers dropped since the last look.
    fn collect_garbage(&self, state: &mut State) {
        let dead: Vec<u64> = match self.graveyard.lock() {
            Ok(mut g) if !g.is_empty() => std::mem::take(&mut *g),
            _ => return,
        };
        // Keys hold (buffer id, offset, size) triples after the uniform's id.
        state.bind_groups.retain(|(_, ids), _| !ids[1..].chunks(3).any(|t| dead.contains(&t[0])));
    }

    /// Submits the recorded encoder (plus `extra`, recorded after it) in one `queue.submit`.
    fn submit(&self, state: &mut State, extra: Option<wgpu::CommandEncoder>) {
        // End the open compute pass: the encoder cannot finish while it is recording one.
        drop(state.pass.take());
        let profiled = state.profiler.as_ref().is_some_and(|p| p.has_pending());
        if let (true, Some(p), Some(enc)) = (profiled, &state.profiler, state.encoder.as_mut()) {
            p.resolve(enc);
        }
        let mut buffers = Vec::with_capacity(2);
        if let Some(enc) = state.encoder.take() {
            buffers.push(enc.finish());
        }
        if let Some(enc) = extra {
            buffers.push(enc.finish());
        }
        state.recorded = 0;
        state.used.clear();
        if !buffers.is_empty() {
            let started = std::time::Instant::now();
            self.ctx.queue.submit(buffers);
            self.host_ns.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            self.submissions.fetch_add(1, Ordering::Relaxed);
        }
        if let (true, Some(p)) = (profiled, state.profiler.as_mut()) {
            p.collect(&self.ctx.device);
        }
    }

    fn wait(&self) -> Result<()> {
        self.ctx
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))?;
        self.ctx.take_errors()
    }

    /// Copies the first `bytes` of `buf` to the host after running everything recorded.
    /// The copy rides in the same submit as the recorded ops; the map is asynchronous
    /// (`map_async` answering on a futures-intrusive channel) and awaited here.
    fn read_bytes(&self, src: Binding<'_>) -> Result<Vec<u8>> {
        self.read_bytes_with(src, <[u8]>::to_vec)
    }

    /// [`Self::read_bytes`] that hands the mapped bytes to `use_bytes` (no copy of its own).
    fn read_bytes_with<R>(&self, src: Binding<'_>, use_bytes: impl FnOnce(&[u8]) -> R) -> Result<R> {
        let bytes = src.bytes;
        let mut guard = self.lock()?;
        let state = &mut *guard;
        if bytes == 0 {
            self.submit(state, None);
            drop(guard);
            self.wait()?;
            return Ok(use_bytes(&[]));
        }
        let device = &self.ctx.device;
        let staging = state
            .staging
            .entry(bytes)
            .or_insert_with(|| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("staging"),
                    size: bytes,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            })
            .clone();
        let mut copy = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("read back") });
        copy.copy_buffer_to_buffer(&src.buf.buffer, src.offset, &staging, 0, bytes);
        self.submit(state, Some(copy));
        let mapped = map_read_with(device, &staging, bytes, use_bytes);
        // Keep the lock until the staging buffer is unmapped so no other read reuses it mapped.
        drop(guard);
        // An uncaptured device error explains a failed read best: report it first.
        self.ctx.take_errors()?;
        mapped
    }

    /// Writes host bytes into a buffer at `offset`. queue.write_buffer lands before the next
    /// submit's commands: if recorded ops use the buffer they must see the old contents, so they
    /// are submitted first; otherwise the write joins the step's single submit.
    fn write_bytes(&self, buf: &DeviceBuffer, offset: u64, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let mut state = self.lock()?;
        if state.used.contains(&buf.id) {
            self.submit(&mut state, None);
        }
        self.ctx.queue.write_buffer(&buf.buffer, offset, data);
        Ok(())
    }

    /// Uploads `data` into a new storage buffer.
    fn upload_bytes(&self, shape: &[usize], data: &[u8]) -> Result<DeviceBuffer> {
        let buf = self.storage(shape, data.len() as u64)?;
        if !data.is_empty() {
            self.ctx.queue.write_buffer(&buf.buffer, 0, data);
        }
        Ok(buf)
    }
}

/// Fails when a binding the kernel writes shares its buffer with another binding: wgpu would
/// reject the dispatch, and the op would read what it writes.
fn check_no_alias(kernel: &Kernel, storage: &[Binding<'_>]) -> Result<()> {
    for (i, (b, &(_, access))) in storage.iter().zip(&kernel.bindings[1..]).enumerate() {
        if access != Access::ReadWrite {
            continue;
        }
        if let Some(j) = storage.iter().enumerate().position(|(j, o)| j != i && o.buf.id == b.buf.id) {
            return Err(Error::InvalidArgument {
                what: kernel.entry.into(),
                detail: format!(
                    "the output (binding {i}) shares its buffer with binding {j}; an op cannot read the buffer it writes"
                ),
            });
        }
    }
    Ok(())
}
