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

/// The layout of a flat buffer: views in order, each aligned to [`ALIGN`] elements, and names
/// that alias a view (a tied parameter: GPT's `lm_head.weight` is `transformer.wte.weight`).
/// An alias has no storage of its own and is not among [`ParamLayout::views`], so everything
/// that walks the tensors (the optimizer, clipping, all-reduce buckets) sees a tied tensor once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamLayout {
    views: Vec<ParamView>,
    total: usize,
    /// (alias name, index of the view it shares).
    aliases: Vec<(String, usize)>,
}

impl ParamLayout {
    /// Lays out `(name, shape)` pairs in order. Names must be unique.
    pub fn new<S: AsRef<str>>(specs: &[(S, Vec<usize>)]) -> Result<Self> {
        let mut views: Vec<ParamView> = Vec::with_capacity(specs.len());
        // A set, not a scan of the views: a 1,000-layer GPT has 12,000 names.
        let mut seen = std::collections::HashSet::with_capacity(specs.len());
        let mut offset = 0;
        for (name, shape) in specs {
            let name = name.as_ref();
            if !seen.insert(name) {
                return Err(Error::InvalidArgument {
                    what: "ParamLayout".into(),
                    detail: format!("duplicate name {name}"),
                });
            }
            views.push(ParamView { name: name.to_string(), shape: shape.clone(), offset });
            offset = shape
                .iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .and_then(|n| n.checked_next_multiple_of(ALIGN))
                .and_then(|n| offset.checked_add(n))
                .ok_or_else(|| Error::InvalidArgument {
                    what: "ParamLayout".into(),
                    detail: format!(
                        "the model is too large: {name} {shape:?} takes the parameter count past {}",
                        usize::MAX
                    ),
                })?;
        }
        Ok(Self { views, total: offset, aliases: Vec::new() })
    }

    /// Lays out `specs` as [`ParamLayout::new`], except that each `(alias, target)` of `ties`
    /// shares `target`'s storage: the alias must have the target's shape and the target must
    /// be a tensor of its own.
    pub fn tied<S: AsRef<str>>(specs: &[(S, Vec<usize>)], ties: &[(String, String)]) -> Result<Self> {
        let bad = |detail: String| Error::InvalidArgument { what: "tied parameters".into(), detail };
        let aliases: std::collections::HashSet<&str> = ties.iter().map(|(a, _)| a.as_str()).collect();
        let is_alias = |name: &str| aliases.contains(name);
        let own: Vec<(&str, Vec<usize>)> =
            specs.iter().filter(|(n, _)| !is_alias(n.as_ref())).map(|(n, s)| (n.as_ref(), s.clone())).collect();
        let mut layout = Self::new(&own)?;
        for (alias, target) in ties {
            let Some((_, shape)) = specs.iter().find(|(n, _)| n.as_ref() == alias) else {
                return Err(bad(format!("{alias} is not a parameter of the model")));
            };
            let Some(t) = layout.views.iter().position(|v| v.name == *target) else {
                return Err(bad(format!("{alias} is tied to {target}, which is not a parameter of its own")));
            };
            if layout.views[t].shape != *shape {
                return Err(bad(format!(
                    "{alias} {shape:?} cannot share {target} {:?}: the shapes differ",
                    layout.views[t].shape
                )));
            }
            layout.aliases.push((alias.clone(), t));
        }
        Ok(layout)
    }

    /// The views in layout order (aliases not included).
    pub fn views(&self) -> &[ParamView] {
        &self.views
    }

    /// The aliases: (name, index of the view whose storage it shares).
    pub fn aliases(&self) -> &[(String, usize)] {
        &self.aliases
    }

    /// The index of the view called `name`, or of the view an alias of that name shares.
    pub fn index(&self, name: &str) -> Result<usize> {
        if let Some(i) = self.views.iter().position(|v| v.name == name) {
            return Ok(i);
        }
        if let Some((_, t)) = self.aliases.iter().find(|(a, _)| a == name) {
            return Ok(*t);
        }
        let names: Vec<_> = self.views.iter().map(|v| v.name.as_str()).collect();
        Err(Error::InvalidArgument {
            what: "parameter name".into(),
            detail: format!("no {name:?}; the model has {names:?}"),
        })
    }

    /// The view called `name` (or the one an alias of that name shares).
    pub fn get(&self, name: &str) -> Result<&ParamView> {
        Ok(&self.views[self.index(name)?])
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

    /// Every tensor, by name, in layout order, then each alias under its own name (as
    /// PyTorch's state_dict lists a tied tensor under both names).
    pub fn read_all(&self, be: &B) -> Result<Vec<(String, Tensor)>> {
        let own = self.layout.views().iter().zip(&self.views).map(|(v, t)| Ok((v.name.clone(), be.read(t)?)));
        let aliases = self.layout.aliases().iter().map(|(a, i)| Ok((a.clone(), be.read(&self.views[*i])?)));
        own.chain(aliases).collect()
    }

    fn index(&self, name: &str) -> Result<usize> {
        self.layout.index(name)
    }
}
