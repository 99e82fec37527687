//! The six workloads, one file each with the metrics it reports, and the one
//! list of them that `--only` and the driver read.

mod b1_responsiveness;
mod b2_acceptance;
mod b3_dispatch;
mod b4_memory;
mod b5_restart;
mod b6_batch;

use crate::bench::Workload;

/// Every workload, B1 .. B6.
pub(crate) const WORKLOADS: [Workload; 6] = [
    b1_responsiveness::WORKLOAD,
    b2_acceptance::WORKLOAD,
    b3_dispatch::WORKLOAD,
    b4_memory::WORKLOAD,
    b5_restart::WORKLOAD,
    b6_batch::WORKLOAD,
];
