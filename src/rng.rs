//! Seeded host-side randomness (SplitMix64): initialisation, shuffles and dropout keys. The same
//! seed gives the same numbers on every machine and both paths.

/// A SplitMix64 generator: tiny, fast, and good enough for weights and permutations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The current state, for checkpoints; `Rng::new(state)` continues the same stream.
    pub fn state(&self) -> u64 {
        self.state
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }

    /// Standard normal (Box–Muller; one draw per call, the pair's second value discarded).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64(); // (0, 1]: ln is finite
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Uniform integer in [0, n) (n > 0), by rejection, so it has no modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let r = self.next_u64();
            if r < zone {
                return r % n;
            }
        }
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// The 32-bit integer hash both paths use for dropout masks (lowbias32 by Chris Wellons);
/// `shaders/dropout.wgsl` has the same function.
pub fn hash32(x: u32) -> u32 {
    let mut h = x;
    h ^= h >> 16;
    h = h.wrapping_mul(0x7feb_352d);
    h ^= h >> 15;
    h = h.wrapping_mul(0x846c_a68b);
    h ^= h >> 16;
    h
}

/// The per-call dropout key from a seed and a call counter (computed on the host for both paths).
pub fn dropout_key(seed: u64, counter: u64) -> u32 {
    let lo = seed as u32;
    let hi = (seed >> 32) as u32;
    hash32(lo ^ hash32(hi ^ hash32(counter as u32 ^ hash32((counter >> 32) as u32))))
}

/// A dropout key as the f32 whose bits it is: how keys travel in a tensor to
/// `ops::dropout::dropout_forward` (both paths read the bits back unchanged).
pub fn key_bits(key: u32) -> f32 {
    f32::from_bits(key)
}
