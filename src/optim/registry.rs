//! The one place optimizer names map to configurations: the CLI's and TOML's names, the
//! settings each takes, PyTorch's class names (for the oracle tests and anyone porting a torch
//! script), and how each is built from a run's settings or torch's constructor arguments.

use super::{
    adafactor, adagrad, adam, adamax, lamb, lion, muon, nadam, radam, rmsprop, schedule_free, sgd, sophia,
    OptimizerConfig,
};
use crate::error::{Error, Result};
use serde_json::Value;

/// The optimizer settings a run gives; None takes the optimizer's own default.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Settings {
    /// Learning rate.
    pub lr: Option<f64>,
    /// SGD / RMSprop momentum.
    pub momentum: Option<f64>,
    /// Weight decay.
    pub weight_decay: Option<f64>,
    /// β1.
    pub beta1: Option<f64>,
    /// β2.
    pub beta2: Option<f64>,
    /// ε.
    pub eps: Option<f64>,
    /// SGD's Nesterov momentum.
    pub nesterov: bool,
    /// Sophia-G's ρ.
    pub rho: Option<f64>,
    /// Sophia-G's k: optimizer steps between Hessian estimates.
    pub hessian_interval: Option<u64>,
}

/// One optimizer as users name it.
pub struct OptimizerEntry {
    /// The name in the CLI and TOML (`adamw`).
    pub name: &'static str,
    /// PyTorch's class (`AdamW`; lion-pytorch's `Lion`).
    pub torch: &'static str,
    /// The [`Settings`] fields it takes (others are refused).
    pub takes: &'static [&'static str],
    /// Builds it from a run's settings.
    pub from_settings: fn(&Settings) -> OptimizerConfig,
    /// Builds it from PyTorch's constructor arguments (every one given).
    pub from_torch: fn(&Value) -> Result<OptimizerConfig>,
}

const ADAM_LIKE: &[&str] = &["lr", "beta1", "beta2", "eps", "weight_decay"];

/// Every optimizer, in the order the docs list them.
pub const OPTIMIZERS: &[OptimizerEntry] = &[
    OptimizerEntry {
        name: "sgd",
        torch: "SGD",
        takes: &["lr", "momentum", "weight_decay", "nesterov"],
        from_settings: sgd::from_settings,
        from_torch: sgd::from_torch,
    },
    OptimizerEntry {
        name: "adam",
        torch: "Adam",
        takes: ADAM_LIKE,
        from_settings: adam::adam_from_settings,
        from_torch: adam::adam_from_torch,
    },
    OptimizerEntry {
        name: "adamw",
        torch: "AdamW",
        takes: ADAM_LIKE,
        from_settings: adam::adamw_from_settings,
        from_torch: adam::adamw_from_torch,
    },
    OptimizerEntry {
        name: "rmsprop",
        torch: "RMSprop",
        takes: &["lr", "momentum", "eps", "weight_decay"],
        from_settings: rmsprop::from_settings,
        from_torch: rmsprop::from_torch,
    },
    OptimizerEntry {
        name: "adagrad",
        torch: "Adagrad",
        takes: &["lr", "eps", "weight_decay"],
        from_settings: adagrad::from_settings,
        from_torch: adagrad::from_torch,
    },
    OptimizerEntry {
        name: "adamax",
        torch: "Adamax",
        takes: ADAM_LIKE,
        from_settings: adamax::from_settings,
        from_torch: adamax::from_torch,
    },
    OptimizerEntry {
        name: "nadam",
        torch: "NAdam",
        takes: ADAM_LIKE,
        from_settings: nadam::from_settings,
        from_torch: nadam::from_torch,
    },
    OptimizerEntry {
        name: "radam",
        torch: "RAdam",
        takes: ADAM_LIKE,
        from_settings: radam::from_settings,
        from_torch: radam::from_torch,
    },
    OptimizerEntry {
        name: "lion",
        torch: "Lion",
        takes: &["lr", "beta1", "beta2", "weight_decay"],
        from_settings: lion::from_settings,
        from_torch: lion::from_torch,
    },
    OptimizerEntry {
        name: "lamb",
        torch: "Lamb",
        takes: ADAM_LIKE,
        from_settings: lamb::from_settings,
        from_torch: lamb::from_torch,
    },
    OptimizerEntry {
        name: "adamw-schedule-free",
        torch: "AdamWScheduleFree",
        takes: ADAM_LIKE,
        from_settings: schedule_free::from_settings,
        from_torch: schedule_free::from_torch,
    },
    OptimizerEntry {
        name: "sophia",
        torch: "SophiaG",
        takes: &["lr", "beta1", "beta2", "weight_decay", "rho", "hessian_interval"],
        from_settings: sophia::from_settings,
        from_torch: sophia::from_torch,
    },
    OptimizerEntry {
        name: "adafactor",
        torch: "Adafactor",
        takes: &["lr", "weight_decay"],
        from_settings: adafactor::from_settings,
        from_torch: adafactor::from_torch,
    },
    OptimizerEntry {
        name: "muon",
        torch: "Muon",
        takes: &["lr", "momentum", "nesterov", "weight_decay"],
        from_settings: muon::from_settings,
        from_torch: muon::from_torch,
    },
];

/// Every CLI name, comma-separated (for messages and help).
pub fn names() -> String {
    OPTIMIZERS.iter().map(|o| o.name).collect::<Vec<_>>().join(", ")
}

/// The optimizer called `name` in the CLI or TOML, in any letter case (`Adam` is `adam`); an
/// unknown name's error suggests the nearest one.
pub fn find(name: &str) -> Result<&'static OptimizerEntry> {
    let lower = name.to_lowercase();
    OPTIMIZERS.iter().find(|o| o.name == lower).ok_or_else(|| {
        let near = OPTIMIZERS
            .iter()
            .map(|o| o.name)
            .min_by_key(|n| strsim::levenshtein(n, &lower))
            .filter(|n| strsim::levenshtein(n, &lower) <= 3);
        let hint = near.map(|n| format!(" (did you mean {n}?)")).unwrap_or_default();
        Error::InvalidArgument {
            what: "optimizer".into(),
            detail: format!("unknown {name:?}{hint}; expected one of {}", names()),
        }
    })
}

/// The configuration of PyTorch's class `torch_name` with constructor arguments `h`.
pub fn from_torch(torch_name: &str, h: &Value) -> Result<OptimizerConfig> {
    let entry = OPTIMIZERS.iter().find(|o| o.torch == torch_name).ok_or_else(|| Error::InvalidArgument {
        what: "optimizer".into(),
        detail: format!("no optimizer is PyTorch's {torch_name:?}"),
    })?;
    (entry.from_torch)(h)
}

/// Checks the settings a run gives `name`: each one applies to that optimizer and lies in its
/// range (lr, eps > 0; momentum, β in [0, 1); weight decay ≥ 0); the rule checks its own (Nesterov needs momentum) when built.
pub fn check_settings(name: &str, s: &Settings) -> Result<()> {
    let takes = find(name)?.takes;
    let given = [
        ("lr", s.lr),
        ("momentum", s.momentum),
        ("weight_decay", s.weight_decay),
        ("beta1", s.beta1),
        ("beta2", s.beta2),
        ("eps", s.eps),
        ("nesterov", s.nesterov.then_some(1.0)),
        ("rho", s.rho),
        ("hessian_interval", s.hessian_interval.map(|k| k as f64)),
    ];
    for (setting, value) in given {
        if value.is_some() && !takes.contains(&setting) {
            return Err(Error::InvalidArgument {
                what: setting.into(),
                detail: format!(
                    "does not apply to {name} (it takes {}); remove it or choose an optimizer that uses it",
                    takes.join(", ")
                ),
            });
        }
    }
    let range = |setting: &str, value: Option<f64>, ok: fn(f64) -> bool, allowed: &str| match value {
        Some(v) if !(v.is_finite() && ok(v)) => {
            Err(Error::InvalidArgument { what: setting.into(), detail: format!("{v} is out of range: {allowed}") })
        }
        _ => Ok(()),
    };
    range("lr", s.lr, |v| v > 0.0, "a finite number > 0")?;
    range("momentum", s.momentum, |v| (0.0..1.0).contains(&v), "0 ≤ momentum < 1")?;
    range("weight_decay", s.weight_decay, |v| v >= 0.0, "a finite number ≥ 0")?;
    range("beta1", s.beta1, |v| (0.0..1.0).contains(&v), "0 ≤ beta1 < 1")?;
    range("beta2", s.beta2, |v| (0.0..1.0).contains(&v), "0 ≤ beta2 < 1")?;
    range("eps", s.eps, |v| v > 0.0, "a finite number > 0 (at 0, a parameter whose gradient is 0 divides 0 by 0)")?;
    range("rho", s.rho, |v| v > 0.0, "a finite number > 0")?;
    range(
        "hessian_interval",
        s.hessian_interval.map(|k| k as f64),
        |v| v >= 1.0,
        "at least 1 (an estimate every k steps)",
    )?;
    Ok(())
}

/// The optimizer `name` with `settings` (checked by [`check_settings`]); what they leave out
/// takes the optimizer's own default.
pub fn build(name: &str, settings: &Settings) -> Result<OptimizerConfig> {
    check_settings(name, settings)?;
    let config = (find(name)?.from_settings)(settings);
    config.rule().validate()?;
    Ok(config)
}

fn missing(key: &str) -> Error {
    Error::InvalidArgument { what: "optimizer arguments".into(), detail: format!("{key} is missing or not a number") }
}

/// A numeric constructor argument.
pub(crate) fn num(h: &Value, key: &str) -> Result<f64> {
    h[key].as_f64().ok_or_else(|| missing(key))
}

/// A boolean constructor argument.
pub(crate) fn flag_of(h: &Value, key: &str) -> Result<bool> {
    h[key].as_bool().ok_or_else(|| missing(key))
}

/// The `betas` pair.
pub(crate) fn betas(h: &Value) -> Result<(f64, f64)> {
    match (h["betas"][0].as_f64(), h["betas"][1].as_f64()) {
        (Some(b1), Some(b2)) => Ok((b1, b2)),
        _ => Err(missing("betas")),
    }
}
