//! Bad input gets an error that names the op and every shape involved, on both paths; nothing
//! panics, and a tensor over the adapter's binding limit is refused before any allocation.

mod common;

use common::gpu;
use downhill::device::{open, DeviceRequest};
use downhill::ops::elementwise;
use downhill::ops::loss;
use downhill::ops::matmul;
use downhill::ops::reduce;
use downhill::ops::softmax;
use downhill::{Activation, Backend, CpuBackend, Error, MatmulForm, Tensor};

/// Runs every bad call on `be` and checks each message.
fn bad_calls_are_refused<B: Backend>(be: &B) {
    let z = |s: &[usize]| be.zeros(s).unwrap();
    let expect = |r: downhill::Result<()>, needles: &[&str]| {
        let e = r.expect_err("a bad call must fail");
        let msg = e.to_string();
        for n in needles {
            assert!(msg.contains(n), "error {msg:?} should mention {n:?}");
        }
    };

    // matmul: inner dimensions differ; out of the wrong shape; a vector where a matrix goes.
    expect(
        matmul::matmul(be, MatmulForm::Nt, &mut z(&[4, 3]), &z(&[4, 5]), &z(&[3, 6]), false),
        &["matmul_nt", "[4, 5]", "[3, 6]"],
    );
    expect(
        matmul::matmul(be, MatmulForm::Nn, &mut z(&[4, 2]), &z(&[4, 5]), &z(&[5, 3]), false),
        &["matmul_nn", "[4, 3]", "[4, 2]"],
    );
    expect(
        matmul::matmul(be, MatmulForm::Tn, &mut z(&[5, 3]), &z(&[4, 5]), &z(&[7, 3]), false),
        &["matmul_tn", "[4, 5]", "[7, 3]"],
    );
    expect(matmul::matmul(be, MatmulForm::Nt, &mut z(&[4, 3]), &z(&[20]), &z(&[3, 5]), false), &["matmul_nt", "[20]"]);

    expect(elementwise::bias_add(be, &mut z(&[4, 3]), &z(&[4])), &["bias_add", "[3]", "[4]"]);
    expect(reduce::column_sum(be, &mut z(&[4]), &z(&[2, 3]), false), &["column_sum", "[3]", "[4]"]);
    expect(elementwise::bias_add(be, &mut z(&[2, 3, 4]), &z(&[4])), &["bias_add", "[2, 3, 4]"]);
    expect(
        elementwise::activation_forward(be, Activation::Relu, &mut z(&[2, 3]), &z(&[3, 2])),
        &["activation_forward", "[2, 3]", "[3, 2]"],
    );
    expect(
        elementwise::activation_backward(be, Activation::Silu, &mut z(&[2, 3]), &z(&[2, 3]), &z(&[6])),
        &["activation_backward", "[6]"],
    );
    expect(softmax::softmax_backward(be, &mut z(&[2, 3]), &z(&[2, 3]), &z(&[2, 4])), &["softmax_backward", "[2, 4]"]);
    expect(loss::mse_loss(be, &mut z(&[1]), &mut z(&[2, 3]), &z(&[2, 3]), &z(&[3, 2])), &["mse_loss", "[3, 2]"]);
    expect(loss::mse_loss(be, &mut z(&[2]), &mut z(&[2, 3]), &z(&[2, 3]), &z(&[2, 3])), &["mse_loss", "one element"]);
    expect(loss::mse_loss(be, &mut z(&[1]), &mut z(&[0, 3]), &z(&[0, 3]), &z(&[0, 3])), &["mse_loss", "empty"]);
    expect(
        loss::bce_with_logits_loss(be, &mut z(&[1]), &mut z(&[2, 3]), &z(&[2, 3]), &z(&[2])),
        &["bce_with_logits_loss"],
    );
    let labels = be.upload_labels(&[0, 1, 2], 3).unwrap();
    expect(
        loss::cross_entropy_loss(be, &mut z(&[1]), &mut z(&[2, 3]), &z(&[2, 3]), &labels),
        &["cross_entropy_loss", "3 labels"],
    );
    expect(reduce::sum(be, &mut z(&[2]), &z(&[5])), &["sum", "[2]"]);
    expect(elementwise::axpy(be, &mut z(&[5]), 1.0, &z(&[4])), &["axpy", "[5]", "[4]"]);
    expect(elementwise::copy(be, &mut z(&[5]), &z(&[1, 5])), &["copy", "[5]", "[1, 5]"]);
    expect(be.write(&mut z(&[5]), &Tensor::zeros(&[6])), &["write", "[5]", "[6]"]);

    // Views: out of range; an output that shares its buffer with an input.
    let flat = z(&[256]);
    assert!(be.view(&flat, 192, &[65]).err().expect("past the end").to_string().contains("ends past"));
    let mut first = be.view(&flat, 0, &[8]).unwrap();
    let second = be.view(&flat, 64, &[8]).unwrap();
    expect(elementwise::copy(be, &mut first, &second), &["copy", "shares its buffer"]);
    expect(
        elementwise::activation_forward(be, Activation::Tanh, &mut first, &second),
        &["activation_forward", "shares its buffer"],
    );

    let e = be.upload_labels(&[0, 2, 9, 1], 3).err().expect("label 9 of 3 classes must be refused");
    assert!(e.to_string().contains("label 9 at index 2"), "{e}");
}

#[test]
fn cpu_path_refuses_bad_calls_with_clear_errors() {
    bad_calls_are_refused(&CpuBackend::new());
}

#[test]
fn gpu_path_refuses_bad_calls_with_clear_errors() {
    let Some(g) = gpu() else { return };
    bad_calls_are_refused(g);
    g.sync().expect("refused calls must record nothing the device rejects");
}

#[test]
fn gpu_views_must_respect_the_device_offset_alignment() {
    let Some(g) = gpu() else { return };
    let align = g.view_alignment();
    let flat = g.zeros(&[4 * align]).unwrap();
    assert!(g.view(&flat, align, &[3]).is_ok());
    if align > 1 {
        let e = g.view(&flat, 1, &[3]).expect_err("a misaligned view must be refused");
        assert!(e.to_string().contains("alignment"), "{e}");
    }
}

#[test]
fn a_tensor_over_the_binding_limit_is_refused_not_allocated() {
    let Some(g) = gpu() else { return };
    let limit = g.adapter().limits.max_storage_buffer_binding_size.min(g.adapter().limits.max_buffer_size);
    let n = (limit / 4 + 1) as usize;
    match g.zeros(&[n]) {
        Err(Error::TooLarge { bytes, limit: l, .. }) => {
            assert_eq!(l, limit);
            assert!(bytes > limit);
        }
        Err(other) => panic!("expected TooLarge, got {other}"),
        Ok(_) => panic!("a {n}-element tensor exceeds the {limit}-byte binding limit and must be refused"),
    }
}

#[test]
fn host_tensor_and_device_requests_are_checked() {
    let e = Tensor::from_vec(&[2, 3], vec![0.0; 5]).unwrap_err();
    assert!(e.to_string().contains("[2, 3] holds 6 elements but 5 were given"), "{e}");
    assert!("".parse::<DeviceRequest>().is_err());
    assert_eq!("CPU".parse::<DeviceRequest>().unwrap(), DeviceRequest::Cpu);
    assert_eq!("1".parse::<DeviceRequest>().unwrap(), DeviceRequest::Index(1));
    match open(&DeviceRequest::Index(999)) {
        Err(e) => assert!(e.to_string().contains("adapter index 999"), "{e}"),
        Ok(_) => panic!("there is no adapter 999"),
    }
    match open(&DeviceRequest::Name("no-such-adapter-xyz".into())) {
        Err(e) => assert!(e.to_string().contains("no-such-adapter-xyz"), "{e}"),
        Ok(_) => panic!("no adapter has that name"),
    }
    let auto = open(&DeviceRequest::Auto).expect("auto never fails: it falls back to the CPU path");
    if matches!(auto.device, downhill::Device::Cpu(_)) {
        assert!(auto.fallback_reason.is_some(), "falling back to the CPU path must say why");
    }
}
