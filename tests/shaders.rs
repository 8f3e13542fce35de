//! Every WGSL file parses and validates with naga (no GPU needed), and every kernel in the
//! registry exists as an entry point using exactly the bindings the launcher binds.

use downhill::backend::kernel::{Access, Shader};
use downhill::kernels::{all_kernels, all_shaders};
use naga::valid::{Capabilities, ValidationFlags, Validator};

fn validate(file: &Shader) -> (naga::Module, naga::valid::ModuleInfo) {
    let module = naga::front::wgsl::parse_str(file.source)
        .unwrap_or_else(|e| panic!("{}: {}", file.name, e.emit_to_string(file.source)));
    let info = Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {}", file.name, e.emit_to_string(file.source)));
    (module, info)
}

#[test]
fn every_shader_file_validates() {
    for file in all_shaders() {
        validate(file);
    }
}

#[test]
fn every_shader_file_on_disk_is_registered() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files = Vec::new();
    for dir in [root.clone(), root.join("optim")] {
        for entry in std::fs::read_dir(&dir).expect("shaders/") {
            let path = entry.expect("entry").path();
            files.push(path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/"));
        }
    }
    for name in files {
        // The preludes are not kernel files: they are prepended to them.
        let prelude = ["prelude.wgsl", "optim/prologue.wgsl", "activation.wgsl"].contains(&name.as_str());
        if name.ends_with(".wgsl") && !prelude {
            assert!(all_shaders().any(|f| f.name == name), "shaders/{name} is not in the kernel registry");
        }
    }
}

#[test]
fn every_kernel_binds_what_its_entry_point_uses() {
    for kernel in all_kernels() {
        let (module, info) = validate(kernel.shader);
        let index = module
            .entry_points
            .iter()
            .position(|e| e.name == kernel.entry)
            .unwrap_or_else(|| panic!("{} has no entry point {}", kernel.shader.name, kernel.entry));
        let uses = info.get_entry_point(index);
        let mut used = Vec::new();
        for (handle, var) in module.global_variables.iter() {
            let Some(binding) = &var.binding else {
                continue;
            };
            if uses[handle].is_empty() {
                continue;
            }
            assert_eq!(binding.group, 0, "{}: only group 0 is bound", kernel.entry);
            let access = match var.space {
                naga::AddressSpace::Uniform => Access::Uniform,
                naga::AddressSpace::Storage { access } if access.contains(naga::StorageAccess::STORE) => {
                    Access::ReadWrite
                }
                naga::AddressSpace::Storage { .. } => Access::Read,
                other => panic!("{}: unexpected address space {other:?}", kernel.entry),
            };
            used.push((binding.binding, access));
        }
        used.sort_by_key(|&(b, _)| b);
        assert_eq!(used, kernel.bindings, "{}: bindings used by the shader vs the registry", kernel.entry);
    }
}
