//! The explorer's runs (`explore::run`): every step of a trajectory is one step of the
//! engine's optimizer on the surface's gradient, checked against the torch.optim update rules
//! written out in f64 here (the oracle README's formulas); rates per start equal separate
//! runs; sane settings reach the known minima; basin maps classify where starts end; and the
//! GPU path agrees with the CPU path.

mod common;

use common::gpu;
use downhill::explore::run::{basin_map, trajectories, RunSpec, CLASS_DIVERGED};
use downhill::explore::Surface;
use downhill::ops::surface::cpu::value_grad;
use downhill::optim::{AdagradConfig, AdamConfig, LionConfig, OptimizerConfig, RmspropConfig, SgdConfig};
use downhill::schedule::Schedule;
use downhill::{Backend, CpuBackend};

fn spec(surface: &str, optimizer: OptimizerConfig, steps: usize) -> RunSpec {
    RunSpec { surface: Surface::new(surface, None, None).unwrap(), optimizer, schedule: Schedule::Constant, steps }
}

/// torch.optim's update rules in f64, applied to each point of the engine's trajectory in turn
/// (so rounding is not amplified along a chaotic path): returns the point each step should
/// reach from the engine's previous point, with the optimizer's state carried in f64.
fn reference_steps(spec: &RunSpec, path: &[[f32; 2]]) -> Vec<[f64; 2]> {
    let s = &spec.surface;
    let (a, b) = (s.condition, s.rotation);
    let mut m = [0.0f64; 2];
    let mut v = [0.0f64; 2];
    let mut out = Vec::new();
    for t in 1..path.len() {
        let mut p = [path[t - 1][0] as f64, path[t - 1][1] as f64];
        let (_, gx, gy) = value_grad(s.info.kind, a, b, p[0], p[1]);
        let g = [gx, gy];
        let tf = t as f64;
        for i in 0..2 {
            match spec.optimizer {
                OptimizerConfig::Sgd(c) => {
                    let mut d = g[i] + c.weight_decay * p[i];
                    if c.momentum != 0.0 {
                        m[i] = if t == 1 { d } else { c.momentum * m[i] + (1.0 - c.dampening) * d };
                        d = if c.nesterov { d + c.momentum * m[i] } else { m[i] };
                    }
                    p[i] -= c.lr * d;
                }
                OptimizerConfig::Adam(c) => {
                    let (b1, b2) = c.betas;
                    let mut d = g[i];
                    if c.decoupled_weight_decay {
                        p[i] *= 1.0 - c.lr * c.weight_decay;
                    } else {
                        d += c.weight_decay * p[i];
                    }
                    m[i] = b1 * m[i] + (1.0 - b1) * d;
                    v[i] = b2 * v[i] + (1.0 - b2) * d * d;
                    let mh = m[i] / (1.0 - b1.powf(tf));
                    let vh = v[i] / (1.0 - b2.powf(tf));
                    p[i] -= c.lr * mh / (vh.sqrt() + c.eps);
                }
                OptimizerConfig::Rmsprop(c) => {
                    v[i] = c.alpha * v[i] + (1.0 - c.alpha) * g[i] * g[i];
                    p[i] -= c.lr * g[i] / (v[i].sqrt() + c.eps);
                }
                OptimizerConfig::Adagrad(c) => {
                    v[i] += g[i] * g[i];
                    p[i] -= c.lr * g[i] / (v[i].sqrt() + c.eps);
                }
                OptimizerConfig::Lion(c) => {
                    let (b1, b2) = c.betas;
                    let u = b1 * m[i] + (1.0 - b1) * g[i];
                    p[i] = p[i] * (1.0 - c.lr * c.weight_decay) - c.lr * u.signum() * (u != 0.0) as i32 as f64;
                    m[i] = b2 * m[i] + (1.0 - b2) * g[i];
                }
                other => panic!("no reference for {other:?}"),
            }
        }
        out.push(p);
    }
    out
}

fn optimizers() -> Vec<(&'static str, OptimizerConfig)> {
    vec![
        ("sgd", OptimizerConfig::Sgd(SgdConfig { lr: 0.02, ..Default::default() })),
        ("momentum", OptimizerConfig::Sgd(SgdConfig { lr: 0.02, momentum: 0.9, ..Default::default() })),
        ("nesterov", OptimizerConfig::Sgd(SgdConfig { lr: 0.02, momentum: 0.9, nesterov: true, ..Default::default() })),
        ("adam", OptimizerConfig::Adam(AdamConfig { lr: 0.05, ..Default::default() })),
        ("adamw", OptimizerConfig::Adam(AdamConfig { lr: 0.05, weight_decay: 0.1, ..AdamConfig::adamw() })),
        ("rmsprop", OptimizerConfig::Rmsprop(RmspropConfig { lr: 0.01, ..Default::default() })),
        ("adagrad", OptimizerConfig::Adagrad(AdagradConfig { lr: 0.3, ..Default::default() })),
        ("lion", OptimizerConfig::Lion(LionConfig { lr: 0.01, weight_decay: 0.1, ..Default::default() })),
    ]
}

#[test]
fn every_trajectory_step_is_the_optimizers_step() {
    let be = CpuBackend::new();
    for surface in ["bowl", "himmelblau"] {
        for (name, opt) in optimizers() {
            let spec = spec(surface, opt, 40);
            let start = spec.surface.info.start;
            let got = &trajectories(&be, &spec, &[start], &[opt.lr()]).unwrap()[0];
            assert_eq!(got.points.len(), 41, "{name} on {surface}: 40 steps and the start");
            assert_eq!(got.points[0], [start[0] as f32, start[1] as f32]);
            let want = reference_steps(&spec, &got.points);
            for (t, (g, w)) in got.points[1..].iter().zip(&want).enumerate() {
                for i in 0..2 {
                    let err = (g[i] as f64 - w[i]).abs();
                    assert!(
                        err <= 1e-4 + 1e-4 * w[i].abs(),
                        "{name} on {surface}, step {t}: {g:?} vs torch's rule {w:?}"
                    );
                }
            }
            let (f, gx, gy) = value_grad(spec.surface.info.kind, 10.0f32, 30.0, got.points[7][0], got.points[7][1]);
            if surface == "bowl" {
                assert_eq!(got.losses[7], f, "{name}: the loss is f at the point");
                assert_eq!(got.grad_norms[7], (gx * gx + gy * gy).sqrt());
            }
        }
    }
}

#[test]
fn a_rate_per_start_equals_separate_runs() {
    let be = CpuBackend::new();
    let spec = spec("rosenbrock", optimizers()[3].1, 60);
    let starts = [[-1.5, 2.5], [0.5, -0.5], [1.8, 2.9]];
    let lrs = [0.003, 0.03, 0.3];
    let together = trajectories(&be, &spec, &starts, &lrs).unwrap();
    for i in 0..3 {
        let mut alone = spec.clone();
        alone.optimizer.set_lr(lrs[i]);
        let one = trajectories(&be, &alone, &starts[i..i + 1], &lrs[i..i + 1]).unwrap();
        assert_eq!(together[i], one[0], "start {i}: its own group equals its own run, bit for bit");
    }
}

/// (surface, optimizer, steps, minimum index): settings a textbook would call sane.
fn sane_runs() -> Vec<(&'static str, OptimizerConfig, usize, usize)> {
    let sgd = |lr| OptimizerConfig::Sgd(SgdConfig { lr, ..Default::default() });
    let momentum = |lr| OptimizerConfig::Sgd(SgdConfig { lr, momentum: 0.9, ..Default::default() });
    let adam = |lr| OptimizerConfig::Adam(AdamConfig { lr, ..Default::default() });
    vec![
        ("bowl", momentum(0.05), 300, 0),
        ("bowl", adam(0.05), 400, 0),
        ("rosenbrock", adam(0.02), 3000, 0),
        ("himmelblau", sgd(0.01), 300, 0),
        ("beale", adam(0.01), 3000, 0),
        ("camel", sgd(0.01), 500, 4),
        ("camel", momentum(0.01), 500, 1),
        ("saddle", sgd(0.05), 300, 0),
        ("plateau", adam(0.1), 300, 0),
        ("two-basin", sgd(0.02), 500, 1),
        ("two-basin", momentum(0.02), 500, 0),
    ]
}

#[test]
fn sane_settings_reach_the_known_minima() {
    let be = CpuBackend::new();
    for (surface, opt, steps, which) in sane_runs() {
        let spec = spec(surface, opt, steps);
        let t = &trajectories(&be, &spec, &[spec.surface.info.start], &[opt.lr()]).unwrap()[0];
        let end = t.points.last().unwrap();
        let m = spec.surface.minima()[which];
        let dist = (end[0] as f64 - m.at[0]).hypot(end[1] as f64 - m.at[1]);
        assert!(dist < 1e-2, "{surface} with {opt:?}: ended at {end:?}, {dist} from the minimum at {:?}", m.at);
        assert!(t.diverged_at.is_none());
    }
}

#[test]
fn too_large_a_rate_diverges_and_says_when() {
    let be = CpuBackend::new();
    let spec = spec("rosenbrock", OptimizerConfig::Sgd(SgdConfig { lr: 0.01, ..Default::default() }), 200);
    let t = &trajectories(&be, &spec, &[[-1.5, 2.5]], &[0.01]).unwrap()[0];
    let at = t.diverged_at.expect("SGD at 0.01 from (−1.5, 2.5) on Rosenbrock overflows");
    assert!(at > 0 && at < 200 && t.points.len() == at, "stops before the first bad row ({at})");
    assert!(t.points.iter().all(|p| p[0].is_finite() && p[1].is_finite()));
}

#[test]
fn basin_map_of_two_basins_splits_the_plane_and_marks_divergence() {
    let be = CpuBackend::new();
    let sgd = |lr| OptimizerConfig::Sgd(SgdConfig { lr, ..Default::default() });
    let map = basin_map(&be, &spec("two-basin", sgd(0.05), 400), 16).unwrap();
    assert_eq!(map.classes.len(), 256);
    for row in 0..16 {
        // Columns are x from −2 to 2; the ridge between the basins is at x ≈ 0.075.
        assert!(map.classes[row * 16..row * 16 + 8].iter().all(|&c| c == 0), "row {row}: left half → global");
        assert!(map.classes[row * 16 + 9..row * 16 + 16].iter().all(|&c| c == 1), "row {row}: right half → local");
    }
    assert!(map.throughput(400) > 0.0);
    let wild = basin_map(&be, &spec("two-basin", sgd(0.9), 50), 8).unwrap();
    assert!(wild.classes.iter().filter(|&&c| c == CLASS_DIVERGED).count() > 32, "lr 0.9 overshoots the quartic walls");
    assert!(wild.final_loss.iter().zip(&wild.classes).all(|(f, &c)| f.is_nan() == (c == CLASS_DIVERGED)));
}

/// Runs every optimizer from several starts and a basin map on `be`.
fn runs_on<B: Backend>(be: &B) -> (Vec<Vec<[f32; 2]>>, Vec<u8>) {
    let mut points = Vec::new();
    for (_, opt) in optimizers() {
        let spec = spec("himmelblau", opt, 30);
        let starts = [[0.0, 0.0], [-1.0, 4.0]];
        for t in trajectories(be, &spec, &starts, &[opt.lr(), opt.lr() / 2.0]).unwrap() {
            points.push(t.points);
        }
    }
    let map = basin_map(be, &spec("himmelblau", optimizers()[1].1, 100), 12).unwrap();
    (points, map.classes)
}

#[test]
fn gpu_runs_match_the_cpu_path() {
    let Some(g) = gpu() else { return };
    let (want, want_classes) = runs_on(&CpuBackend::new());
    let (got, got_classes) = runs_on(g);
    for (i, (w, gt)) in want.iter().zip(&got).enumerate() {
        assert_eq!(w.len(), gt.len(), "run {i}: same length");
        for (t, (a, b)) in w.iter().zip(gt).enumerate() {
            for k in 0..2 {
                assert!((a[k] - b[k]).abs() <= 1e-3 + 1e-3 * a[k].abs(), "run {i} step {t}: cpu {a:?} gpu {b:?}");
            }
        }
    }
    let same = want_classes.iter().zip(&got_classes).filter(|(a, b)| a == b).count();
    assert!(same >= want_classes.len() - 2, "basin map: {same} of {} starts classified alike", want_classes.len());
}

#[test]
fn trajectories_refuse_rates_and_starts_that_cannot_be_run() {
    let be = CpuBackend::new();
    let spec = spec("bowl", optimizers()[0].1, 5);
    for (starts, lrs, want) in [
        (vec![[0.5, 0.5], [1.0, 1.0]], vec![0.1, 0.0], "learning rate 0"),
        (vec![[0.5, 0.5]], vec![f64::NAN], "learning rate NaN"),
        (vec![[f64::INFINITY, 0.5]], vec![0.1], "start 0"),
        (vec![[0.5, 0.5]], vec![0.1, 0.2], "one rate per start"),
    ] {
        let err = trajectories(&be, &spec, &starts, &lrs).unwrap_err().to_string();
        assert!(err.contains(want), "expected {want:?} in {err:?}");
    }
}
