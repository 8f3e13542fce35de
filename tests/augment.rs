//! Augmentation of training images (`--augment "crop(4) hflip translate(2)"`): what each
//! transform does to a known image on the CPU path, the same key giving the same batch and
//! another key another one, the GPU path giving the same bits (DOWNHILL_REQUIRE_GPU makes a
//! missing adapter a failure), and the CLI refusing what cannot work.

mod common;

use common::own_gpu;
use downhill::ops::augment::{augment, cpu::draw, Augment, AugmentParams};
use downhill::{Backend, CpuBackend, Tensor};

/// A batch of `rows` one-channel 4×5 images whose pixel values say where they are:
/// row·100 + y·10 + x + 1 (never 0, so a zero-filled pixel shows).
fn numbered(rows: usize) -> Tensor {
    let v = (0..rows).flat_map(|r| (0..4).flat_map(move |y| (0..5).map(move |x| (r * 100 + y * 10 + x + 1) as f32)));
    Tensor::from_vec(&[rows, 20], v.collect()).unwrap()
}

fn run<B: Backend>(be: &B, x: &Tensor, aug: &Augment, key: u32, image: [usize; 3]) -> Vec<f32> {
    run_filled(be, x, aug, key, image, &vec![0.0; image.iter().product()])
}

/// As `run`, padding with `fill` (one value per position of the image).
fn run_filled<B: Backend>(be: &B, x: &Tensor, aug: &Augment, key: u32, image: [usize; 3], fill: &[f32]) -> Vec<f32> {
    let xd = be.upload(x).unwrap();
    let fill = be.upload(&Tensor::from_vec(&[fill.len()], fill.to_vec()).unwrap()).unwrap();
    let mut out = be.zeros(x.shape()).unwrap();
    augment(be, &mut out, &xd, &fill, image, aug, key).unwrap();
    be.read(&out).unwrap().data().to_vec()
}

/// A fill whose values say where they are: −(c·100 + y·10 + x + 1).
fn numbered_fill(image: [usize; 3]) -> Vec<f32> {
    let [c, h, w] = image;
    (0..c * h * w).map(|i| -((i / (h * w) * 100 + (i % (h * w)) / w * 10 + i % w + 1) as f32)).collect()
}

#[test]
fn padding_takes_the_fill_of_the_position_it_lands_on() {
    let (rows, image) = (64, [1, 4, 5]);
    let x = numbered(rows);
    let aug = Augment { crop: 2, translate: 1, hflip: true };
    let key = downhill::rng::dropout_key(7, 3);
    let zero = run(&CpuBackend::new(), &x, &aug, key, image);
    let fill = numbered_fill(image);
    let filled = run_filled(&CpuBackend::new(), &x, &aug, key, image, &fill);
    let mut padded = 0;
    for (i, (&z, &f)) in zero.iter().zip(&filled).enumerate() {
        if z == 0.0 {
            assert_eq!(f, fill[i % 20], "element {i}: outside the image it is the fill at its own position");
            padded += 1;
        } else {
            assert_eq!(f, z, "element {i}: inside the image nothing changes");
        }
    }
    assert!(padded > 100, "crop 2 + translate 1 pads many pixels: {padded}");
    // A malformed fill is refused, naming it.
    let be = CpuBackend::new();
    let (xd, short) = (be.upload(&x).unwrap(), be.zeros(&[19]).unwrap());
    let mut out = be.zeros(x.shape()).unwrap();
    let e = augment(&be, &mut out, &xd, &short, image, &aug, key).unwrap_err().to_string();
    assert!(e.contains("fill has 19 values"), "{e}");
}

#[test]
fn each_row_is_flipped_and_shifted_as_its_draw_says_with_zeros_outside() {
    let rows = 64;
    let x = numbered(rows);
    let aug = Augment { crop: 2, translate: 1, hflip: true };
    let key = downhill::rng::dropout_key(7, 3);
    let got = run(&CpuBackend::new(), &x, &aug, key, [1, 4, 5]);
    let p =
        AugmentParams { n: (rows * 20) as u32, channels: 1, height: 4, width: 5, key, crop: 2, translate: 1, flip: 1 };
    let (mut flips, mut shifted) = (0, 0);
    for r in 0..rows {
        let (flipped, dy, dx) = draw(r as u32, &p);
        assert!(dy.abs() <= 3 && dx.abs() <= 3, "crop 2 + translate 1: {dy}, {dx}");
        flips += usize::from(flipped);
        shifted += usize::from(dy != 0 || dx != 0);
        for y in 0..4i32 {
            for xx in 0..5i32 {
                let fx = if flipped { 4 - xx } else { xx };
                let (sy, sx) = (y + dy, fx + dx);
                let want = if (0..4).contains(&sy) && (0..5).contains(&sx) {
                    (r as i32 * 100 + sy * 10 + sx + 1) as f32
                } else {
                    0.0
                };
                assert_eq!(got[r * 20 + (y * 5 + xx) as usize], want, "row {r} ({flipped}, {dy}, {dx}) at {y},{xx}");
            }
        }
    }
    assert!((16..=48).contains(&flips), "about half of 64 rows flip: {flips}");
    assert!(shifted > 40, "most rows move: {shifted}");
    // The same key draws the same batch; another key another one; nothing on: the identity.
    assert_eq!(run(&CpuBackend::new(), &x, &aug, key, [1, 4, 5]), got);
    assert_ne!(run(&CpuBackend::new(), &x, &aug, key ^ 1, [1, 4, 5]), got);
    assert_eq!(run(&CpuBackend::new(), &x, &Augment::default(), key, [1, 4, 5]), x.data());
}

#[test]
fn the_gpu_path_augments_the_same_bits() {
    let Some(gpu) = own_gpu() else { return };
    let x = numbered(9);
    for (aug, image) in [
        (Augment { crop: 2, translate: 1, hflip: true }, [1, 4, 5]),
        (Augment { crop: 0, translate: 0, hflip: true }, [1, 4, 5]),
        (Augment { crop: 3, translate: 0, hflip: false }, [2, 2, 5]),
    ] {
        let key = downhill::rng::dropout_key(11, 4);
        assert_eq!(run(&gpu, &x, &aug, key, image), run(&CpuBackend::new(), &x, &aug, key, image), "{aug:?} {image:?}");
        let fill = numbered_fill(image);
        assert_eq!(
            run_filled(&gpu, &x, &aug, key, image, &fill),
            run_filled(&CpuBackend::new(), &x, &aug, key, image, &fill),
            "{aug:?} {image:?} with a fill"
        );
    }
}

#[test]
fn the_cli_trains_with_augmentation_and_refuses_what_cannot_work() {
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_downhill"))
            .args(args)
            .env("DOWNHILL_DEVICE", "cpu")
            .output()
            .unwrap();
        (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let out = std::env::temp_dir().join(format!("downhill-augment-{}", std::process::id()));
    let o = out.to_str().unwrap();
    let (ok, err) = run(&[
        "train",
        "--model",
        "lenet5",
        "--augment",
        "crop(2) hflip",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        o,
        "--overwrite",
    ]);
    assert!(ok, "{err}");
    let ckpt = downhill::checkpoint::Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap();
    assert_eq!(ckpt.meta.config.augment, "crop(2) hflip");
    let (ok, err) = run(&["train", "--augment", "hflip", "--epochs", "1", "--quiet", "--out", o, "--overwrite"]);
    assert!(!ok && err.contains("transforms images") && err.contains("[784]"), "an mlp takes flat rows: {err}");
    let (ok, err) = run(&["train", "--model", "lenet5", "--augment", "hflp", "--out", o, "--overwrite"]);
    assert!(!ok && err.contains("did you mean hflip"), "{err}");
    let (ok, err) = run(&["train", "--model", "lenet5", "--augment", "crop(100)", "--out", o, "--overwrite"]);
    assert!(!ok && err.contains("from 1 to 64"), "{err}");
    let _ = std::fs::remove_dir_all(&out);
}
