// SPDX-License-Identifier: GPL-2.0-only
/** One test per uapi struct: sizeof, member order, offsetof/offsetofend against the C header's values. */
import type { TestFn } from 'ava';
import { StructLayout, offsetof, offsetofend, sizeof } from '../abi';

export interface LayoutCase {
  layout: StructLayout<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  size: number;
  /** member → [offsetof, offsetofend]; `null` end marks the flexible array member. */
  fields: Record<string, [number, number | null]>;
  /** iommufd_ioctl_ops min_size = offsetofend(struct, last) */
  last?: [string, number];
}

export function testLayouts(test: TestFn, layouts: readonly LayoutCase[]): void {
  for (const c of layouts) {
    test(`struct ${c.layout.name} matches the C layout`, (t) => {
      t.is(sizeof(c.layout), c.size, 'sizeof');
      t.deepEqual(
        c.layout.members.map((m) => m.name),
        Object.keys(c.fields),
        'every member, in order',
      );
      for (const [f, [off, end]] of Object.entries(c.fields)) {
        t.is(offsetof(c.layout, f), off, `offsetof ${f}`);
        if (end === null) t.is(c.layout.members.at(-1)?.type.kind, 'flex', `${f} is a flexible array`);
        else t.is(offsetofend(c.layout, f), end, `offsetofend ${f}`);
      }
      if (c.last) t.is(offsetofend(c.layout, c.last[0]), c.last[1], `min_size via ${c.last[0]}`);
    });
  }
}
