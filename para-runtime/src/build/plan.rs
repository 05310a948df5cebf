//! The planner: turns a built graph (its [`Spec`]s) into one [`NodePlan`]
//! per node: priority levels, the sources above each node (what `take`
//! stops), ordering regions (which nodes restore order, forward empty
//! batches or track origins), and device lanes.

use crate::api::id::NodeId;
use crate::api::stage::StageMode;
use crate::data::batch::{MAX_PATH_BRANCHES, MAX_PATH_DEPTH};
use crate::exec::plan::NodePlan;
use std::collections::BTreeMap;

/// What kind of node a spec describes, for the analysis.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Source,
    Stage(StageMode),
    /// A fold: parallel, and its output is a new origin.
    Fold,
    Device {
        lanes: usize,
        batch: usize,
    },
}

pub(crate) struct Spec {
    pub(crate) label: Option<String>,
    pub(crate) kind: &'static str,
    pub(crate) role: Role,
    pub(crate) upstream: Vec<NodeId>,
    pub(crate) downstream: Vec<NodeId>,
    /// The fan-out branch key of each outgoing edge, in edge order (see
    /// `Port::branches`).
    pub(crate) edge_keys: Vec<Vec<u32>>,
    pub(crate) priority: Option<i32>,
    pub(crate) replicate: Option<usize>,
}

/// Analyses the graph: priority levels, ordering regions, sources above
/// each node.
pub(crate) fn plan(specs: &[Spec], threads: usize) -> Vec<NodePlan> {
    let n = specs.len();
    let labels: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(id, s)| {
            s.label
                .clone()
                .unwrap_or_else(|| format!("{}#{id}", s.kind))
        })
        .collect();
    // Node ids are a topological order: an edge always leads to a node
    // created after its upstream.
    let mut depth = vec![0usize; n];
    let mut sources_above: Vec<Vec<NodeId>> = vec![Vec::new(); n];
    for id in 0..n {
        let spec = &specs[id];
        if spec.role == Role::Source {
            sources_above[id] = vec![NodeId::new(id)];
        }
        for &up in &spec.upstream {
            let up = up.index();
            debug_assert!(up < id);
            depth[id] = depth[id].max(depth[up] + 1);
            let above = sources_above[up].clone();
            sources_above[id].extend(above);
        }
        sources_above[id].sort_unstable();
        sources_above[id].dedup();
    }
    // Priority: an explicit priority first, then downstream and stateful
    // stages before upstream ones, so queues drain and memory stays low.
    let keys: Vec<(i32, usize)> = (0..n)
        .map(|id| {
            let spec = &specs[id];
            let stateful = match spec.role {
                Role::Stage(mode) => mode.is_serial(),
                Role::Device { .. } => true,
                Role::Source | Role::Fold => false,
            };
            (
                spec.priority.unwrap_or(0),
                depth[id] * 2 + stateful as usize,
            )
        })
        .collect();
    let mut distinct = keys.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let mut plans: Vec<NodePlan> = (0..n)
        .map(|id| {
            let spec = &specs[id];
            NodePlan {
                label: labels[id].clone(),
                kind: spec.kind,
                level: distinct.binary_search(&keys[id]).expect("present"),
                downstream: spec.downstream.clone(),
                initial_pending: if spec.role == Role::Source {
                    1
                } else {
                    spec.upstream.len()
                },
                is_source: spec.role == Role::Source,
                replicate: spec.replicate,
                sources_above: sources_above[id].clone(),
                has_partial: matches!(
                    spec.role,
                    Role::Stage(StageMode::Regroup) | Role::Device { .. }
                ),
                lanes: match spec.role {
                    Role::Device { lanes, .. } if threads > 1 => lanes,
                    _ => 0,
                },
                workers: threads,
                ..NodePlan::default()
            }
        })
        .collect();
    plan_ordering(specs, &labels, &mut plans);
    plans
}

/// Which nodes restore order, how many paths reach them from their
/// origin, and which nodes must forward empty batches and origins.
fn plan_ordering(specs: &[Spec], labels: &[String], plans: &mut [NodePlan]) {
    let n = specs.len();
    // For each node, the origins its *output* descends from and the
    // number of distinct paths from each.
    let mut out_origins: Vec<BTreeMap<usize, usize>> = vec![BTreeMap::new(); n];
    let mut boundary = vec![false; n];
    for id in 0..n {
        let spec = &specs[id];
        let mut input: BTreeMap<usize, usize> = BTreeMap::new();
        for &up in &spec.upstream {
            let up = up.index();
            for (&origin, &paths) in &out_origins[up] {
                *input.entry(origin).or_default() += paths;
            }
        }
        out_origins[id] = match spec.role {
            Role::Source => {
                boundary[id] = true;
                BTreeMap::from([(id, 1)])
            }
            Role::Stage(StageMode::Ordered) => {
                if input.len() != 1 {
                    let names: Vec<&str> = input.keys().map(|&o| labels[o].as_str()).collect();
                    panic!(
                        "para: ordered stage '{}' can be reached from several sources ({}); \
                         source order is only defined for one source",
                        labels[id],
                        names.join(", ")
                    );
                }
                let (&origin, &paths) = input.iter().next().expect("one origin");
                plans[id].ordered_input = true;
                plans[id].paths = paths;
                boundary[id] = true;
                BTreeMap::from([(origin, 1)])
            }
            Role::Fold => {
                // Its accumulators are new items, in no source's order.
                boundary[id] = true;
                BTreeMap::from([(id, 1)])
            }
            Role::Stage(StageMode::Regroup) => {
                if let [(_, &paths)] = input.iter().collect::<Vec<_>>().as_slice() {
                    plans[id].ordered_input = true;
                    plans[id].paths = paths;
                }
                boundary[id] = true;
                BTreeMap::from([(id, 1)])
            }
            _ => input,
        };
    }
    // Mark each ordered node's region: the nodes between it and the
    // nearest boundary upstream (an origin or another ordered stage).
    // Downstream nodes first: an ordered stage whose output must carry
    // per-item origins (a merging ordered stage further down marked it
    // `track_origin`) needs them on its own input too, or it passes on
    // an identity mapping that a flat-map or unbatch in its region has
    // made wrong, and the merge further down drops items. A regrouping
    // stage starts new origin items, so it needs nothing of the kind.
    for id in (0..n).rev() {
        if !plans[id].ordered_input {
            continue;
        }
        let regroup = specs[id].role == Role::Stage(StageMode::Regroup);
        let merge = plans[id].paths > 1 || (plans[id].track_origin && !regroup);
        let mut stack = specs[id].upstream.clone();
        let mut seen = vec![false; n];
        while let Some(up) = stack.pop() {
            let up = up.index();
            if std::mem::replace(&mut seen[up], true) {
                continue;
            }
            plans[up].forward_empty = true;
            plans[up].track_origin |= merge;
            if !boundary[up] {
                stack.extend(specs[up].upstream.iter().copied());
            }
        }
        if plans[id].paths > 1 {
            check_path_digits(specs, id, labels);
        }
    }
}

/// Paths to an ordered stage that merges several are told apart by one
/// byte per fan-out: check they fit. Paths count from the origin (a
/// source or a regrouping stage): they run on through ordered stages
/// (see `order::merge`), so the walk does too.
fn check_path_digits(specs: &[Spec], ordered: usize, labels: &[String]) {
    fn walk(specs: &[Spec], node: usize, fanouts: u32, worst: &mut (u32, usize)) {
        for &up in &specs[node].upstream {
            let up = up.index();
            let branches = specs[up].downstream.len();
            let fanouts = fanouts + u32::from(branches > 1);
            worst.0 = worst.0.max(fanouts);
            worst.1 = worst.1.max(branches);
            let origin = matches!(
                specs[up].role,
                Role::Source | Role::Fold | Role::Stage(StageMode::Regroup)
            );
            if !origin {
                walk(specs, up, fanouts, worst);
            }
        }
    }
    let mut worst = (0, 0);
    walk(specs, ordered, 0, &mut worst);
    assert!(
        worst.0 <= MAX_PATH_DEPTH && worst.1 <= MAX_PATH_BRANCHES,
        "para: ordered stage '{}' merges paths through {} nested fan-outs of up to {} \
         branches; ordering through a diamond supports at most {} nested fan-outs of at \
         most {} branches",
        labels[ordered],
        worst.0,
        worst.1,
        MAX_PATH_DEPTH,
        MAX_PATH_BRANCHES
    );
}
