//! Every registered kernel translates through naga to the shading language of each of wgpu's
//! backends: SPIR-V (Vulkan), MSL (Metal), HLSL (DX12) and GLSL (GL: desktop 4.30 and ES 3.10),
//! with its `WG` override set as the launcher sets it. A shader that only the Vulkan path
//! accepts fails here, without a Mac or a Windows machine. These are naga's writers, what wgpu
//! runs on each platform; the platform compilers after them (Metal's, DXC/FXC, a GL driver's)
//! are not run here.

use downhill::backend::kernel::Kernel;
use downhill::kernels::all_kernels;
use naga::back::pipeline_constants::process_overrides;
use naga::back::PipelineConstants;
use naga::valid::{Capabilities, ModuleInfo, ValidationFlags, Validator};
use naga::{Module, ShaderStage};

/// The kernel's file parsed and validated, its overrides resolved for its entry point.
fn resolved(kernel: &Kernel) -> Result<(Module, ModuleInfo), String> {
    let source = kernel.shader.source;
    let module = naga::front::wgsl::parse_str(source).map_err(|e| e.emit_to_string(source))?;
    let info = Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .map_err(|e| e.emit_to_string(source))?;
    let mut constants = PipelineConstants::default();
    if module.overrides.iter().any(|(_, o)| o.name.as_deref() == Some("WG")) {
        constants.insert("WG".into(), f64::from(kernel.shader.workgroup));
    }
    let (module, info) = process_overrides(&module, &info, Some((ShaderStage::Compute, kernel.entry)), &constants)
        .map_err(|e| format!("overrides: {e}"))?;
    Ok((module.into_owned(), info.into_owned()))
}

fn spirv(module: &Module, info: &ModuleInfo, entry: &str) -> Result<(), String> {
    let pipeline = naga::back::spv::PipelineOptions { shader_stage: ShaderStage::Compute, entry_point: entry.into() };
    naga::back::spv::write_vec(module, info, &naga::back::spv::Options::default(), Some(&pipeline))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn msl(module: &Module, info: &ModuleInfo, entry: &str) -> Result<(), String> {
    // Metal 2.1: what wgpu's Metal backend asks of a device at least.
    let options = naga::back::msl::Options { lang_version: (2, 1), ..Default::default() };
    let pipeline = naga::back::msl::PipelineOptions {
        entry_point: Some((ShaderStage::Compute, entry.into())),
        ..Default::default()
    };
    naga::back::msl::write_string(module, info, &options, &pipeline).map(|_| ()).map_err(|e| e.to_string())
}

fn hlsl(module: &Module, info: &ModuleInfo, entry: &str) -> Result<(), String> {
    // Shader model 6.0: wgpu's DX12 backend with DXC.
    let options = naga::back::hlsl::Options { shader_model: naga::back::hlsl::ShaderModel::V6_0, ..Default::default() };
    let pipeline = naga::back::hlsl::PipelineOptions { entry_point: Some((ShaderStage::Compute, entry.into())) };
    let mut out = String::new();
    naga::back::hlsl::Writer::new(&mut out, &options, &pipeline)
        .write(module, info, None)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn glsl(module: &Module, info: &ModuleInfo, entry: &str, version: naga::back::glsl::Version) -> Result<(), String> {
    let options = naga::back::glsl::Options { version, ..Default::default() };
    let pipeline = naga::back::glsl::PipelineOptions {
        shader_stage: ShaderStage::Compute,
        entry_point: entry.into(),
        multiview: None,
    };
    let mut out = String::new();
    let mut writer = naga::back::glsl::Writer::new(
        &mut out,
        module,
        info,
        &options,
        &pipeline,
        naga::proc::BoundsCheckPolicies::default(),
    )
    .map_err(|e| e.to_string())?;
    writer.write().map(|_| ()).map_err(|e| e.to_string())
}

#[test]
fn every_kernel_translates_to_spirv_msl_hlsl_and_glsl() {
    let mut failures = Vec::new();
    let mut translated = 0;
    for kernel in all_kernels() {
        let (module, info) = match resolved(kernel) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{} ({}): {e}", kernel.entry, kernel.shader.name));
                continue;
            }
        };
        let targets: [(&str, Result<(), String>); 5] = [
            ("SPIR-V", spirv(&module, &info, kernel.entry)),
            ("MSL 2.1", msl(&module, &info, kernel.entry)),
            ("HLSL SM 6.0", hlsl(&module, &info, kernel.entry)),
            ("GLSL 4.30", glsl(&module, &info, kernel.entry, naga::back::glsl::Version::Desktop(430))),
            (
                "GLSL ES 3.10",
                glsl(
                    &module,
                    &info,
                    kernel.entry,
                    naga::back::glsl::Version::Embedded { version: 310, is_webgl: false },
                ),
            ),
        ];
        for (target, result) in targets {
            match result {
                Ok(()) => translated += 1,
                Err(e) => failures.push(format!("{} ({}) → {target}: {e}", kernel.entry, kernel.shader.name)),
            }
        }
    }
    assert!(failures.is_empty(), "{} translations failed:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(translated, 5 * all_kernels().count(), "every kernel × 5 targets");
}
