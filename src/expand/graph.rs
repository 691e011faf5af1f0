//! The entitlement graph of one expansion (grant-expansion.md R8–R11): edge specs and how
//! duplicates fold, strongly connected components collapsed into single nodes with their
//! inner edges deleted, the folded edges between nodes, a topological order and the longest
//! path. Works on interned entitlement ids only; knows nothing of grants or storage.

use super::intern::IdMap;

/// How holders travel along one edge: `shallow` (only direct holders of the source) and an
/// optional principal-type filter (`None` = every type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EdgeSpec {
    pub(crate) shallow: bool,
    /// Sorted, without duplicates.
    pub(crate) filter: Option<Vec<u32>>,
}

impl EdgeSpec {
    /// A spec from GrantExpandable fields; an empty type list means no filter (R7).
    pub(crate) fn new(shallow: bool, mut types: Vec<u32>) -> Self {
        if types.is_empty() {
            return EdgeSpec {
                shallow,
                filter: None,
            };
        }
        types.sort_unstable();
        types.dedup();
        EdgeSpec {
            shallow,
            filter: Some(types),
        }
    }

    /// Folds a duplicate edge into this one (R8, R10): shallow only if both are, unfiltered
    /// if either is, otherwise the union of the filters.
    pub(crate) fn fold(&mut self, other: &EdgeSpec) {
        self.shallow &= other.shallow;
        self.filter = match (self.filter.take(), &other.filter) {
            (Some(mut a), Some(b)) => {
                a.extend_from_slice(b);
                a.sort_unstable();
                a.dedup();
                Some(a)
            }
            _ => None,
        };
    }

    /// Whether a holder whose principal has type `ptype` passes the filter (R7).
    pub(crate) fn admits(&self, ptype: u32) -> bool {
        match &self.filter {
            None => true,
            Some(types) => types.binary_search(&ptype).is_ok(),
        }
    }
}

/// The collapsed graph: a DAG whose nodes are sets of entitlements.
#[derive(Debug)]
pub(crate) struct Dag {
    /// Entitlement ids of each node; more than one only for a collapsed cycle.
    pub(crate) nodes: Vec<Vec<u32>>,
    /// Edges into each node: (parent node, folded spec), in first-seen order.
    pub(crate) incoming: Vec<Vec<(u32, EdgeSpec)>>,
    /// Every node once, each after all its parents (Kahn, first-seen order on ties).
    pub(crate) order: Vec<u32>,
    /// Number of cyclic components (≥ 2 entitlements, or one with a self-edge).
    pub(crate) cycles: usize,
    /// Edges removed because both ends were in one component (self-edges included).
    pub(crate) inner_edges: usize,
    /// Edges of the DAG after folding.
    pub(crate) edges: usize,
    /// Edges on the longest path of the DAG.
    pub(crate) longest_path: u32,
}

/// Collapses cycles (R9–R10) and orders the result (R11). `edges` are distinct
/// `(source, destination)` pairs whose duplicates were already folded (R8).
pub(crate) fn collapse(edges: &[(u32, u32, EdgeSpec)]) -> Dag {
    let vertices = Vertices::of(edges);
    let comp = tarjan(vertices.ents.len(), &vertices.start, &vertices.adj);
    let (nodes, node_of_vertex) = number_nodes(&vertices.ents, &comp);
    let folded = fold_between_nodes(edges, &vertices.pairs, &node_of_vertex, nodes.len());
    let cycles = nodes
        .iter()
        .zip(&folded.self_edge)
        .filter(|(ents, own)| ents.len() > 1 || **own)
        .count();
    let order = topological_order(&folded.incoming);
    debug_assert_eq!(order.len(), nodes.len(), "the collapsed graph is acyclic");
    let longest_path = longest_path(&order, &folded.incoming);
    Dag {
        nodes,
        incoming: folded.incoming,
        order,
        cycles,
        inner_edges: folded.inner_edges,
        edges: folded.dag_edges,
        longest_path,
    }
}

/// The entitlements of an edge list as dense vertices (in order of first appearance), with
/// the edges in compressed adjacency form (`adj[start[v]..start[v + 1]]` are v's targets).
struct Vertices {
    /// The entitlement of each vertex.
    ents: Vec<u32>,
    /// Each edge as (source vertex, destination vertex), in input order.
    pairs: Vec<(u32, u32)>,
    start: Vec<u32>,
    adj: Vec<u32>,
}

impl Vertices {
    fn of(edges: &[(u32, u32, EdgeSpec)]) -> Vertices {
        let mut vertex_of: IdMap<u32, u32> = IdMap::default();
        let mut ents: Vec<u32> = Vec::new();
        let mut vertex = |e: u32, ents: &mut Vec<u32>| -> u32 {
            *vertex_of.entry(e).or_insert_with(|| {
                ents.push(e);
                (ents.len() - 1) as u32
            })
        };
        let pairs: Vec<(u32, u32)> = edges
            .iter()
            .map(|(s, d, _)| (vertex(*s, &mut ents), vertex(*d, &mut ents)))
            .collect();
        let n = ents.len();
        let mut start = vec![0u32; n + 1];
        for &(s, _) in &pairs {
            start[s as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut adj = vec![0u32; pairs.len()];
        for &(s, d) in &pairs {
            adj[fill[s as usize] as usize] = d;
            fill[s as usize] += 1;
        }
        Vertices {
            ents,
            pairs,
            start,
            adj,
        }
    }
}

/// Nodes from components, numbered by their first-seen vertex: each node's entitlements,
/// and the node of each vertex.
fn number_nodes(ents: &[u32], comp: &[u32]) -> (Vec<Vec<u32>>, Vec<u32>) {
    let mut node_of_comp: IdMap<u32, u32> = IdMap::default();
    let mut nodes: Vec<Vec<u32>> = Vec::new();
    let mut node_of_vertex = vec![0u32; ents.len()];
    for (v, &e) in ents.iter().enumerate() {
        let node = *node_of_comp.entry(comp[v]).or_insert_with(|| {
            nodes.push(Vec::new());
            (nodes.len() - 1) as u32
        });
        nodes[node as usize].push(e);
        node_of_vertex[v] = node;
    }
    (nodes, node_of_vertex)
}

/// The edges between nodes after collapsing, with what collapsing removed.
struct Folded {
    /// Edges into each node: (parent node, folded spec), in first-seen order.
    incoming: Vec<Vec<(u32, EdgeSpec)>>,
    /// Whether a node had an edge from one of its entitlements to itself.
    self_edge: Vec<bool>,
    inner_edges: usize,
    dag_edges: usize,
}

/// Drops edges inside a node (R9) and folds the edges between two nodes into one (R10).
fn fold_between_nodes(
    edges: &[(u32, u32, EdgeSpec)],
    pairs: &[(u32, u32)],
    node_of_vertex: &[u32],
    node_count: usize,
) -> Folded {
    let mut out = Folded {
        incoming: vec![Vec::new(); node_count],
        self_edge: vec![false; node_count],
        inner_edges: 0,
        dag_edges: 0,
    };
    let mut slot: IdMap<(u32, u32), usize> = IdMap::default();
    for (&(s, d), (_, _, spec)) in pairs.iter().zip(edges) {
        let (ns, nd) = (node_of_vertex[s as usize], node_of_vertex[d as usize]);
        if ns == nd {
            out.inner_edges += 1;
            if s == d {
                out.self_edge[ns as usize] = true;
            }
            continue;
        }
        let incoming = &mut out.incoming[nd as usize];
        match slot.get(&(ns, nd)) {
            Some(&i) => incoming[i].1.fold(spec),
            None => {
                slot.insert((ns, nd), incoming.len());
                incoming.push((ns, spec.clone()));
                out.dag_edges += 1;
            }
        }
    }
    out
}

/// Kahn's algorithm: every node once, each after all its parents, first-seen order on ties.
fn topological_order(incoming: &[Vec<(u32, EdgeSpec)>]) -> Vec<u32> {
    let mut children: Vec<Vec<u32>> = vec![Vec::new(); incoming.len()];
    let mut indegree = vec![0u32; incoming.len()];
    for (child, parents) in incoming.iter().enumerate() {
        for (p, _) in parents {
            children[*p as usize].push(child as u32);
            indegree[child] += 1;
        }
    }
    let mut order: Vec<u32> = (0..incoming.len() as u32)
        .filter(|&i| indegree[i as usize] == 0)
        .collect();
    let mut head = 0;
    while head < order.len() {
        let n = order[head];
        head += 1;
        for &c in &children[n as usize] {
            indegree[c as usize] -= 1;
            if indegree[c as usize] == 0 {
                order.push(c);
            }
        }
    }
    order
}

/// Edges on the longest path, walking `order` (parents first).
fn longest_path(order: &[u32], incoming: &[Vec<(u32, EdgeSpec)>]) -> u32 {
    let mut depth = vec![0u32; incoming.len()];
    let mut longest = 0;
    for &n in order {
        let d = incoming[n as usize]
            .iter()
            .map(|(p, _)| depth[*p as usize] + 1)
            .max()
            .unwrap_or(0);
        depth[n as usize] = d;
        longest = longest.max(d);
    }
    longest
}

/// Strongly connected components (Tarjan, iterative). Returns a component number per vertex.
fn tarjan(n: usize, start: &[u32], adj: &[u32]) -> Vec<u32> {
    const UNSEEN: u32 = u32::MAX;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut comp = vec![UNSEEN; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut calls: Vec<(u32, u32)> = Vec::new();
    let mut counter = 0u32;
    let mut comps = 0u32;
    for root in 0..n as u32 {
        if index[root as usize] != UNSEEN {
            continue;
        }
        index[root as usize] = counter;
        low[root as usize] = counter;
        counter += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        calls.push((root, start[root as usize]));
        while let Some(top) = calls.last_mut() {
            let v = top.0;
            if top.1 < start[v as usize + 1] {
                let w = adj[top.1 as usize];
                top.1 += 1;
                if index[w as usize] == UNSEEN {
                    index[w as usize] = counter;
                    low[w as usize] = counter;
                    counter += 1;
                    stack.push(w);
                    on_stack[w as usize] = true;
                    calls.push((w, start[w as usize]));
                } else if on_stack[w as usize] {
                    low[v as usize] = low[v as usize].min(index[w as usize]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent as usize] = low[parent as usize].min(low[v as usize]);
            }
            if low[v as usize] == index[v as usize] {
                while let Some(w) = stack.pop() {
                    on_stack[w as usize] = false;
                    comp[w as usize] = comps;
                    if w == v {
                        break;
                    }
                }
                comps += 1;
            }
        }
    }
    comp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep() -> EdgeSpec {
        EdgeSpec::new(false, vec![])
    }

    #[test]
    fn spec_fold_deep_and_unfiltered_win() {
        let mut a = EdgeSpec::new(true, vec![2, 1]);
        a.fold(&EdgeSpec::new(true, vec![3, 1]));
        assert_eq!(a, EdgeSpec::new(true, vec![1, 2, 3]));
        a.fold(&EdgeSpec::new(false, vec![4]));
        assert!(!a.shallow);
        assert_eq!(a.filter, Some(vec![1, 2, 3, 4]));
        a.fold(&EdgeSpec::new(true, vec![]));
        assert_eq!(a, EdgeSpec::new(false, vec![]));
        // An unfiltered spec stays unfiltered when a filtered duplicate is folded in.
        let mut b = EdgeSpec::new(true, vec![]);
        b.fold(&EdgeSpec::new(true, vec![7]));
        assert_eq!(b.filter, None);
        assert!(b.admits(99));
        assert!(!EdgeSpec::new(false, vec![7]).admits(8));
    }

    #[test]
    fn chain_is_ordered_and_measured() {
        // 0 → 1 → 2, 3 → 2
        let dag = collapse(&[(0, 1, deep()), (1, 2, deep()), (3, 2, deep())]);
        assert_eq!(dag.nodes, vec![vec![0], vec![1], vec![2], vec![3]]);
        assert_eq!(dag.cycles, 0);
        assert_eq!(dag.longest_path, 2);
        let pos = |n: u32| dag.order.iter().position(|&x| x == n).unwrap();
        assert!(pos(0) < pos(1) && pos(1) < pos(2) && pos(3) < pos(2));
    }

    #[test]
    fn cycle_collapses_and_boundary_edges_fold() {
        // X(0) → A(1) ↔ B(2) → D(3); X → B as well, shallow and filtered.
        let dag = collapse(&[
            (0, 1, EdgeSpec::new(true, vec![5])),
            (1, 2, deep()),
            (2, 1, deep()),
            (2, 3, deep()),
            (0, 2, EdgeSpec::new(true, vec![6])),
        ]);
        assert_eq!(dag.cycles, 1);
        assert_eq!(dag.inner_edges, 2);
        let ab = dag.nodes.iter().position(|n| n.len() == 2).unwrap();
        let mut members = dag.nodes[ab].clone();
        members.sort();
        assert_eq!(members, vec![1, 2]);
        // The two X edges into {A, B} fold into one: still shallow, filter union.
        assert_eq!(dag.incoming[ab], vec![(0, EdgeSpec::new(true, vec![5, 6]))]);
        assert_eq!(dag.edges, 2);
        assert_eq!(dag.longest_path, 2);
    }

    #[test]
    fn self_edge_is_a_cycle_of_one() {
        let dag = collapse(&[(0, 0, deep()), (0, 1, deep())]);
        assert_eq!(dag.cycles, 1);
        assert_eq!(dag.inner_edges, 1);
        assert_eq!(dag.nodes.len(), 2);
        assert!(dag.incoming[0].is_empty());
    }

    #[test]
    fn long_cycle_is_one_node() {
        let n = 50_000u32;
        let mut edges: Vec<_> = (0..n).map(|i| (i, (i + 1) % n, deep())).collect();
        edges.push((n, 0, deep()));
        let dag = collapse(&edges);
        assert_eq!(dag.cycles, 1);
        assert_eq!(dag.nodes.len(), 2);
        assert_eq!(dag.longest_path, 1);
    }
}
