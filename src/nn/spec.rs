//! Model descriptions: a tree of layers ([`Node`]) built from the spec language for a given
//! per-sample input shape, with its parameter names (PyTorch's state_dict names of the
//! equivalent `nn.Sequential`), layout and seeded initial values.

use super::init::Init;
use super::layer::{Layer, TensorSpec};
use super::layers::{activation::Act, dropout::Dropout, linear::Linear, REGISTRY};
use super::parse::{parse, Item, CONTAINERS};
use crate::error::{Error, Result};
use crate::ops::elementwise::Activation;
use crate::params::ParamLayout;
use crate::rng::Rng;
use crate::tensor::Tensor;
use std::sync::Arc;

/// A node of the model tree.
#[derive(Clone, Debug)]
pub enum Node {
    /// A leaf layer.
    Layer(Arc<dyn Layer>),
    /// Children in order (`nn.Sequential`).
    Sequential(Vec<Node>),
    /// `y = x + body(x)`; the body must keep the shape.
    Residual(Vec<Node>),
}

/// A leaf with its state_dict prefix (`3`, `2.body.0`).
#[derive(Clone, Debug)]
pub struct Leaf {
    /// The module path, e.g. `0` or `2.body.1`.
    pub path: String,
    /// The layer.
    pub layer: Arc<dyn Layer>,
}

/// A model: its tree, the per-sample input shape it was built for and the weight init.
#[derive(Clone, Debug)]
pub struct ModelSpec {
    /// The top-level layers (an `nn.Sequential`).
    pub nodes: Vec<Node>,
    /// Per-sample input shape (no batch dim), e.g. `[1, 28, 28]` or `[784]`.
    pub input: Vec<usize>,
    /// Initialisation of Linear and Conv2d weights.
    pub init: Init,
    /// Full names of frozen parameters (not trained: no optimizer state). The layout puts
    /// them first, so the trainable ones are one contiguous run at the end of the flat buffer
    /// ([`ModelSpec::trainable_layout`]).
    pub frozen: Vec<String>,
}

impl PartialEq for ModelSpec {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
            && self.input == other.input
            && self.init == other.init
            && self.frozen == other.frozen
    }
}

/// The presets `--model` accepts besides a spec, with `{classes}` for the output size.
pub const PRESETS: &[(&str, &str)] = &[
    (
        "lenet5",
        "conv2d(6, 5, padding=2) relu maxpool2d(2) conv2d(16, 5) relu maxpool2d(2) flatten \
         linear(120) relu linear(84) relu linear({classes})",
    ),
    (
        "cnn",
        "conv2d(32, 3, padding=1) batchnorm2d relu maxpool2d(2) conv2d(64, 3, padding=1) batchnorm2d relu \
         maxpool2d(2) flatten linear(128) relu dropout(0.25) linear({classes})",
    ),
];

/// The spec text of preset `name` for `classes` outputs, if it is one.
pub fn preset(name: &str, classes: usize) -> Option<String> {
    PRESETS.iter().find(|(n, _)| *n == name.trim()).map(|(_, t)| t.replace("{classes}", &classes.to_string()))
}

fn model_err(detail: String) -> Error {
    Error::InvalidArgument { what: "model".into(), detail }
}

/// A symbolic batch for building: anything above 1 (BatchNorm refuses 1 in training).
const BUILD_BATCH: usize = 2;

fn build_nodes(items: Vec<Item>, shape: &mut Vec<usize>, count: &mut usize) -> Result<Vec<Node>> {
    let mut nodes = Vec::new();
    for item in items {
        *count += 1;
        let at = |e: Error| -> Error {
            let detail = match &e {
                Error::InvalidArgument { detail, .. } => detail.clone(),
                Error::Shape { detail, .. } => detail.clone(),
                other => other.to_string(),
            };
            model_err(format!("layer {} `{}` (input {}): {detail}", count, item.text, show(shape)))
        };
        if let Some(children) = item.children {
            let input = shape.clone();
            let body = build_nodes(children, shape, count)?;
            if item.name == "residual" {
                if *shape != input {
                    return Err(model_err(format!(
                        "`{}`: a residual body must keep its input's shape, but it maps {} to {}",
                        item.text,
                        show(&input),
                        show(shape)
                    )));
                }
                nodes.push(Node::Residual(body));
            } else {
                nodes.push(Node::Sequential(body));
            }
            continue;
        }
        let Some(kind) = REGISTRY.iter().find(|k| k.name == item.name) else {
            let names = REGISTRY.iter().map(|k| k.name).chain(CONTAINERS.iter().copied());
            let near = names.clone().min_by_key(|n| strsim::levenshtein(n, &item.name));
            let hint = near
                .filter(|n| strsim::levenshtein(n, &item.name) <= 3)
                .map(|n| format!("; did you mean {n}?"))
                .unwrap_or_default();
            return Err(model_err(format!(
                "layer {count}: unknown layer {:?}{hint} (known: {})",
                item.name,
                names.collect::<Vec<_>>().join(", ")
            )));
        };
        let bound = item.args.clone().bind(kind.name, kind.args).map_err(at)?;
        let layer = (kind.build)(bound, shape).map_err(at)?;
        let out = layer.output_shape(shape).map_err(at)?;
        // Every later layer multiplies this shape out: its element count must fit a usize
        // (`gpt(n_embd=1865828341830560426)` overflowed inside layer_norm: fuzz/model_spec).
        if out.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).is_none() {
            return Err(at(model_err(format!("the output {} is too large (its size overflows)", show(&out)))));
        }
        *shape = out;
        nodes.push(Node::Layer(Arc::from(layer)));
    }
    Ok(nodes)
}

/// `[N, 1, 28, 28]` with the symbolic batch shown as N.
fn show(shape: &[usize]) -> String {
    let dims: Vec<String> =
        shape.iter().enumerate().map(|(i, d)| if i == 0 { "N".to_string() } else { d.to_string() }).collect();
    format!("[{}]", dims.join(", "))
}

fn push_leaves(nodes: &[Node], prefix: &str, out: &mut Vec<Leaf>) {
    for (i, node) in nodes.iter().enumerate() {
        let path = if prefix.is_empty() { i.to_string() } else { format!("{prefix}.{i}") };
        match node {
            Node::Layer(l) => out.push(Leaf { path, layer: l.clone() }),
            Node::Sequential(c) => push_leaves(c, &path, out),
            Node::Residual(c) => push_leaves(c, &format!("{path}.body"), out),
        }
    }
}

fn text_of(nodes: &[Node]) -> String {
    let parts: Vec<String> = nodes
        .iter()
        .map(|n| match n {
            Node::Layer(l) => l.spec(),
            Node::Sequential(c) => format!("sequential({})", text_of(c)),
            Node::Residual(c) => format!("residual({})", text_of(c)),
        })
        .collect();
    parts.join(" ")
}

fn torch_of(nodes: &[Node], indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for n in nodes {
        match n {
            Node::Layer(l) => out.push_str(&format!("{pad}{},\n", l.torch())),
            Node::Sequential(c) => {
                out.push_str(&format!("{pad}nn.Sequential(\n"));
                torch_of(c, indent + 4, out);
                out.push_str(&format!("{pad}),\n"));
            }
            Node::Residual(c) => {
                out.push_str(&format!("{pad}Residual(\n"));
                torch_of(c, indent + 4, out);
                out.push_str(&format!("{pad}),\n"));
            }
        }
    }
}

impl ModelSpec {
    /// Builds `text` (a spec or a preset name) for samples of shape `input` (no batch dim).
    /// Every layer's input size is inferred; errors name the layer, its text and its input.
    pub fn parse(text: &str, input: &[usize], classes: usize, init: Init) -> Result<Self> {
        let text = match super::gpt::expand(text, classes)? {
            Some(gpt) => gpt,
            None => preset(text, classes).unwrap_or_else(|| text.to_string()),
        };
        let mut shape = vec![BUILD_BATCH];
        shape.extend_from_slice(input);
        let nodes = build_nodes(parse(&text)?, &mut shape, &mut 0)?;
        let spec = Self { nodes, input: input.to_vec(), init, frozen: Vec::new() };
        spec.validate()?;
        Ok(spec)
    }

    /// An MLP over `sizes` (inputs, hidden…, outputs) with `act` (and dropout `p` when > 0)
    /// after every Linear layer but the last: the `mlp` preset.
    pub fn mlp(sizes: &[usize], act: Activation, dropout: f32, init: Init) -> Result<Self> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(model_err(format!("an MLP needs non-zero input and output sizes, got {sizes:?}")));
        }
        if !(0.0..1.0).contains(&dropout) {
            return Err(model_err(format!("dropout probability {dropout} is outside [0, 1)")));
        }
        let mut nodes = Vec::new();
        for (i, pair) in sizes.windows(2).enumerate() {
            nodes.push(Node::Layer(Arc::new(Linear {
                inputs: pair[0],
                outputs: pair[1],
                bias: true,
                tie: None,
                std: None,
            })));
            if i + 2 < sizes.len() {
                nodes.push(Node::Layer(Arc::new(Act(act))));
                if dropout > 0.0 {
                    nodes.push(Node::Layer(Arc::new(Dropout(dropout))));
                }
            }
        }
        let spec = Self { nodes, input: vec![sizes[0]], init, frozen: Vec::new() };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks what a training step needs: an output [batch, outputs] for the losses.
    pub fn check_trainable(&self) -> Result<()> {
        let out = self.output_shape(BUILD_BATCH)?;
        if out.len() != 2 {
            return Err(model_err(format!(
                "the model's output is {}, but the losses need [N, outputs]: end with flatten and linear",
                show(&out)
            )));
        }
        Ok(())
    }

    /// Checks the tree: shapes chain, and layers without an input gradient (Embedding) come first.
    pub fn validate(&self) -> Result<()> {
        self.output_shape(BUILD_BATCH)?;
        for (i, leaf) in self.leaves().iter().enumerate() {
            if i > 0 && !leaf.layer.has_input_grad() {
                return Err(model_err(format!(
                    "`{}` (module {}) must be the model's first layer",
                    leaf.layer.spec(),
                    leaf.path
                )));
            }
        }
        if self.leaves().is_empty() {
            return Err(model_err("the model has no layer".into()));
        }
        // The parameter count fits a usize (a spec such as `gpt(n_embd=1151465054)` overflows
        // it: found by fuzz/model_spec).
        self.layout().map_err(|e| model_err(e.to_string()))?;
        Ok(())
    }

    /// The spec in the spec language (presets expanded).
    pub fn text(&self) -> String {
        text_of(&self.nodes)
    }

    /// The leaves in order with their state_dict paths.
    pub fn leaves(&self) -> Vec<Leaf> {
        let mut out = Vec::new();
        push_leaves(&self.nodes, "", &mut out);
        out
    }

    /// Input values per sample.
    pub fn inputs(&self) -> usize {
        self.input.iter().product()
    }

    /// The output shape for a batch of `batch` samples.
    pub fn output_shape(&self, batch: usize) -> Result<Vec<usize>> {
        let mut shape = vec![batch];
        shape.extend_from_slice(&self.input);
        for leaf in self.leaves() {
            shape = leaf.layer.output_shape(&shape)?;
        }
        Ok(shape)
    }

    /// Output values per sample.
    pub fn outputs(&self) -> usize {
        self.output_shape(BUILD_BATCH).ok().and_then(|s| s.last().copied()).unwrap_or(0)
    }

    /// Parameter names and shapes in `parameters()` order: `0.weight`, `0.bias`, `3.weight`, …
    pub fn param_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.leaves()
            .iter()
            .flat_map(|l| {
                l.layer
                    .params()
                    .into_iter()
                    .map(move |TensorSpec { name, shape }| (format!("{}.{name}", l.path), shape))
            })
            .collect()
    }

    /// Float buffer names, shapes and initial values (`0.running_mean`, …), in order.
    pub fn buffer_specs(&self) -> Vec<(String, Vec<usize>, f32)> {
        self.leaves()
            .iter()
            .flat_map(|l| {
                l.layer.buffers().into_iter().map(move |(t, v)| (format!("{}.{}", l.path, t.name), t.shape, v))
            })
            .collect()
    }

    /// Names of the integer `num_batches_tracked` buffers (one per BatchNorm).
    pub fn batch_counters(&self) -> Vec<String> {
        self.leaves()
            .iter()
            .filter(|l| l.layer.tracks_batches())
            .map(|l| format!("{}.num_batches_tracked", l.path))
            .collect()
    }

    /// The flat-buffer layout of the parameters.
    pub fn layout(&self) -> Result<ParamLayout> {
        let shapes = self.param_shapes();
        if self.frozen.is_empty() {
            return ParamLayout::tied(&shapes, &self.ties());
        }
        let (frozen, trainable): (Vec<_>, Vec<_>) = shapes.into_iter().partition(|(n, _)| self.frozen.contains(n));
        ParamLayout::tied(&[frozen, trainable].concat(), &self.ties())
    }

    /// Freezes the parameters `names` (full names; each must exist, and something must stay
    /// trainable).
    pub fn freeze(&mut self, names: &[String]) -> Result<()> {
        let all = self.param_shapes();
        for n in names {
            if !all.iter().any(|(m, _)| m == n) {
                return Err(model_err(format!("cannot freeze {n:?}: the model has no such parameter")));
            }
        }
        if all.iter().all(|(n, _)| names.contains(n)) {
            return Err(model_err("every parameter would be frozen: nothing would train".into()));
        }
        self.frozen = names.to_vec();
        Ok(())
    }

    /// The trainable parameters: where they start in the flat buffer (elements) and their own
    /// layout (offsets relative to that start), for an optimizer that holds state for them
    /// alone.
    pub fn trainable_layout(&self) -> Result<(usize, ParamLayout)> {
        let full = self.layout()?;
        let trainable: Vec<(String, Vec<usize>)> = full
            .views()
            .iter()
            .filter(|v| !self.frozen.contains(&v.name))
            .map(|v| (v.name.clone(), v.shape.clone()))
            .collect();
        let start = full.views().iter().find(|v| !self.frozen.contains(&v.name)).map_or(full.total(), |v| v.offset);
        Ok((start, ParamLayout::new(&trainable)?))
    }

    /// Tied parameters: (the full name of a parameter that shares storage, the full name of
    /// the one it shares), e.g. (`5.weight`, `0.weight`).
    pub fn ties(&self) -> Vec<(String, String)> {
        self.leaves()
            .iter()
            .flat_map(|l| {
                l.layer.tied_params().into_iter().map(move |(name, target)| (format!("{}.{name}", l.path), target))
            })
            .collect()
    }

    /// Initial parameters drawn from `seed`, layer by layer in order.
    pub fn initial_params(&self, seed: u64) -> Result<Vec<(String, Tensor)>> {
        let mut rng = Rng::new(seed);
        let mut out = Vec::new();
        for leaf in self.leaves() {
            let specs = leaf.layer.params();
            let values = leaf.layer.init_params(self.init, &mut rng);
            for (spec, data) in specs.into_iter().zip(values) {
                out.push((format!("{}.{}", leaf.path, spec.name), Tensor::from_vec(&spec.shape, data)?));
            }
        }
        Ok(out)
    }

    /// Python that builds the equivalent PyTorch module, whose `load_state_dict` takes this
    /// model's checkpoints.
    pub fn torch_code(&self) -> String {
        let mut body = String::new();
        torch_of(&self.nodes, 4, &mut body);
        let mut code = String::from("import torch.nn as nn\n\n");
        if self.text().contains("residual(") {
            code.push_str(
                "class Residual(nn.Module):\n    def __init__(self, *layers):\n        super().__init__()\n        \
                 self.body = nn.Sequential(*layers)\n\n    def forward(self, x):\n        return x + self.body(x)\n\n",
            );
        }
        code.push_str(&format!("model = nn.Sequential(\n{body})\n"));
        code
    }

    /// Bytes the model needs for `batch_rows` rows, estimated in f64 before anything is
    /// allocated: `copies` f32 copies of its parameters (weights, gradients, optimizer state,
    /// host copies) plus every activation, gradient and scratch tensor of one step plan.
    pub fn memory_bytes(&self, batch_rows: usize, copies: f64) -> f64 {
        let numel = |s: &[usize]| s.iter().map(|&d| d as f64).product::<f64>();
        let params: f64 = self.param_shapes().iter().map(|(_, s)| numel(s)).sum();
        let mut shape = vec![batch_rows];
        shape.extend_from_slice(&self.input);
        let mut acts = 0.0;
        for leaf in self.leaves() {
            let scratch = leaf.layer.scratch(&shape, false).unwrap_or_default();
            acts += scratch.iter().map(|s| numel(s)).sum::<f64>();
            match leaf.layer.output_shape(&shape) {
                Ok(out) => shape = out,
                Err(_) => break,
            }
            acts += 2.0 * numel(&shape);
        }
        4.0 * (copies * params + acts)
    }

    /// Elements of the largest tensor a step plan holds, per row of the batch (activations,
    /// gradients and scratch such as im2col's columns all grow with the batch): what bounds the
    /// batch a device's storage-binding limit allows.
    pub fn largest_tensor_per_row(&self) -> usize {
        let mut shape = vec![1];
        shape.extend_from_slice(&self.input);
        let mut largest: usize = shape.iter().product();
        for leaf in self.leaves() {
            for s in leaf.layer.scratch(&shape, false).unwrap_or_default() {
                largest = largest.max(s.iter().product());
            }
            match leaf.layer.output_shape(&shape) {
                Ok(out) => shape = out,
                Err(_) => break,
            }
            largest = largest.max(shape.iter().product());
        }
        largest
    }

    /// Fails when the first layer cannot take these input values (Embedding: indices).
    pub fn check_inputs(&self, values: &[f32]) -> Result<()> {
        match self.leaves().first() {
            Some(first) => first.layer.check_input(values),
            None => Ok(()),
        }
    }

    /// Fails when a training batch of `batch` rows gives a BatchNorm one value per channel
    /// (PyTorch's "Expected more than 1 value per channel when training"), naming the layer.
    pub fn check_train_batch(&self, batch: usize) -> Result<()> {
        let mut shape = vec![batch];
        shape.extend_from_slice(&self.input);
        for leaf in self.leaves() {
            if leaf.layer.tracks_batches() {
                crate::ops::norm::batch_norm_dims(&shape, true).map_err(|_| {
                    model_err(format!(
                        "`{}` (module {}) would see one value per channel in a training batch of {batch} row(s) \
                         (input {shape:?}); batch statistics need at least 2: change batch_size so no batch has \
                         a single row",
                        leaf.layer.spec(),
                        leaf.path
                    ))
                })?;
            }
            shape = leaf.layer.output_shape(&shape)?;
        }
        Ok(())
    }
}
