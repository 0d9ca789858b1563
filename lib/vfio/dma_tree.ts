// SPDX-License-Identifier: GPL-2.0-only
/**
 * The type1 container's `struct rb_root dma_list`: disjoint mappings ordered by IOVA, every
 * lookup, insertion and removal O(log n). An AVL tree stands in for the kernel's red-black tree;
 * which overlapping node a lookup returns never shows through the ABI (see findOverlap).
 * @see drivers/vfio/vfio_iommu_type1.c:vfio_find_dma, vfio_find_dma_first_node, vfio_link_dma
 */

export interface DmaRange {
  readonly iova: bigint;
  /** Bytes; never 0 once linked. */
  readonly size: bigint;
}

interface Node<T extends DmaRange> {
  item: T;
  left: Node<T> | null;
  right: Node<T> | null;
  height: number;
}

const h = <T extends DmaRange>(n: Node<T> | null): number => (n ? n.height : 0);

function fix<T extends DmaRange>(n: Node<T>): Node<T> {
  n.height = Math.max(h(n.left), h(n.right)) + 1;
  return n;
}

function rotRight<T extends DmaRange>(n: Node<T>): Node<T> {
  const l = n.left!;
  n.left = l.right;
  l.right = fix(n);
  return fix(l);
}

function rotLeft<T extends DmaRange>(n: Node<T>): Node<T> {
  const r = n.right!;
  n.right = r.left;
  r.left = fix(n);
  return fix(r);
}

function balance<T extends DmaRange>(n: Node<T>): Node<T> {
  fix(n);
  const bf = h(n.left) - h(n.right);
  if (bf > 1) {
    if (h(n.left!.left) < h(n.left!.right)) n.left = rotLeft(n.left!);
    return rotRight(n);
  }
  if (bf < -1) {
    if (h(n.right!.right) < h(n.right!.left)) n.right = rotRight(n.right!);
    return rotLeft(n);
  }
  return n;
}

export class DmaTree<T extends DmaRange> {
  private root: Node<T> | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The caller guarantees `item` overlaps nothing already linked. */
  insert(item: T): void {
    const ins = (n: Node<T> | null): Node<T> => {
      if (!n) return { item, left: null, right: null, height: 1 };
      if (item.iova < n.item.iova) n.left = ins(n.left);
      else n.right = ins(n.right);
      return balance(n);
    };
    this.root = ins(this.root);
    this.count++;
  }

  remove(item: T): void {
    const key = item.iova;
    const popMin = (n: Node<T>): [Node<T> | null, Node<T>] => {
      if (!n.left) return [n.right, n];
      const [l, min] = popMin(n.left);
      n.left = l;
      return [balance(n), min];
    };
    const del = (n: Node<T> | null): Node<T> | null => {
      if (!n) return null;
      if (key < n.item.iova) n.left = del(n.left);
      else if (key > n.item.iova) n.right = del(n.right);
      else {
        this.count--;
        if (!n.left || !n.right) return n.left ?? n.right;
        const [r, min] = popMin(n.right);
        min.left = n.left;
        min.right = r;
        return balance(min);
      }
      return balance(n);
    };
    this.root = del(this.root);
  }

  clear(): void {
    this.root = null;
    this.count = 0;
  }

  /**
   * A mapping overlapping `[start, last]`, if any. With disjoint nodes the only candidate is the
   * last one starting at or below `last`, so the answer is unique whenever it matters to the
   * ABI (an exact match, or "any overlap at all").
   */
  findOverlap(start: bigint, last: bigint): T | undefined {
    const f = this.floor(last);
    return f && f.iova + f.size - 1n >= start ? f : undefined;
  }

  /** The mapping containing `addr`. */
  findContaining(addr: bigint): T | undefined {
    return this.findOverlap(addr, addr);
  }

  /** The lowest mapping overlapping `[start, last]`. @see vfio_find_dma_first_node */
  firstOverlapping(start: bigint, last: bigint): T | undefined {
    const f = this.floor(start);
    const first = f && f.iova + f.size - 1n >= start ? f : this.ceiling(start);
    return first && first.iova <= last ? first : undefined;
  }

  /** The next mapping above `item` (rb_next). */
  next(item: T): T | undefined {
    return this.ceiling(item.iova + 1n);
  }

  /** Last mapping with `iova <= key`. */
  floor(key: bigint): T | undefined {
    let n = this.root;
    let best: T | undefined;
    while (n) {
      if (n.item.iova <= key) {
        best = n.item;
        n = n.right;
      } else n = n.left;
    }
    return best;
  }

  /** First mapping with `iova >= key`. */
  ceiling(key: bigint): T | undefined {
    let n = this.root;
    let best: T | undefined;
    while (n) {
      if (n.item.iova >= key) {
        best = n.item;
        n = n.left;
      } else n = n.right;
    }
    return best;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    const stack: Node<T>[] = [];
    let n = this.root;
    while (n || stack.length) {
      while (n) {
        stack.push(n);
        n = n.left;
      }
      const top = stack.pop()!;
      yield top.item;
      n = top.right;
    }
  }

  /** Tree height, for the balance tests. */
  get height(): number {
    return h(this.root);
  }
}
