//! Property and unit tests of the topology: connectivity checked by an independent max-flow,
//! degrees, diameter, locality of joins and leaves, determinism.

use std::collections::BTreeMap;

use super::*;
use crate::cosmos::inventory::settings::Topology;
use proptest::prelude::*;

fn set(items: &[usize]) -> BTreeSet<usize> {
    items.iter().copied().collect()
}

fn graph(n: usize, edges: &[(usize, usize)]) -> Vec<BTreeSet<usize>> {
    let mut adjacency = vec![BTreeSet::new(); n];
    for &(a, b) in edges {
        adjacency[a].insert(b);
        adjacency[b].insert(a);
    }
    adjacency
}

/// Ring reach r = ⌈K/2⌉ before capping at ⌊n/2⌋.
fn reach(k: u16) -> usize {
    usize::from(k).div_ceil(2)
}

/// Edmonds–Karp (one breadth-first augmenting path at a time) on a split graph laid out as
/// v_in = v, v_out = v + n: written apart from `stats`' Dinic network so that one mistake
/// cannot hide in both.
struct EdmondsKarp {
    n: usize,
    out: Vec<Vec<usize>>,
    to: Vec<usize>,
    full: Vec<i32>,
    residual: Vec<i32>,
}

impl EdmondsKarp {
    fn new(adjacency: &[BTreeSet<usize>]) -> Self {
        let n = adjacency.len();
        let mut flow = Self {
            n,
            out: vec![Vec::new(); 2 * n],
            to: Vec::new(),
            full: Vec::new(),
            residual: Vec::new(),
        };
        for (v, list) in adjacency.iter().enumerate() {
            flow.arc(v, v + n);
            for &w in list {
                flow.arc(v + n, w);
            }
        }
        flow.residual = flow.full.clone();
        flow
    }

    fn arc(&mut self, from: usize, to: usize) {
        self.out[from].push(self.to.len());
        self.to.push(to);
        self.full.push(1);
        self.out[to].push(self.to.len());
        self.to.push(from);
        self.full.push(0);
    }

    /// min(number of vertex-disjoint s–t paths, limit).
    fn paths(&mut self, s: usize, t: usize, limit: usize) -> usize {
        self.residual.clone_from(&self.full);
        let (source, sink) = (s + self.n, t);
        let mut via = vec![usize::MAX; 2 * self.n];
        let mut queue = Vec::with_capacity(2 * self.n);
        for found in 0..limit {
            via.fill(usize::MAX);
            queue.clear();
            queue.push(source);
            let mut read = 0;
            while read < queue.len() && via[sink] == usize::MAX {
                let x = queue[read];
                read += 1;
                for &e in &self.out[x] {
                    let y = self.to[e];
                    if self.residual[e] > 0 && via[y] == usize::MAX && y != source {
                        via[y] = e;
                        queue.push(y);
                    }
                }
            }
            if via[sink] == usize::MAX {
                return found;
            }
            let mut y = sink;
            while y != source {
                let e = via[y];
                self.residual[e] -= 1;
                self.residual[e ^ 1] += 1;
                y = self.to[e ^ 1];
            }
        }
        limit
    }
}

/// Esfahanian and Hakimi's pair selection, as `stats` uses, but pivoting on the last node
/// rather than a least-degree one (any pivot is sound: a minimum cut misses it, or holds it
/// and then two of its non-adjacent neighbours) and with Edmonds–Karp flows from scratch for
/// every pair. Even's selection, (κ + 1)·n flows instead of n + δ²/2, took 6 s on one
/// 250-node graph in a debug build.
fn independent_connectivity(adjacency: &[BTreeSet<usize>]) -> usize {
    let n = adjacency.len();
    if adjacency.iter().all(|list| list.len() + 1 == n) {
        return n.saturating_sub(1);
    }
    let pivot = n - 1;
    let around = &adjacency[pivot];
    let mut pairs: Vec<(usize, usize)> = (0..pivot)
        .filter(|w| !around.contains(w))
        .map(|w| (pivot, w))
        .collect();
    for &x in around {
        pairs.extend(
            around
                .range(x + 1..)
                .filter(|y| !adjacency[x].contains(y))
                .map(|&y| (x, y)),
        );
    }
    let mut flow = EdmondsKarp::new(adjacency);
    let mut bound = adjacency.iter().map(BTreeSet::len).min().unwrap_or(0);
    for (s, t) in pairs {
        bound = bound.min(flow.paths(s, t, bound));
    }
    bound
}

/// Connectivity and diameter by definition, for graphs small enough to try every cut.
fn brute_force(adjacency: &[BTreeSet<usize>]) -> (usize, usize) {
    let n = adjacency.len();
    let complete = adjacency.iter().all(|list| list.len() + 1 == n);
    let connectivity = if complete {
        n.saturating_sub(1)
    } else {
        (0u32..1 << n)
            .filter(|removed| {
                let left: Vec<usize> = (0..n).filter(|v| removed & (1 << v) == 0).collect();
                let Some(&first) = left.first() else {
                    return false;
                };
                let mut reached = BTreeSet::from([first]);
                let mut stack = vec![first];
                while let Some(v) = stack.pop() {
                    for &w in &adjacency[v] {
                        if removed & (1 << w) == 0 && reached.insert(w) {
                            stack.push(w);
                        }
                    }
                }
                reached.len() < left.len()
            })
            .map(|removed| removed.count_ones() as usize)
            .min()
            .unwrap_or(0)
    };
    // Floyd–Warshall, so the diameter is checked by other means than breadth-first search.
    let mut d = vec![vec![usize::MAX; n]; n];
    for v in 0..n {
        d[v][v] = 0;
        for &w in &adjacency[v] {
            d[v][w] = 1;
        }
    }
    for m in 0..n {
        for a in 0..n {
            for b in 0..n {
                if d[a][m] != usize::MAX && d[m][b] != usize::MAX {
                    d[a][b] = d[a][b].min(d[a][m] + d[m][b]);
                }
            }
        }
    }
    let diameter = d.iter().flatten().copied().max().unwrap_or(0);
    (connectivity, diameter)
}

fn names() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::btree_set("[a-z0-9.-]{1,12}", 2..=250)
        .prop_map(|names| names.into_iter().collect())
}

fn refs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

proptest! {
    // The Edmonds–Karp check costs up to 0.4 s on 250 nodes in a debug build; 64 cases keep
    // this test near 5 s.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn k_connected_meets_its_guarantees(names in names(), k in 1u16..=12, salt in "[a-z0-9-]{0,16}") {
        let nodes = refs(&names);
        let n = nodes.len();
        let adjacency = neighbours(Topology::KConnected(k), &salt, &nodes);
        for (v, list) in adjacency.iter().enumerate() {
            prop_assert!(!list.contains(&v));
            prop_assert!(list.iter().all(|&w| adjacency[w].contains(&v)));
        }
        let kappa = independent_connectivity(&adjacency);
        let want = usize::from(k).min(n - 1);
        prop_assert!(kappa >= want, "κ = {} < {}", kappa, want);
        let ring = stats(&adjacency);
        prop_assert_eq!(ring.connectivity, kappa);
        // Degree is exactly min(2r, n − 1): within [min(K, n − 1), K + 1] ⊂ [.., K + 2].
        let r = reach(k);
        prop_assert_eq!(ring.min_degree, (2 * r).min(n - 1));
        prop_assert_eq!(ring.max_degree, (2 * r).min(n - 1));
        prop_assert!(ring.min_degree >= want && ring.max_degree <= usize::from(k) + 2);
        // Each hop covers at most r ring steps and the farthest node is ⌊n/2⌋ steps away;
        // that is within the documented bound ⌈(n − 1)/2r⌉ + 1.
        prop_assert_eq!(ring.diameter, (n / 2).div_ceil(r));
        prop_assert!(ring.diameter <= (n - 1).div_ceil(2 * r) + 1);
        let mesh = neighbours(Topology::FullMesh, &salt, &nodes);
        prop_assert_eq!(independent_connectivity(&mesh), n - 1);
        prop_assert_eq!(
            stats(&mesh),
            GraphStats { nodes: n, min_degree: n - 1, max_degree: n - 1, connectivity: n - 1, diameter: 1 }
        );
    }
}

proptest! {
    // Hashing and naming up to 250 nodes a few times per case is slow in a debug build: the
    // default 256 cases would add about 4 s to the module for little more coverage.
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn one_node_joining_or_leaving_touches_2r_lists_at_most(
        names in proptest::collection::btree_set("[a-z0-9.-]{1,12}", 1..=250),
        k in 1u16..=12,
        salt in "[a-z0-9-]{0,16}",
        pick in any::<prop::sample::Index>(),
    ) {
        let names: Vec<String> = names.into_iter().collect();
        let nodes = refs(&names);
        let leaving = pick.index(nodes.len());
        let rest: Vec<&str> = nodes.iter().copied().filter(|&name| name != nodes[leaving]).collect();
        let with = named(&nodes, &neighbours(Topology::KConnected(k), &salt, &nodes));
        let without = named(&rest, &neighbours(Topology::KConnected(k), &salt, &rest));
        // Only the ≤ 2r nodes within r ring steps of the gap see it, so with c = 2 the other
        // nodes' changed lists are ≤ 2⌈K/2⌉ ≤ K + 1 ≤ c·K; the joining or leaving node's own
        // (created or deleted) config makes it ≤ K + 2.
        let others = (2 * reach(k)).min(rest.len());
        prop_assert_eq!(changed_lists(&with, &without), others + 1);
        prop_assert_eq!(changed_lists(&without, &with), others + 1);
        prop_assert!(others <= 2 * usize::from(k));
    }

    #[test]
    fn edges_depend_on_names_not_input_order(
        (names, shuffled) in names().prop_flat_map(|names| (Just(names.clone()), Just(names).prop_shuffle())),
        k in 0u16..=12,
        salt in "[a-z0-9-]{0,16}",
    ) {
        let topology = if k == 0 { Topology::FullMesh } else { Topology::KConnected(k) };
        let (nodes, permuted) = (refs(&names), refs(&shuffled));
        let first = neighbours(topology, &salt, &nodes);
        prop_assert_eq!(&neighbours(topology, &salt, &nodes), &first);
        let by_name = |graph: Vec<(String, BTreeSet<String>)>| graph.into_iter().collect::<BTreeMap<_, _>>();
        prop_assert_eq!(
            by_name(named(&nodes, &first)),
            by_name(named(&permuted, &neighbours(topology, &salt, &permuted)))
        );
    }

    /// Intact rings keep every path when the flow moves on to the next sink; damaged ones
    /// make it withdraw paths and search again, and lower the connectivity on the way.
    #[test]
    fn stats_agree_with_edmonds_karp_on_damaged_rings(
        n in 2usize..=60,
        k in 1u16..=8,
        salt in "[a-z]{0,4}",
        cuts in proptest::collection::vec(any::<(prop::sample::Index, prop::sample::Index)>(), 0..12),
        links in proptest::collection::vec(any::<(prop::sample::Index, prop::sample::Index)>(), 0..6),
    ) {
        let names: Vec<String> = (0..n).map(|i| format!("node-{i}")).collect();
        let mut adjacency = neighbours(Topology::KConnected(k), &salt, &refs(&names));
        for (a, b) in cuts {
            let (a, b) = (a.index(n), b.index(n));
            adjacency[a].remove(&b);
            adjacency[b].remove(&a);
        }
        for (a, b) in links {
            let (a, b) = (a.index(n), b.index(n));
            if a != b {
                adjacency[a].insert(b);
                adjacency[b].insert(a);
            }
        }
        prop_assert_eq!(stats(&adjacency).connectivity, independent_connectivity(&adjacency));
    }

    #[test]
    fn stats_agree_with_brute_force(n in 0usize..=10, bits in any::<u64>()) {
        let pairs = (0..n).flat_map(|a| (a + 1..n).map(move |b| (a, b)));
        // 45 pairs of 10 nodes fit in the 64 bits; each bit decides one edge.
        let edges: Vec<(usize, usize)> = pairs.enumerate().filter(|(i, _)| bits >> i & 1 == 1).map(|(_, e)| e).collect();
        let adjacency = graph(n, &edges);
        let (connectivity, diameter) = brute_force(&adjacency);
        let stats = stats(&adjacency);
        prop_assert_eq!(stats.connectivity, connectivity);
        prop_assert_eq!(stats.diameter, diameter);
        prop_assert_eq!(independent_connectivity(&adjacency), connectivity);
    }
}

#[test]
fn ring_order_is_sha256_of_salt_nul_name() {
    // Ring orders from `printf 'consumer-7\0alpha' | sha256sum` and so on, sorted.
    let nodes = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
    ];
    for (salt, ring) in [
        (
            "consumer-7",
            [
                "alpha", "echo", "delta", "foxtrot", "golf", "charlie", "bravo",
            ],
        ),
        (
            "consumer-8",
            [
                "echo", "foxtrot", "golf", "alpha", "bravo", "delta", "charlie",
            ],
        ),
    ] {
        let index = |name: &str| nodes.iter().position(|&node| node == name).unwrap();
        let edges: Vec<(usize, usize)> = (0..7)
            .map(|i| (index(ring[i]), index(ring[(i + 1) % 7])))
            .collect();
        assert_eq!(
            neighbours(Topology::KConnected(2), salt, &nodes),
            graph(7, &edges)
        );
        // Odd K rounds up to the next even degree: the same ring.
        assert_eq!(
            neighbours(Topology::KConnected(1), salt, &nodes),
            graph(7, &edges)
        );
    }
}

#[test]
fn small_and_degenerate_inputs() {
    assert!(neighbours(Topology::KConnected(3), "c", &[]).is_empty());
    assert_eq!(neighbours(Topology::FullMesh, "c", &["a"]), [set(&[])]);
    assert_eq!(
        neighbours(Topology::KConnected(1), "c", &["a", "b"]),
        [set(&[1]), set(&[0])]
    );
    // K = 0 breaks the precondition; it must still not panic.
    assert_eq!(
        neighbours(Topology::KConnected(0), "c", &["a", "b", "c"]),
        vec![BTreeSet::new(); 3]
    );
    let names: Vec<String> = (0..9).map(|i| format!("node-{i}")).collect();
    let nodes = refs(&names);
    let mesh = neighbours(Topology::FullMesh, "c", &nodes);
    assert!(
        mesh.iter()
            .enumerate()
            .all(|(v, list)| list.len() == 8 && !list.contains(&v))
    );
    // 2r ≥ n − 1 reaches everyone, including K far above n, without iterating K times.
    assert_eq!(neighbours(Topology::KConnected(7), "c", &nodes), mesh);
    assert_eq!(neighbours(Topology::KConnected(8), "c", &nodes), mesh);
    assert_eq!(
        neighbours(Topology::KConnected(u16::MAX), "c", &nodes),
        mesh
    );
    assert_ne!(neighbours(Topology::KConnected(6), "c", &nodes), mesh);
}

#[test]
fn consumers_get_different_rings() {
    let names: Vec<String> = (0..30).map(|i| format!("node-{i}")).collect();
    let nodes = refs(&names);
    let a = neighbours(Topology::KConnected(4), "consumer-a", &nodes);
    let b = neighbours(Topology::KConnected(4), "consumer-b", &nodes);
    assert_ne!(a, b);
    assert_eq!(stats(&a), stats(&b));
}

#[test]
fn stats_of_known_graphs() {
    let stats_of = |n, edges: &[(usize, usize)]| stats(&graph(n, edges));
    let path = stats_of(5, &[(0, 1), (1, 2), (2, 3), (3, 4)]);
    assert_eq!(
        path,
        GraphStats {
            nodes: 5,
            min_degree: 1,
            max_degree: 2,
            connectivity: 1,
            diameter: 4
        }
    );
    let cycle = stats_of(6, &[(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0)]);
    assert_eq!(
        cycle,
        GraphStats {
            nodes: 6,
            min_degree: 2,
            max_degree: 2,
            connectivity: 2,
            diameter: 3
        }
    );
    let complete: Vec<(usize, usize)> = (0..5)
        .flat_map(|a| (a + 1..5).map(move |b| (a, b)))
        .collect();
    assert_eq!(
        stats_of(5, &complete),
        GraphStats {
            nodes: 5,
            min_degree: 4,
            max_degree: 4,
            connectivity: 4,
            diameter: 1
        }
    );
    let bowtie = stats_of(5, &[(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 2)]);
    assert_eq!(
        bowtie,
        GraphStats {
            nodes: 5,
            min_degree: 2,
            max_degree: 4,
            connectivity: 1,
            diameter: 2
        }
    );
    let apart = stats_of(4, &[(0, 1), (2, 3)]);
    assert_eq!((apart.connectivity, apart.diameter), (0, usize::MAX));
    let zero = GraphStats {
        nodes: 0,
        min_degree: 0,
        max_degree: 0,
        connectivity: 0,
        diameter: 0,
    };
    assert_eq!(stats(&[]), zero);
    assert_eq!(stats_of(1, &[]), GraphStats { nodes: 1, ..zero });
    assert_eq!(stats_of(2, &[]).connectivity, 0);
    assert_eq!(
        stats_of(2, &[(0, 1)]),
        GraphStats {
            nodes: 2,
            min_degree: 1,
            max_degree: 1,
            connectivity: 1,
            diameter: 1
        }
    );
}

#[test]
fn changed_lists_counts_created_and_deleted_configs() {
    let peers = |names: &[&str]| names.iter().map(|&name| name.to_owned()).collect();
    let before = vec![
        ("a".to_owned(), peers(&["b"])),
        ("b".to_owned(), peers(&["a"])),
        ("c".to_owned(), peers(&[])),
    ];
    let after = vec![
        ("b".to_owned(), peers(&["a", "d"])),
        ("a".to_owned(), peers(&["b"])),
        ("d".to_owned(), peers(&["b"])),
    ];
    // b changed, c deleted, d created; a is the same despite moving in the list.
    assert_eq!(changed_lists(&before, &after), 3);
    assert_eq!(changed_lists(&before, &before), 0);
    assert_eq!(changed_lists(&[], &before), 3);
}
