//! Which rows each replica trains and evaluates on.

use crate::error::{Error, Result};

/// How one epoch of `rows` training rows splits over `world` replicas, as PyTorch's
/// `DistributedSampler(drop_last=False)`: the epoch's permutation (the same on every replica,
/// from the run's seed) is padded by repeating its first rows until its length divides by
/// `world`, and replica `r` takes positions `r, r + world, r + 2·world, …`. So step `k` of every
/// replica together covers positions `k·b·world .. (k+1)·b·world` of the padded permutation:
/// the rows one replica with batch `b·world` would take at step `k`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardPlan {
    /// Training rows.
    pub rows: usize,
    /// Replicas.
    pub world: usize,
}

impl ShardPlan {
    /// The plan, refused when there are more replicas than rows.
    pub fn new(rows: usize, world: usize) -> Result<Self> {
        if world == 0 || world > rows {
            return Err(Error::InvalidArgument {
                what: "ranks".into(),
                detail: format!(
                    "{world} replicas for {rows} training rows: every replica needs at least one row of its own; use \
                     at most {rows} ranks or more data"
                ),
            });
        }
        Ok(Self { rows, world })
    }

    /// Rows each replica trains on per epoch (`ceil(rows / world)`).
    pub fn rows_per_replica(&self) -> usize {
        self.rows.div_ceil(self.world)
    }

    /// Rows repeated to even out the shards (0 when `world` divides `rows`).
    pub fn padding(&self) -> usize {
        self.rows_per_replica() * self.world - self.rows
    }
}

/// Replica `rank`'s shard of an epoch's permutation `order` under `plan`.
pub fn shard_order(order: &[usize], plan: ShardPlan, rank: usize) -> Vec<usize> {
    if plan.world == 1 {
        return order.to_vec();
    }
    let total = plan.rows_per_replica() * plan.world;
    let padded = order.iter().cycle().take(total);
    padded.skip(rank).step_by(plan.world).copied().collect()
}

/// The rows of an evaluation set of `rows` rows that replica `rank` of `world` evaluates:
/// `rank, rank + world, …` with no padding (each row once; the sums are reduced).
pub fn eval_rows(rows: usize, rank: usize, world: usize) -> Vec<usize> {
    (rank..rows).step_by(world.max(1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_what_one_replica_with_the_whole_batch_takes() {
        let order: Vec<usize> = (0..10).rev().collect();
        let plan = ShardPlan::new(10, 3).unwrap();
        assert_eq!((plan.rows_per_replica(), plan.padding()), (4, 2));
        let shards: Vec<Vec<usize>> = (0..3).map(|r| shard_order(&order, plan, r)).collect();
        assert_eq!(shards[0], vec![9, 6, 3, 0]);
        assert_eq!(shards[1], vec![8, 5, 2, 9]);
        assert_eq!(shards[2], vec![7, 4, 1, 8]);
        // Batch 2 per replica: step 0 together is the padded permutation's first 6 positions.
        let mut step0: Vec<usize> = shards.iter().flat_map(|s| s[..2].to_vec()).collect();
        step0.sort();
        let mut want = order[..6].to_vec();
        want.sort();
        assert_eq!(step0, want);
        assert!(ShardPlan::new(2, 3).is_err());
        assert_eq!(eval_rows(7, 1, 3), vec![1, 4]);
    }
}
