"""The fixed summation tree over a global batch's micro-batches.

A global batch of K micro-batches is summed in one binary tree over the micro-batch index:
node [lo, hi) is the sum of its children [lo, mid) and [mid, hi), mid = (lo + hi) // 2, a leaf
[k, k + 1) is micro-batch k's gradient sum. The tree depends on K only, never on the number of
processes, so the root has the same bits however the leaves are spread: a process that owns
the contiguous leaves [a, b) sums the largest whole subtrees inside them (`cover`), and whoever
holds every subtree of a partition of [0, K) finishes the sum in the same tree (`combine`).
Addition is element-wise, so a slice of the parameters can be summed the same way.

The core computes a rank's subtree sums itself (Network.tree_gradient, cpp/network/
gradient_tree.hpp: the same tree, rounded the same way); `subtree_sum` is the reference it is
tested against, and `combine_into` finishes a segment from the ranks' parts in reused buffers
(`combine_halves` all but its last addition, which the update then makes as it reads them).
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

__all__ = ["Node", "cover", "subtree_sum", "combine", "combine_into", "combine_halves"]

Node = Tuple[int, int]


def cover(a: int, b: int, k: int) -> List[Node]:
    """The maximal subtrees of the tree over [0, k) that lie inside [a, b), left to right."""
    nodes: List[Node] = []

    def visit(lo: int, hi: int) -> None:
        if hi <= a or lo >= b:
            return
        if a <= lo and hi <= b:
            nodes.append((lo, hi))
            return
        mid = (lo + hi) // 2
        visit(lo, mid)
        visit(mid, hi)

    if a < b:
        visit(0, k)
    return nodes


def subtree_sum(node: Node, leaf: Callable[[int], np.ndarray]) -> np.ndarray:
    """The sum of the leaves under `node` in tree order; leaf(k) gives leaf k (a fresh array
    this function may overwrite)."""
    lo, hi = node
    if hi - lo == 1:
        return leaf(lo)
    mid = (lo + hi) // 2
    left = subtree_sum((lo, mid), leaf)
    left += subtree_sum((mid, hi), leaf)
    return left


def combine(parts: Dict[Node, np.ndarray], k: int) -> np.ndarray:
    """The root of the tree over [0, k) from the sums of subtrees that partition [0, k)."""
    some = next(iter(parts.values()))
    out = np.empty_like(some)
    return combine_into(parts, k, out, lambda level: np.empty_like(some))


def combine_into(parts: Dict[Node, np.ndarray], k: int, out: np.ndarray,
                 scratch: Callable[[int], np.ndarray]) -> np.ndarray:
    """combine into `out`, the parts only read: scratch(level) gives an array like out for
    the partial sums at that depth (the caller may keep them between calls)."""
    root = _node(parts, 0, k, 0, out, scratch)
    if root is not out:
        np.copyto(out, root)
    return out


def combine_halves(parts: Dict[Node, np.ndarray], k: int, out: np.ndarray,
                   scratch: Callable[[int], np.ndarray]) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """The root's two children (left, right), its last addition left to the caller (to fuse it
    with what follows), or (root, None) where one part is the whole root. Like combine_into: the
    parts only read, `out` and the scratch arrays written."""
    root = parts.get((0, k))
    if root is not None:
        return root, None
    mid = k // 2
    return _node(parts, 0, mid, 1, scratch(0), scratch), _node(parts, mid, k, 1, out, scratch)


def _node(parts: Dict[Node, np.ndarray], lo: int, hi: int, level: int, into: np.ndarray,
          scratch: Callable[[int], np.ndarray]) -> np.ndarray:
    """Node [lo, hi), in `into` or a part. Writes only `into` and scratch(level' >= level): the
    left half goes where the sum goes, the right half one level further."""
    part = parts.get((lo, hi))
    if part is not None:
        return part
    if hi - lo <= 1:
        raise ValueError(f"combine: leaf {lo} is in no part")
    mid = (lo + hi) // 2
    left = _node(parts, lo, mid, level + 1, into, scratch)
    right = _node(parts, mid, hi, level + 1, scratch(level), scratch)
    return np.add(left, right, out=into)
