// SPDX-License-Identifier: GPL-2.0-only
/** docs/topology.md stays true: its examples load, and it names every field of the schema. */
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createMachine } from '../machine';
import { TOPOLOGY_GUIDE, parseTopology } from './topology';
import schema from './schema.json';

const guide = fs.readFileSync(path.join(__dirname, '..', '..', TOPOLOGY_GUIDE), 'utf8');
const examples = [...guide.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

test('the guide has a worked example per platform', (t) => {
  const drivers = new Set(examples.flatMap((e) => [...e.matchAll(/driver: ([\w-]+-iommu|arm-smmu-v3|apple-dart)/g)].map((m) => m[1])));
  for (const d of ['intel-iommu', 'amd-iommu', 'arm-smmu-v3', 'virtio-iommu', 's390-iommu', 'apple-dart']) t.true(drivers.has(d), d);
});

examples.forEach((text, i) => {
  const name = /^name: (\S+)/m.exec(text)?.[1] ?? `kernel block ${i}`;
  test(`guide example ${name} loads and builds a machine with groups`, (t) => {
    if (!/^name:/m.test(text)) {
      // A fragment (the kernel object): it must be valid inside a host.
      const doc = `name: x\narch: x86_64\niommus: []\ndevices: []\n${text}`;
      t.notThrows(() => parseTopology(doc, { file: 'guide.yaml' }));
      return;
    }
    const m = createMachine(parseTopology(text, { file: `${name}.yaml` }));
    t.true(m.host.groups().length > 0);
  });
});

test('the guide names every field of the topology schema', (t) => {
  const names = new Set<string>();
  const walk = (o: Record<string, any>): void => { // eslint-disable-line @typescript-eslint/no-explicit-any
    for (const [k, v] of Object.entries(o.properties ?? {})) {
      names.add(k);
      walk(v as Record<string, unknown>);
      if ((v as { items?: unknown }).items) walk((v as { items: Record<string, unknown> }).items);
    }
    for (const b of o.anyOf ?? []) walk(b);
  };
  walk(schema);
  const missing = [...names].filter((n) => !guide.includes(`\`${n}\``) && !guide.includes(`${n}:`));
  t.deepEqual(missing, []);
});
