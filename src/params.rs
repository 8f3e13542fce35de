//! `ParamLayout`: the names, shapes and offsets of every tensor in ONE flat buffer (as llm.c's
//! `params_memory`), and `FlatStore`, such a buffer on a backend with a view per tensor.
//! Parameters, gradients and each optimizer state share one layout.

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::tensor::{numel, Tensor};

/// Every view's offset is a multiple of this many f32s (256 bytes): the largest
/// `min_storage_buffer_offset_alignment` WebGPU allows, so one layout serves every adapter and
/// the CPU path alike. It is also the optimizer's chunk: each chunk belongs to one tensor, so a
/// per-chunk group index gives every element its parameter group.
pub const ALIGN: usize = 64;

/// One named tensor inside the flat buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamView {
    /// PyTorch-style name, e.g. `fc1.weight`.
    pub name: String,
    /// Shape; a Linear weight is (out, in).
    pub shape: Vec<usize>,
    /// Offset in elements from the start of the flat buffer (a multiple of [`ALIGN`]).
    pub offset: usize,
}

impl ParamView {
    /// Number of elements.
    pub fn len(&self) -> usize {
        numel(&self.shape)
    }

    /// True for a tensor with no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The layout of a flat buffer: views in order, each aligned to [`ALIGN`] elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamLayout {
    views: Vec<ParamView>,
    total: usize,
}

impl ParamLayout {
    /// Lays out `(name, shape)` pairs in order. Names must be unique.
    pub fn new<S: AsRef<str>>(specs: &[(S, Vec<usize>)]) -> Result<Self> {
        let mut views: Vec<ParamView> = Vec::with_capacity(specs.len());
        let mut offset = 0;
        for (name, shape) in specs {
            let name = name.as_ref();
            if views.iter().any(|v| v.name == name) {
                return Err(Error::InvalidArgument {
                    what: "ParamLayout".into(),
                    detail: format!("duplicate name {name}"),
                });
            }
            views.push(ParamView { name: name.to_string(), shape: shape.clone(), offset });
            offset += numel(shape).div_ceil(ALIGN) * ALIGN;
        }
        Ok(Self { views, total: offset })
    }

    /// The views in layout order.
    pub fn views(&self) -> &[ParamView] {
        &self.views
    }

    /// The view called `name`.
    pub fn get(&self, name: &str) -> Result<&ParamView> {
        self.views.iter().find(|v| v.name == name).ok_or_else(|| {
            let names: Vec<_> = self.views.iter().map(|v| v.name.as_str()).collect();
            Error::InvalidArgument {
                what: "parameter name".into(),
                detail: format!("no {name:?}; the model has {names:?}"),
            }
        })
    }

    /// Elements in the flat buffer, padding included (a multiple of [`ALIGN`]).
    pub fn total(&self) -> usize {
        self.total
    }

    /// Number of [`ALIGN`]-element chunks.
    pub fn chunks(&self) -> usize {
        self.total / ALIGN
    }

    /// Number of real (non-padding) elements.
    pub fn parameter_count(&self) -> usize {
        self.views.iter().map(ParamView::len).sum()
    }
}

/// A flat buffer on a backend with one view per named tensor of its layout.
pub struct FlatStore<B: Backend> {
    layout: ParamLayout,
    flat: B::Tensor,
    views: Vec<B::Tensor>,
}

impl<B: Backend> FlatStore<B> {
    /// A zero-filled buffer for `layout`.
    pub fn zeros(be: &B, layout: &ParamLayout) -> Result<Self> {
        if !ALIGN.is_multiple_of(be.view_alignment()) {
            return Err(Error::InvalidArgument {
                what: "device".into(),
                detail: format!("view alignment of {} elements does not divide {ALIGN}", be.view_alignment()),
            });
        }
        let flat = be.zeros(&[layout.total()])?;
        let views = layout.views().iter().map(|v| be.view(&flat, v.offset, &v.shape)).collect::<Result<_>>()?;
        Ok(Self { layout: layout.clone(), flat, views })
    }

    /// The layout.
    pub fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    /// The whole flat buffer (what the fused optimizer updates in one dispatch).
    pub fn flat(&self) -> &B::Tensor {
        &self.flat
    }

    /// The whole flat buffer, mutable.
    pub fn flat_mut(&mut self) -> &mut B::Tensor {
        &mut self.flat
    }

    /// Every view in layout order.
    pub fn views(&self) -> &[B::Tensor] {
        &self.views
    }

    /// Every view in layout order, mutable.
    pub fn views_mut(&mut self) -> &mut [B::Tensor] {
        &mut self.views
    }

    /// The view of tensor `i` in layout order.
    pub fn view(&self, i: usize) -> &B::Tensor {
        &self.views[i]
    }

    /// The view of tensor `i` in layout order, mutable.
    pub fn view_mut(&mut self, i: usize) -> &mut B::Tensor {
        &mut self.views[i]
    }

    /// Overwrites tensor `name` with host data of its shape.
    pub fn load(&mut self, be: &B, name: &str, host: &Tensor) -> Result<()> {
        let i = self.index(name)?;
        let expected = &self.layout.views()[i].shape;
        if host.shape() != expected.as_slice() {
            return Err(Error::Shape {
                op: "load",
                detail: format!("{name} is {expected:?} in the model but {:?} was given", host.shape()),
            });
        }
        be.write(&mut self.views[i], host)
    }

    /// Copies tensor `name` to the host.
    pub fn read(&self, be: &B, name: &str) -> Result<Tensor> {
        be.read(&self.views[self.index(name)?])
    }

    /// Every tensor, by name, in layout order.
    pub fn read_all(&self, be: &B) -> Result<Vec<(String, Tensor)>> {
        self.layout.views().iter().zip(&self.views).map(|(v, t)| Ok((v.name.clone(), be.read(t)?))).collect()
    }

    fn index(&self, name: &str) -> Result<usize> {
        self.layout.get(name)?;
        Ok(self.layout.views().iter().position(|v| v.name == name).expect("found above"))
    }
}
