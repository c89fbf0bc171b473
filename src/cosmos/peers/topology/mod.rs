//! Sparse peer graphs: which of a consumer chain's public nodes list each other as persistent
//! peers (full mesh, or a deterministic k-connected ring that a joining or leaving node disturbs
//! only locally), and the statistics and change counts `peergen check` and `plan` print about them.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use crate::cosmos::inventory::settings::Topology;

/// Neighbour sets of `nodes` (stable, unique names), indexed like `nodes`. Symmetric, no self loops.
///
/// The nodes sit on a ring ordered by sha256(`salt` ‖ 0x00 ‖ name), ties broken by name, and each
/// is linked to the nodes at most r ring steps away on either side: the circulant C_n(1..r), i.e.
/// the Harary graph H_{2r,n}. The ring depends only on the set of names, never on their order in
/// `nodes`, so the edges by name are the same however the inventory lists them. A full mesh is
/// the same ring with r = ⌊n/2⌋, which reaches everyone.
pub(crate) fn neighbours(topology: Topology, salt: &str, nodes: &[&str]) -> Vec<BTreeSet<usize>> {
    let n = nodes.len();
    // Beyond ⌊n/2⌋ steps the ring wraps onto nodes already reached; capping also keeps a huge K
    // from costing K iterations per node.
    let reach = match topology {
        Topology::FullMesh => n / 2,
        Topology::KConnected(k) => usize::from(k).div_ceil(2).min(n / 2),
    };
    let ring = ring_order(salt, nodes);
    // Lists first, sets after: a set built from a whole list is built in one pass, where a full
    // mesh of n nodes would otherwise cost n² single inserts.
    let mut adjacency = vec![Vec::new(); n];
    for (position, &node) in ring.iter().enumerate() {
        for step in 1..=reach {
            let other = ring[(position + step) % n];
            adjacency[node].push(other);
            adjacency[other].push(node);
        }
    }
    adjacency.into_iter().map(BTreeSet::from_iter).collect()
}

/// Indices of `nodes` in ring order. The salt (the consumer id) gives every consumer its own
/// ring, so nodes shared between consumers are not always neighbours of the same nodes; the 0x00
/// keeps ("ab", "c") and ("a", "bc") apart. Sorting by name after the digest settles the
/// (astronomically unlikely) digest tie without looking at input order.
fn ring_order(salt: &str, nodes: &[&str]) -> Vec<usize> {
    let mut keyed: Vec<([u8; 32], &str, usize)> = nodes
        .iter()
        .enumerate()
        .map(|(index, &name)| {
            let digest = Sha256::new()
                .chain_update(salt)
                .chain_update([0])
                .chain_update(name)
                .finalize();
            (digest.into(), name, index)
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, _, index)| index).collect()
}

/// Statistics `peergen check` prints per consumer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GraphStats {
    pub(crate) nodes: usize,
    pub(crate) min_degree: usize,
    pub(crate) max_degree: usize,
    /// Vertex connectivity: the fewest nodes whose loss disconnects the rest; n − 1 for a full
    /// mesh (which no removal disconnects), 0 when already disconnected.
    pub(crate) connectivity: usize,
    /// Longest shortest path in hops; 0 for n ≤ 1, `usize::MAX` (infinite) when disconnected.
    pub(crate) diameter: usize,
}

/// Exact statistics of `adjacency`, which must be symmetric, without self loops, and with every
/// index < its length, as [`neighbours`] returns (an index out of range panics). About 15 ms for
/// 250 nodes with K = 12 in a debug build.
pub(crate) fn stats(adjacency: &[BTreeSet<usize>]) -> GraphStats {
    let graph = Csr::new(adjacency);
    let degrees = adjacency.iter().map(BTreeSet::len);
    GraphStats {
        nodes: adjacency.len(),
        min_degree: degrees.clone().min().unwrap_or(0),
        max_degree: degrees.max().unwrap_or(0),
        connectivity: connectivity(&graph),
        diameter: diameter(&graph),
    }
}

/// Adjacency in compressed rows. The hot loops below index plain slices in `while` loops rather
/// than `Vec`s and range iterators: in a debug build, where `peergen check` and the tests run,
/// each `Vec` index and iterator step is a function call, and they ran twice as slow.
struct Csr {
    /// The neighbours of v, ascending, are `targets[start[v]..start[v + 1]]`.
    start: Vec<usize>,
    targets: Vec<usize>,
}

impl Csr {
    fn new(adjacency: &[BTreeSet<usize>]) -> Self {
        let mut start = vec![0];
        let mut targets = Vec::new();
        for list in adjacency {
            targets.extend(list);
            start.push(targets.len());
        }
        Self { start, targets }
    }

    fn len(&self) -> usize {
        self.start.len() - 1
    }

    fn of(&self, v: usize) -> &[usize] {
        &self.targets[self.start[v]..self.start[v + 1]]
    }

    fn adjacent(&self, a: usize, b: usize) -> bool {
        self.of(a).binary_search(&b).is_ok()
    }

    /// |N(a) ∩ N(b)| by merging the sorted lists.
    fn common_neighbours(&self, a: usize, b: usize) -> usize {
        let (a, b) = (self.of(a), self.of(b));
        let (mut i, mut j, mut common) = (0, 0, 0);
        while i < a.len() && j < b.len() {
            match a[i].cmp(&b[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    common += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        common
    }
}

/// Breadth-first search from every node: n · (n + edges) steps, under 10⁶ for peergen's sizes.
fn diameter(graph: &Csr) -> usize {
    let n = graph.len();
    let (start, targets) = (&graph.start[..], &graph.targets[..]);
    let mut distance = vec![usize::MAX; n];
    let mut queue = vec![0; n];
    let distance = &mut distance[..];
    let queue = &mut queue[..];
    let mut widest = 0;
    for source in 0..n {
        distance.fill(usize::MAX);
        distance[source] = 0;
        queue[0] = source;
        let (mut read, mut write) = (0, 1);
        while read < write {
            let v = queue[read];
            read += 1;
            let mut i = start[v];
            while i < start[v + 1] {
                let w = targets[i];
                if distance[w] == usize::MAX {
                    distance[w] = distance[v] + 1;
                    queue[write] = w;
                    write += 1;
                }
                i += 1;
            }
        }
        if write < n {
            return usize::MAX;
        }
        // Breadth-first order dequeues the farthest node last.
        widest = widest.max(distance[queue[n - 1]]);
    }
    widest
}

/// Vertex connectivity by Esfahanian and Hakimi's pair selection: with v of least degree, a
/// minimum cut S either misses v, and then separates v from some non-neighbour w, or contains v,
/// and then (being minimum) leaves v a neighbour on each of two sides, two non-adjacent
/// neighbours x, y. So the least of κ(v, w) and κ(x, y) over those pairs is κ, and it costs
/// n + δ²/2 flows instead of Even's (κ + 1)·n.
fn connectivity(graph: &Csr) -> usize {
    let n = graph.len();
    let Some(pivot) = (0..n).min_by_key(|&v| graph.of(v).len()) else {
        return 0;
    };
    // A non-complete graph has κ ≤ δ: the least-degree node's neighbours cut it off.
    let mut best = graph.of(pivot).len();
    if best + 1 >= n {
        return n - 1;
    }
    let mut network = SplitNetwork::new(graph);
    let far: Vec<usize> = (0..n)
        .filter(|&w| w != pivot && !graph.adjacent(pivot, w))
        .collect();
    best = network.least_paths(graph, pivot, &far, best);
    let around = graph.of(pivot);
    for (i, &x) in around.iter().enumerate() {
        let apart: Vec<usize> = around[i + 1..]
            .iter()
            .copied()
            .filter(|&y| !graph.adjacent(x, y))
            .collect();
        best = network.least_paths(graph, x, &apart, best);
    }
    best
}

/// Unit-capacity flow network with each node v split into v_in = 2v and v_out = 2v + 1 joined by
/// one arc, so that arc-disjoint paths here are vertex-disjoint paths in the graph (Menger). Built
/// once per graph; each source only resets capacities.
struct SplitNetwork {
    /// The arcs leaving split node x are the positions `start[x]..start[x + 1]`; arc p ends at
    /// `head[p]`, its reverse is at `reverse[p]`, and it is a real arc (not a reverse) iff
    /// `initial[p]` is 1. A real arc carries flow iff its capacity is 0.
    start: Vec<usize>,
    head: Vec<usize>,
    reverse: Vec<usize>,
    initial: Vec<u8>,
    capacity: Vec<u8>,
    level: Vec<usize>,
    /// Dinic's current-arc pointers: arcs before them are known dead ends in this phase.
    next: Vec<usize>,
    /// Breadth-first queue, then the depth-first path's nodes; `via` holds the arcs into them.
    queue: Vec<usize>,
    via: Vec<usize>,
}

impl SplitNetwork {
    fn new(graph: &Csr) -> Self {
        let splits = 2 * graph.len();
        let mut arcs = Vec::new();
        for v in 0..graph.len() {
            arcs.push((2 * v, 2 * v + 1));
            arcs.extend(graph.of(v).iter().map(|&w| (2 * v + 1, 2 * w)));
        }
        let mut start = vec![0; splits + 1];
        for &(from, to) in &arcs {
            start[from + 1] += 1;
            start[to + 1] += 1;
        }
        for x in 0..splits {
            start[x + 1] += start[x];
        }
        let mut fill = start.clone();
        let mut head = vec![0; 2 * arcs.len()];
        let mut reverse = vec![0; 2 * arcs.len()];
        let mut initial = vec![0; 2 * arcs.len()];
        for (from, to) in arcs {
            let (forward, backward) = (fill[from], fill[to]);
            fill[from] += 1;
            fill[to] += 1;
            (head[forward], reverse[forward], initial[forward]) = (to, backward, 1);
            (head[backward], reverse[backward]) = (from, forward);
        }
        Self {
            start,
            head,
            reverse,
            capacity: initial.clone(),
            initial,
            level: vec![usize::MAX; splits],
            next: vec![0; splits],
            queue: vec![0; splits + 1],
            via: vec![0; splits + 1],
        }
    }

    /// min(`limit`, κ(s, t) over every t in `sinks`), all non-adjacent to s.
    ///
    /// Rather than a flow from scratch per sink, the flow to one sink is rerouted to the next
    /// (see [`Self::move_sink`]), visiting sinks along edges and preferring the neighbour that
    /// shares most neighbours with the last sink: in a ring that is its successor, and the k
    /// paths into it carry over with no augmenting search at all.
    fn least_paths(&mut self, graph: &Csr, s: usize, sinks: &[usize], mut limit: usize) -> usize {
        self.capacity.copy_from_slice(&self.initial);
        let mut pending = vec![false; graph.len()];
        for &t in sinks {
            pending[t] = true;
        }
        let mut unvisited = sinks.iter();
        let mut last: Option<usize> = None;
        while limit > 0 {
            let near = last.and_then(|t| {
                let candidates = graph.of(t).iter().copied().filter(|&y| pending[y]);
                candidates.max_by_key(|&y| graph.common_neighbours(t, y))
            });
            let Some(t) = near.or_else(|| unvisited.find(|&&t| pending[t]).copied()) else {
                break;
            };
            pending[t] = false;
            if let Some(previous) = last {
                self.move_sink(2 * s + 1, 2 * previous, 2 * t);
            }
            limit = limit.min(self.fill(2 * s + 1, 2 * t, limit));
            last = Some(t);
        }
        limit
    }

    /// Augments the current flow by Dinic's algorithm until `limit` paths reach the sink or none
    /// is left; returns the flow's value. One breadth-first layering serves all the shortest
    /// augmenting paths, where a path-at-a-time search would repeat it per path.
    fn fill(&mut self, source: usize, sink: usize, limit: usize) -> usize {
        let mut paths = self.inflow(sink).count();
        while paths < limit && self.layer(source, sink) {
            self.next.copy_from_slice(&self.start[..self.level.len()]);
            while paths < limit && self.augment(source, sink) {
                paths += 1;
            }
        }
        paths
    }

    /// Arcs carrying flow into split node x, as positions of their reverses at x.
    fn inflow(&self, x: usize) -> impl Iterator<Item = usize> + '_ {
        (self.start[x]..self.start[x + 1])
            .filter(|&p| self.initial[p] == 0 && self.capacity[p] == 1)
    }

    /// The real arc carrying flow out of split node x, which every node but a sink has at most
    /// one of, since one unit enters it at most.
    fn outflow(&self, x: usize) -> Option<usize> {
        (self.start[x]..self.start[x + 1]).find(|&p| self.initial[p] == 1 && self.capacity[p] == 0)
    }

    /// The real arc from split node x to y, if any.
    fn arc(&self, x: usize, y: usize) -> Option<usize> {
        (self.start[x]..self.start[x + 1]).find(|&p| self.initial[p] == 1 && self.head[p] == y)
    }

    fn push(&mut self, p: usize, flow: bool) {
        self.capacity[p] = u8::from(!flow);
        self.capacity[self.reverse[p]] = u8::from(flow);
    }

    /// Turns a flow into sink `old` (an in-node) into a valid, usually almost as large, flow into
    /// `new`: cut the path through `new` short there; send each path that entered `old` from a
    /// neighbour of `new` into `new` instead; extend one other path through `old` itself when
    /// `old` and `new` are adjacent; withdraw the rest back to the source.
    fn move_sink(&mut self, source: usize, old: usize, new: usize) {
        let mut x = new;
        while let Some(p) = self.outflow(x) {
            self.push(p, false);
            x = self.head[p];
            if x == old || x == new {
                break;
            }
        }
        let entering: Vec<usize> = self.inflow(old).collect();
        let mut through_old = self.arc(old, old + 1).zip(self.arc(old + 1, new));
        for back in entering {
            let (from, arc) = (self.head[back], self.reverse[back]);
            if let Some(redirect) = self.arc(from, new) {
                self.push(arc, false);
                self.push(redirect, true);
            } else if let Some((inner, link)) = through_old.take() {
                self.push(inner, true);
                self.push(link, true);
            } else {
                self.push(arc, false);
                let mut x = from;
                while x != source {
                    let back = self
                        .inflow(x)
                        .next()
                        .expect("flow enters every node on a path");
                    self.push(self.reverse[back], false);
                    x = self.head[back];
                }
            }
        }
    }

    /// Levels by breadth-first search over arcs with capacity left; false once the sink is out of
    /// reach. Stopping when the sink is labelled is safe: nothing beyond its level can be on a
    /// shortest path to it.
    fn layer(&mut self, source: usize, sink: usize) -> bool {
        let (start, head, capacity) = (&self.start[..], &self.head[..], &self.capacity[..]);
        let (level, queue) = (&mut self.level[..], &mut self.queue[..]);
        level.fill(usize::MAX);
        level[source] = 0;
        queue[0] = source;
        let (mut read, mut write) = (0, 1);
        while read < write {
            let x = queue[read];
            read += 1;
            let mut p = start[x];
            while p < start[x + 1] {
                let y = head[p];
                if capacity[p] > 0 && level[y] == usize::MAX {
                    level[y] = level[x] + 1;
                    if y == sink {
                        return true;
                    }
                    queue[write] = y;
                    write += 1;
                }
                p += 1;
            }
        }
        false
    }

    /// Pushes one unit along a level-increasing path from the source to the sink, searching
    /// depth first with an explicit stack (`queue` holds the path's nodes, `via` the arcs into
    /// them) and retiring dead ends through `next`.
    fn augment(&mut self, source: usize, sink: usize) -> bool {
        let (start, head, reverse) = (&self.start[..], &self.head[..], &self.reverse[..]);
        let (capacity, level, next) = (&mut self.capacity[..], &self.level[..], &mut self.next[..]);
        let (path, via) = (&mut self.queue[..], &mut self.via[..]);
        path[0] = source;
        let mut depth = 0;
        loop {
            let x = path[depth];
            if x == sink {
                while depth > 0 {
                    let p = via[depth];
                    capacity[p] -= 1;
                    capacity[reverse[p]] += 1;
                    depth -= 1;
                }
                return true;
            }
            let (mut p, end) = (next[x], start[x + 1]);
            while p < end && (capacity[p] == 0 || level[head[p]] != level[x] + 1) {
                p += 1;
            }
            next[x] = p;
            if p < end {
                depth += 1;
                path[depth] = head[p];
                via[depth] = p;
            } else if depth == 0 {
                return false;
            } else {
                depth -= 1;
                next[path[depth]] += 1;
            }
        }
    }
}

/// `adjacency` by name, for [`changed_lists`] to compare graphs over different node sets.
#[cfg(test)]
pub(crate) fn named(
    nodes: &[&str],
    adjacency: &[BTreeSet<usize>],
) -> Vec<(String, BTreeSet<String>)> {
    nodes
        .iter()
        .zip(adjacency)
        .map(|(&name, list)| {
            let peers = list.iter().map(|&other| nodes[other].to_owned()).collect();
            (name.to_owned(), peers)
        })
        .collect()
}

/// How many nodes' neighbour lists differ between two graphs: the nodes whose config a change
/// touches. A node on one side only counts, since its config is created or deleted.
#[cfg(test)]
pub(crate) fn changed_lists(
    before: &[(String, BTreeSet<String>)],
    after: &[(String, BTreeSet<String>)],
) -> usize {
    fn by_name(
        graph: &[(String, BTreeSet<String>)],
    ) -> std::collections::BTreeMap<&str, &BTreeSet<String>> {
        graph
            .iter()
            .map(|(name, peers)| (name.as_str(), peers))
            .collect()
    }
    let (before, after) = (by_name(before), by_name(after));
    let names: BTreeSet<&str> = before.keys().chain(after.keys()).copied().collect();
    names
        .into_iter()
        .filter(|name| before.get(name) != after.get(name))
        .count()
}

#[cfg(test)]
mod tests;
