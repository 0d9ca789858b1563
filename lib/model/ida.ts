// SPDX-License-Identifier: GPL-2.0-only
/** `ida_alloc()`: the lowest free non-negative id; `ida_free()` makes it reusable. @see lib/idr.c */
export class Ida {
  private readonly used = new Set<number>();

  alloc(): number {
    let id = 0;
    while (this.used.has(id)) id++;
    this.used.add(id);
    return id;
  }

  free(id: number): void {
    this.used.delete(id);
  }

  has(id: number): boolean {
    return this.used.has(id);
  }
}
